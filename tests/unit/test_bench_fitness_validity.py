"""The fitness-validity benchmark's figures: Spearman of each estimate, the rolling-origin
mean among them, worked on small hand-made rows."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from bench_modules import load_bench


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("bench_fitness_validity")


def _row(fitness: float, test: float, origins: list[float] | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "status": "ok",
        "fitness": fitness,
        "last_fitness": fitness,
        "best_fitness": fitness,
        "val_accuracy": fitness - 0.1,
        "loss_term": 0.1,
        "n_val": 49,
        "n_test": 56,
        "n_train_examples": 100,
        "test": test,
    }
    if origins is not None:
        row["origin_fitness"] = origins
    return row


def test_one_origin_reports_no_origin_estimate(bench: ModuleType) -> None:
    rows = [_row(0.20, 0.10), _row(0.21, 0.09), _row(0.22, 0.11), _row(0.23, 0.12)]
    out = bench.figures(rows)
    assert "spearman_origins_fitness" not in out and "origins" not in out
    # ranks of the fitness 1 2 3 4 against the test's 2 1 3 4: 1 - 6 * 2 / (4 * 15) = 0.8
    assert out["spearman_fitness"] == pytest.approx(0.8)


def test_the_origin_mean_is_ranked_against_the_test_metric(bench: ModuleType) -> None:
    # the one-origin fitness orders the test wrongly; the other two origins put it right:
    # means 0.2 (0.20, 0.20, 0.20), 0.19 (0.21, 0.18, 0.18), 0.23, 0.24
    rows = [
        _row(0.20, 0.10, [0.20, 0.20]),
        _row(0.21, 0.09, [0.18, 0.18]),
        _row(0.22, 0.11, [0.23, 0.24]),
        _row(0.23, 0.12, [0.24, 0.25]),
    ]
    out = bench.figures(rows)
    assert out["origins"] == 3
    assert out["spearman_fitness"] == pytest.approx(0.8)
    assert out["spearman_origins_fitness"] == pytest.approx(1.0)
    # the better half (3 of 4: at least three) by each estimate
    assert out["spearman_origins_fitness_top_half"] == pytest.approx(1.0)
    assert out["top_half_origins_fitness_test_median"] == pytest.approx(0.11)
