"""Smoke run of ``examples/benchmarks/bench_searchers.py --quick`` (one Ray session, the
built-in synthetic purchase data): every arm runs at the GA's budget of trial-epochs and has
a best genome scored on the test split; plus the summary arithmetic on hand-made rows."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray")
pytest.importorskip("optuna")

BENCH = Path(__file__).resolve().parents[2] / "examples" / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_searchers  # noqa: E402

pytestmark = pytest.mark.integration


def _row(seed: int, fit: dict[str, float], test: dict[str, float]) -> dict[str, Any]:
    return {
        "seed": seed,
        "budget": 10,
        "arms": {
            a: {
                "best_fitness": fit[a],
                "test": test[a],
                "spent": 10,
                "trials": 3,
                "fraction_to_random_best": 0.5 if a == "ga" else math.inf,
            }
            for a in fit
        },
    }


def test_summary_medians_and_win_counts() -> None:
    rows = [
        _row(0, {"ga": 0.3, "random": 0.2}, {"ga": 0.1, "random": 0.1}),
        _row(1, {"ga": 0.1, "random": 0.2}, {"ga": 0.3, "random": 0.2}),
        _row(2, {"ga": 0.5, "random": 0.4}, {"ga": 0.2, "random": 0.1}),
    ]
    s = bench_searchers.summarise(rows, ["ga", "random"])
    assert s["best_fitness"]["ga"]["median"] == pytest.approx(0.3)
    assert s["best_fitness"]["ga"]["wins"] == 2 and s["best_fitness"]["random"]["wins"] == 1
    assert s["test"]["ga"]["wins"] == 3 and s["test"]["random"]["wins"] == 1  # a tie counts twice
    # SE of the mean of (0.1, 0.3, 0.2): sd 0.1 / sqrt(3)
    assert s["test"]["ga"]["se_mean"] == pytest.approx(0.1 / math.sqrt(3))
    assert s["fraction_to_random_best"] == {"ga": 0.5}


def test_quick_run_scores_every_arm(tmp_path: Path) -> None:
    # random search is random + ASHA without the scheduler: left out to keep the test short
    arms = ["ga", "ga-halving", "tpe", "asha"]
    argv = ["--quick", "--arms", ",".join(arms), "--out", str(tmp_path)]
    assert bench_searchers.main(argv) == 0
    result = json.loads((tmp_path / "results.json").read_text())
    (row,) = result["rows"]
    assert set(row["arms"]) == set(arms)
    budget = row["budget"]
    assert budget > 0
    for name, arm in row["arms"].items():
        assert arm["trials"] >= 1 and arm["best_fitness"] > 0, name
        assert 0.0 <= arm["test"] <= 1.0, name
        if name != "ga":  # the crossing trial still counts: at most one trial over the budget
            over = arm["spent"] - budget
            assert over < 3 + 1, name  # R = 3 in --quick
    cache = json.loads((tmp_path / "seed-0" / "ga-halving" / "fitness_cache.json").read_text())
    records = cache["records"]  # the halving GA's trial records say where each one stopped
    assert records and all("rung" in r and r["epochs"] <= 3 for r in records)
