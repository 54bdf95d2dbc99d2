"""End to end on tiny synthetic data: train → save → export → load in a torch-only process →
the same scores within 1e-6; recommend's Precision@10 equals the trainer's."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from test_standalone import GUARD

from autorec.data import load_purchase_data, load_session_data, session_samples, subset_sessions
from autorec.data.types import SessionData
from autorec.export import export_bundle, load_bundle, read_recommendations, recommend
from autorec.genome import Genome
from autorec.models import batches
from autorec.train import TrainOptions
from autorec.train._trainer import train_genome
from autorec.train.saving import save_trained

DRIVER = """
import importlib.util, json, sys
bundle_dir, inputs = sys.argv[1], json.load(open(sys.argv[2]))
spec = importlib.util.spec_from_file_location("bundle_load", bundle_dir + "/load.py")
load = importlib.util.module_from_spec(spec); spec.loader.exec_module(load)
b = load.load(bundle_dir)
out = []
for case in inputs:
    if b.family == "drnn":
        s = b.score_session(case["pages"], case["dwell"], case.get("history", []))
    else:
        s = b.score_customer(case["items"], case["ages"])
    out.append([float(v) for v in s])
print(json.dumps(out))
"""


def standalone_scores(bundle: Path, cases: list[dict[str, Any]], tmp: Path) -> torch.Tensor:
    (tmp / "driver.py").write_text(DRIVER)
    (tmp / "inputs.json").write_text(json.dumps(cases))
    proc = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            GUARD,
            str(tmp / "driver.py"),
            str(bundle),
            str(tmp / "inputs.json"),
        ],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    return torch.tensor(json.loads(proc.stdout), dtype=torch.float32)


def test_purchases_train_export_standalone_recommend(tmp_path: Path) -> None:
    data = load_purchase_data(None)
    genome = Genome.from_dict(
        {
            "family": "predictor",
            "layers": 1,
            "units_1": 16,
            "decay_mode": "parametric",
            "batch_size": 64,
            "optimizer": "adam",
            "learning_rate": 0.01,
        }
    )
    options = TrainOptions(max_epochs=2, seed=0, threads=1)
    result = train_genome(genome, data, options)
    assert result.model is not None and result.status in ("ok", "unsettled"), result.error
    save_trained(result, tmp_path / "saved", data={"path": None, "split": None}, options=options)
    out = export_bundle(tmp_path / "saved", tmp_path / "bundle")
    bundle = load_bundle(tmp_path / "bundle")
    assert out["manifest"]["model_version"] == bundle.model_version

    test = data.protocol.test
    rows = np.arange(6, dtype=np.int64)
    batch = batches.purchase_batch(test, rows)
    ours = bundle.score(batch)
    with torch.no_grad():
        torch.testing.assert_close(ours, result.model(batch), atol=1e-6, rtol=0)
    raw = data.log.items.raw[data.protocol.catalogue]
    cases = [
        {
            "items": raw[test.input_item[test.input_ptr[c] : test.input_ptr[c + 1]]].tolist(),
            "ages": test.input_age_days[test.input_ptr[c] : test.input_ptr[c + 1]].tolist(),
        }
        for c in rows
    ]
    theirs = standalone_scores(tmp_path / "bundle", cases, tmp_path)
    # the same inputs: one customer per forward pass on both sides (a batched matmul may
    # round differently in the last float32 bit)
    one_by_one = torch.cat(
        [bundle.score(batches.purchase_batch(test, rows[i : i + 1])) for i in range(len(rows))]
    )
    torch.testing.assert_close(theirs, one_by_one, atol=1e-6, rtol=0)

    summary = recommend(bundle, tmp_path / "test.sqlite", protocol_test=True, k=10)
    assert summary["metrics"]["precision@10"] == pytest.approx(
        result.test_metrics["precision@10"], abs=1e-12
    )
    assert summary["metrics"]["already_bought"] == 0
    recs = read_recommendations(tmp_path / "test.sqlite")
    assert len(recs["rank"]) == 10 * test.n_customers

    # production mode: every customer with purchases in the latest XY-long window
    latest = recommend(bundle, tmp_path / "recs.parquet", k=5, batch_size=100)
    recs = read_recommendations(tmp_path / "recs.parquet")
    pairs = set(zip(recs["entity_id"].tolist(), recs["rank"].tolist(), strict=True))
    assert len(pairs) == len(recs["rank"]) == latest["rows"] == 5 * latest["entities"]


def _small_sessions(n: int) -> SessionData:
    data = load_session_data(None)
    s = data.split
    train = subset_sessions(s.train, np.arange(min(n, s.train.n_sessions), dtype=np.int64))
    valid = subset_sessions(s.valid, np.arange(min(n // 2, s.valid.n_sessions), dtype=np.int64))
    test = subset_sessions(s.test, np.arange(min(n // 2, s.test.n_sessions), dtype=np.int64))
    return SessionData(
        split=replace(s, train=train, valid=valid, test=test),
        train_samples=session_samples(train),
        valid_samples=session_samples(valid),
        test_samples=session_samples(test),
        source=data.source,
    )


def test_sessions_train_export_standalone_recommend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _small_sessions(150)
    genome = Genome.from_dict(
        {
            "family": "drnn",
            "width": 2,
            "length": 1,
            "units_1": 8,
            "fnn": True,
            "fnn_layers": 1,
            "fnn_units": 8,
            "view_path": True,
            "batch_size": 64,
            "optimizer": "adam",
            "learning_rate": 0.01,
        }
    )
    options = TrainOptions(max_epochs=1, seed=0, threads=1)
    result = train_genome(genome, data, options)
    assert result.model is not None and result.status in ("ok", "unsettled"), result.error
    save_trained(result, tmp_path / "saved", data={"path": None, "split": None}, options=options)
    import autorec.export._export as ex

    monkeypatch.setattr(ex, "load_family_data", lambda *a, **k: data)
    export_bundle(tmp_path / "saved", tmp_path / "bundle")
    bundle = load_bundle(tmp_path / "bundle")

    log = data.split.test
    full = np.diff(log.page_ptr)
    sessions = np.flatnonzero(full > 3)[:4]
    samples = replace(
        data.test_samples, session=sessions.astype(np.int64), length=full[sessions].astype(np.int64)
    )
    rows = np.arange(len(sessions), dtype=np.int64)
    batch = batches.session_batch(log, samples, rows, width=2)
    ours = bundle.score(batch)
    with torch.no_grad():
        torch.testing.assert_close(ours, result.model(batch), atol=1e-6, rtol=0)
    cases = []
    for s in sessions:
        a, b = log.page_ptr[s], log.page_ptr[s + 1]
        cases.append(
            {
                "pages": log.pages.raw[log.page[a:b]].tolist(),
                "dwell": [float(x) for x in log.dwell[a:b]],
            }
        )
    theirs = standalone_scores(tmp_path / "bundle", cases, tmp_path)
    # the FNN input (items the user bought before the session) comes from the log in autorec
    hist = [
        bundle.item_ids[
            batch["user_idx"][
                batch["user_offsets"][i] : (
                    batch["user_offsets"][i + 1] if i + 1 < len(sessions) else None
                )
            ].numpy()
        ].tolist()
        for i in range(len(sessions))
    ]
    if any(hist):
        for case, h in zip(cases, hist, strict=True):
            case["history"] = h
        theirs = standalone_scores(tmp_path / "bundle", cases, tmp_path)
    one_by_one = torch.cat(
        [
            bundle.score(batches.session_batch(log, samples, rows[i : i + 1], width=2))
            for i in range(len(rows))
        ]
    )
    torch.testing.assert_close(theirs, one_by_one, atol=1e-6, rtol=0)

    summary = recommend(bundle, tmp_path / "recs.sqlite", k=3)
    recs = read_recommendations(tmp_path / "recs.sqlite")
    full_split = load_session_data(None).split  # recommend reads the card's (full) data
    logs = (full_split.train, full_split.valid, full_split.test)
    assert summary["entities"] + summary["skipped"] == sum(lg.n_sessions for lg in logs)
    assert len(recs["rank"]) == 3 * summary["entities"]
    assert set(recs["entity_id"].tolist()) <= set(np.concatenate([lg.session_ids for lg in logs]))


def test_export_from_search_run_dir(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(
        yaml.safe_dump({"data": None, "split": None, "seed": 0, "epochs": 1, "space": "predictor"})
    )
    Genome.from_dict({"family": "predictor", "layers": 1, "units_1": 8, "batch_size": 128}).to_yaml(
        run / "best_genome.yaml"
    )
    out = export_bundle(run, tmp_path / "bundle")
    assert out["data_card"]["how"].startswith("retrained")
    assert load_bundle(tmp_path / "bundle").n_items == out["manifest"]["n_items"]


ML100K_SPLIT = "1997-09-19,1998-03-26,1998-04-09,1998-04-23"


@pytest.mark.shared_data
def test_ml100k_recommend_precision_equals_train(tmp_path: Path, shared_data: Path) -> None:
    """recommend on ml-100k writes one row per (customer, rank), no
    already-bought item, and its Precision@10 on the test window equals the trainer's."""
    path = str(shared_data / "ml-100k")
    data = load_purchase_data(path, ML100K_SPLIT)
    genome = Genome.from_dict(
        {
            "family": "predictor",
            "layers": 1,
            "units_1": 64,
            "decay_mode": "parametric",
            "batch_size": 32,
            "optimizer": "adam",
            "learning_rate": 0.003,
        }
    )
    options = TrainOptions(max_epochs=4, seed=0, threads=1)
    result = train_genome(genome, data, options)
    assert result.model is not None, result.error
    save_trained(
        result, tmp_path / "saved", data={"path": path, "split": ML100K_SPLIT}, options=options
    )
    export_bundle(tmp_path / "saved", tmp_path / "bundle")
    summary = recommend(
        tmp_path / "bundle",
        tmp_path / "recs.sqlite",
        data=path,
        split=ML100K_SPLIT,
        protocol_test=True,
        k=10,
    )
    m = summary["metrics"]
    assert m["precision@10"] == result.test_metrics["precision@10"]
    assert m["already_bought"] == 0 and m["rows_per_customer_max"] == 10
    recs = read_recommendations(tmp_path / "recs.sqlite")
    pairs = set(zip(recs["entity_id"].tolist(), recs["rank"].tolist(), strict=True))
    assert len(pairs) == len(recs["rank"]) == 10 * data.protocol.test.n_customers
