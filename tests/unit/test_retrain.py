"""``autorec retrain``: weights carried over by raw id into a new catalogue (new items fresh,
vanished ones dropped, padding rows kept), the parent re-scored on new data, the new bundle
linking its parent, and the "after M new sessions" gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _serve_fixtures import DRNN, PREDICTOR, first_sessions, tiny_trained_bundle
from typer.testing import CliRunner

from autorec.data import load_family_data
from autorec.export import load_bundle
from autorec.genome import Genome
from autorec.serve import axis_roles, parent_metrics, transfer_weights
from autorec.train import _batching


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("retrain")
    return {
        "drnn": tiny_trained_bundle(root, DRNN),
        "predictor": tiny_trained_bundle(root, PREDICTOR),
    }


def _new_catalogue(old: np.ndarray, tag: str) -> np.ndarray:
    """``old`` reversed, its first 10 ids gone, 5 new ones in the middle."""
    kept = list(old[10:][::-1])
    return np.array(kept[:7] + [f"new-{tag}-{i}" for i in range(5)] + kept[7:], dtype=np.str_)


@pytest.mark.parametrize("family", ["drnn", "predictor"])
def test_rows_follow_their_raw_ids(family: str, bundles: dict[str, Path]) -> None:
    parent = load_bundle(bundles[family])
    genome = Genome.from_dict(parent.genome)
    items = _new_catalogue(parent.item_ids, "item")
    pages = None if parent.page_ids is None else _new_catalogue(parent.page_ids, "page")
    dims = {
        "n_items": len(items),
        "n_pages": 0 if pages is None else len(pages),
        "n_users": int(parent.manifest["dims"]["n_users"]),
    }
    torch.manual_seed(1)
    child = _batching.build(genome, dims)
    fresh = {k: v.clone() for k, v in child.state_dict().items()}
    roles = axis_roles(genome)
    report = transfer_weights(child, parent, genome, items, pages, roles)
    assert report.items == {"kept": len(parent.item_ids) - 10, "new": 5, "dropped": 10}
    assert not report.fresh and report.remapped
    src, got = parent.model.state_dict(), child.state_dict()
    ids = {"items": (items, parent.item_ids), "pages": (pages, parent.page_ids)}
    for name in report.remapped:
        (axis,) = [d for d, (role, _) in enumerate(roles[name]) if role != "fixed"]
        role, offset = roles[name][axis]
        new_ids, old_ids = ids[role]
        assert new_ids is not None and old_ids is not None
        where = {str(v): j for j, v in enumerate(old_ids)}
        for j, raw in enumerate(new_ids):
            row = got[name].select(axis, j)
            if raw in where:  # a kept item: the parent's row for the same raw id
                torch.testing.assert_close(row, src[name].select(axis, where[raw]), rtol=0, atol=0)
            else:  # a new item: the fresh initialisation stays
                torch.testing.assert_close(row, fresh[name].select(axis, j), rtol=0, atol=0)
        for extra in range(offset):  # padding rows after the catalogue, by position
            torch.testing.assert_close(
                got[name].select(axis, len(new_ids) + extra),
                src[name].select(axis, len(old_ids) + extra),
                rtol=0,
                atol=0,
            )
    for name in report.copied:
        torch.testing.assert_close(got[name], src[name], rtol=0, atol=0)


@pytest.mark.parametrize("family", ["drnn", "predictor"])
def test_parent_rescored_on_its_own_data_matches_its_test_metrics(
    family: str, bundles: dict[str, Path]
) -> None:
    parent = load_bundle(bundles[family])
    genome = Genome.from_dict(parent.genome)
    data = load_family_data(family, None, None)
    if family == "drnn":
        data = first_sessions(data, 150)  # what the fixture trained and tested on
    got = parent_metrics(parent, genome, data)
    want = parent.metrics["test_metrics"]
    key = "top1" if family == "drnn" else "precision@10"
    assert got[key] == pytest.approx(want[key], abs=1e-12)


def _invoke(*args: str) -> Any:
    from autorec.cli.app import app

    return CliRunner().invoke(app, list(args))


def test_retrain_writes_a_child_bundle_linked_to_its_parent(
    bundles: dict[str, Path], tmp_path: Path
) -> None:
    parent = bundles["predictor"]
    out = tmp_path / "child"
    r = _invoke("retrain", str(parent), "--out", str(out), "--epochs", "1", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["retrained"] and summary["transfer"]["items"]["new"] == 0
    for side in ("warm", "scratch", "parent_on_new_test"):
        assert "precision@10" in summary[side]["test_metrics"], side
    assert summary["warm"]["wall_s"] > 0 and summary["scratch"]["wall_s"] > 0
    child = load_bundle(out)
    card = child.data_card
    assert card["parent"]["model_version"] == load_bundle(parent).model_version
    assert card["retrain"]["scratch"]["test_metrics"] == summary["scratch"]["test_metrics"]
    assert child.model_version == summary["model_version"]
    assert child.genome == load_bundle(parent).genome


def test_retrain_waits_for_enough_new_sessions(bundles: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "child"
    r = _invoke(
        "retrain", str(bundles["drnn"]), "--out", str(out),
        "--since", "2100-01-01", "--min-new", "1000",
    )  # fmt: skip
    assert r.exit_code == 0 and "not retrained: 0 new sessions since 2100-01-01" in r.output
    assert not out.exists()
    r = _invoke("retrain", str(bundles["drnn"]), "--out", str(out), "--min-new", "5")
    assert r.exit_code == 2 and "--since" in r.output
    r = _invoke("retrain", str(bundles["drnn"]), "--out", str(out), "--since", "June")
    assert r.exit_code == 2 and "not an ISO date" in r.output


def test_count_new_counts_sessions_and_purchases() -> None:
    from datetime import datetime, timezone

    from autorec.serve import count_new

    sessions = load_family_data("drnn", None, None)
    s = sessions.split  # type: ignore[union-attr]
    every = s.train.n_sessions + s.valid.n_sessions + s.test.n_sessions
    assert count_new(sessions, datetime(1970, 1, 2, tzinfo=timezone.utc)) == every
    assert count_new(sessions, s.test_start) == s.test.n_sessions
    purchases = load_family_data("predictor", None, None)
    log = purchases.log  # type: ignore[union-attr]
    assert count_new(purchases, datetime(1970, 1, 2, tzinfo=timezone.utc)) == len(log.time)
