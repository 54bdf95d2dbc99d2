"""The smaller points a newcomer tripped on, one test each (no Ray): the bundle's data card
names its data by an absolute path (and says so when it is gone), codegen renders at the
sizes of ``--data``, unknown page ids are an error, loading a bundle writes nothing into
it, run-dir files are readable (0644 under umask 022) and trial names carry the 12-digit
key the README names."""

from __future__ import annotations

import importlib.util
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from autorec.cli.app import app
from autorec.data import load_session_data, write_events
from autorec.data.synthetic import synthesize_sessions
from autorec.errors import AutorecError
from autorec.export import export_bundle, recommend
from autorec.genome import load_genome
from autorec.train import TrainOptions, train_genome
from autorec.train.saving import save_trained
from autorec.tune._rundir import RunDir
from autorec.tune._trainable import trial_name

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small events file, a network trained on it from a relative path, its bundle."""
    root = tmp_path_factory.mktemp("points")
    events = synthesize_sessions(
        np.random.default_rng(3), n_sessions=400, n_items=60, n_users=80, days=30
    )
    write_events(events, root / "events.csv")
    old = Path.cwd()
    os.chdir(root)
    try:
        data = load_session_data("events.csv", None)
        genome = load_genome(REPO / "examples" / "genomes" / "drnn_tiny.yaml")
        result = train_genome(genome, data, TrainOptions(max_epochs=2, test=False))
        save_trained(result, "saved", data={"path": "events.csv", "split": None})
        summary = export_bundle("saved", "bundle")
    finally:
        os.chdir(old)
    return {"root": root, "data": data, "summary": summary}


def test_data_card_stores_an_absolute_path(exported: dict[str, Any], tmp_path: Path) -> None:
    root = exported["root"]
    card = exported["summary"]["data_card"]
    assert card["data"] == str((root / "events.csv").resolve())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    old = Path.cwd()
    os.chdir(elsewhere)  # `autorec recommend bundle/` from another folder
    try:
        out = recommend(root / "bundle", elsewhere / "recs.sqlite", k=5)
    finally:
        os.chdir(old)
    assert out["data"] == card["data"] and (elsewhere / "recs.sqlite").is_file()


def test_missing_card_data_names_the_card_not_an_option(
    exported: dict[str, Any], tmp_path: Path
) -> None:
    root = exported["root"]
    moved = root / "events-moved.csv"
    (root / "events.csv").rename(moved)
    try:
        with pytest.raises(AutorecError) as err:
            recommend(root / "bundle", tmp_path / "recs.sqlite", k=5)
    finally:
        moved.rename(root / "events.csv")
    text = str(err.value)
    assert "data_card.json" in text and "pass --data PATH" in text and "omit --data" not in text


def test_codegen_renders_at_the_sizes_of_data(exported: dict[str, Any]) -> None:
    root = exported["root"]
    genome = str(REPO / "examples" / "genomes" / "yoochoose_drnn.yaml")
    items = len(exported["data"].split.train.items)
    assert items != 300  # not the synthetic default's catalogue
    result = runner.invoke(app, ["codegen", genome, "--data", str(root / "events.csv")])
    assert result.exit_code == 0, result.output
    assert f"n_items={items}," in result.stdout


def _load_py(bundle: Path) -> Any:
    spec = importlib.util.spec_from_file_location("bundle_load_test", bundle / "load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_unknown_page_ids_are_an_error_and_loading_writes_nothing(
    exported: dict[str, Any],
) -> None:
    bundle_dir = exported["root"] / "bundle"
    before = sorted(p.name for p in bundle_dir.iterdir())
    load = _load_py(bundle_dir)
    bundle = load.load(str(bundle_dir))
    assert sorted(p.name for p in bundle_dir.iterdir()) == before  # no __pycache__/
    pages = bundle.page_ids[:2]
    assert len(bundle.score_session(pages)) == len(bundle.item_ids)
    with pytest.raises(load.BundleError, match="unknown page id"):
        bundle.score_session([pages[0], "no-such-page"])


def test_run_dir_files_are_readable_by_others(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        rd = RunDir(tmp_path / "run")
        rd.write_config({"space": "drnn"})
        rd.write_json(rd.logbook, {"generations": []})
    finally:
        os.umask(old)
    for path in (rd.config, rd.logbook):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_trial_names_carry_the_12_digit_key() -> None:
    name = trial_name(
        {
            "generation": 1,
            "family": "drnn",
            "width": 2,
            "length": 1,
            "height": 0,
            "genome_key": "0123456789ab",
        }
    )
    assert name == "g1-drnn-w2l1h0-0123456789ab"
    genomes_doc = (REPO / "docs" / "genomes.md").read_text()
    assert "(12 hex digits, shown\nin run directories and trial names)" in genomes_doc
