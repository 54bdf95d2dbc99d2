"""``examples/benchmarks/bench_searchers.py``: the summary arithmetic on hand-made rows."""

from __future__ import annotations

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


def test_a_rerun_into_the_same_out_keeps_its_seeds(tmp_path: Path) -> None:
    """``results.json`` is written after every seed; a rerun with the same arguments and more
    ``--seeds`` keeps those rows, one with another budget is refused by field."""
    args = bench_searchers.parse_args(["--quick", "--out", str(tmp_path)])
    assert bench_searchers.kept_rows(args) == {}  # nothing there yet
    rows = [
        _row(0, {"ga": 0.3, "random": 0.2}, {"ga": 0.1, "random": 0.1}),
        _row(3, {"ga": 0.2, "random": 0.2}, {"ga": 0.2, "random": 0.3}),
    ]
    args.arm_list = ["ga", "random"]
    bench_searchers._write(args, "cmd", {}, rows, 0.0)
    again = bench_searchers.parse_args(["--quick", "--out", str(tmp_path)])
    kept = bench_searchers.kept_rows(again)
    assert sorted(kept) == [0, 3] and kept[3]["arms"]["ga"]["test"] == pytest.approx(0.2)
    # the JSON's "inf" is a float again: the kept rows summarise like fresh ones
    assert kept[0]["arms"]["random"]["fraction_to_random_best"] == math.inf
    assert bench_searchers.summarise(list(kept.values()), ["ga", "random"]) == (
        bench_searchers.summarise(rows, ["ga", "random"])
    )
    other = bench_searchers.parse_args(["--quick", "--out", str(tmp_path)])
    other.epochs = 7
    with pytest.raises(SystemExit, match=r"results\.json: field args\.epochs is '3'.*'7'"):
        bench_searchers.kept_rows(other)


def _trial(epochs: int, fitness: float, generation: int = 0) -> dict[str, Any]:
    return {
        "key": f"{epochs}-{fitness}",
        "epochs": epochs,
        "fitness": fitness,
        "status": "ok",
        "accuracy": 0.0,
        "generation": generation,
    }


def test_before_breeding_against_the_null_model() -> None:
    """Worked by hand: B = 12, so 0.25 B = 3 epochs holds the GA's first trial only (n = 1);
    random search's 3 trials all lie within B (N = 3): chance n / (n + N) = 0.25. Generation
    0 spent 6 of 12 epochs and its best (0.9) is above random's best (0.85)."""
    row = _row(0, {"ga": 0.95, "random": 0.85}, {"ga": 0.1, "random": 0.1})
    row["budget"] = 12
    row["trials"] = {
        "ga": [_trial(3, 0.5), _trial(3, 0.9), _trial(3, 0.6, 1), _trial(3, 0.95, 1)],
        "random": [_trial(4, 0.7), _trial(4, 0.8), _trial(4, 0.85), _trial(4, 0.99)],
    }
    check = bench_searchers.before_breeding(row, "ga")
    assert check == {"gen0_share": 0.5, "gen0_reached": True, "chance_unbred": 0.25}
    summary = bench_searchers.summarise([row], ["ga", "random"])["before_breeding"]["ga"]
    assert summary["hits"] == 0 and summary["expected_hits"] == pytest.approx(0.25)


def test_chance_of_a_median_is_a_poisson_binomial_tail() -> None:
    # more than half of 3 seeds at 1/2 each: P(2) + P(3) = 3/8 + 1/8
    assert bench_searchers.chance_of_median([0.5, 0.5, 0.5]) == pytest.approx(0.5)
    # more than half of 2 seeds means both: 0.25 * 0.25
    assert bench_searchers.chance_of_median([0.25, 0.25]) == pytest.approx(0.0625)
    assert bench_searchers.chance_of_median([1.0, 0.0, 1.0]) == pytest.approx(1.0)


def test_a_kept_ga_run_of_another_budget_is_refused_by_field(tmp_path: Path) -> None:
    import dataclasses

    import bench_ga_vs_random

    from autorec.tune import RunDir, SearchOptions

    kept = SearchOptions(population=4, generations=2, epochs=6, seed=7, run_dir=str(tmp_path))
    RunDir(tmp_path).write_config(dataclasses.asdict(kept))
    bench_ga_vs_random._check_kept(tmp_path, dataclasses.replace(kept))  # the same: resumed
    with pytest.raises(SystemExit, match=r"field population is 4, this run's is 6"):
        bench_ga_vs_random._check_kept(tmp_path, dataclasses.replace(kept, population=6))
