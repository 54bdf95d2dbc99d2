"""The rolling-origin benchmark's pure parts: shifted splits and the paired comparison."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from bench_modules import load_bench


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("bench_rolling_origin")


def test_shifted_split_moves_every_date_by_calendar_months(bench: ModuleType) -> None:
    split = "1997-09-19,1998-03-26,1998-04-09,1998-04-23"
    assert bench.shifted_split(split, 0) == split
    assert bench.shifted_split(split, 1) == "1997-08-19,1998-02-26,1998-03-09,1998-03-23"
    # 31 March minus one month is the last day of February
    assert bench.shifted_split("2024-03-31,2024-04-30,2024-05-31,2024-06-30", 1) == (
        "2024-02-29,2024-03-30,2024-04-30,2024-05-30"
    )


def test_paired_difference_is_against_each_origins_best_baseline(bench: ModuleType) -> None:
    rows = [
        {"origin": 0, "ranker": "net", "values": [0.2, 0.1, 0.0, 0.1]},
        {"origin": 0, "ranker": "ease", "values": [0.1, 0.1, 0.0, 0.0]},  # best at origin 0
        {"origin": 0, "ranker": "pop", "values": [0.0, 0.0, 0.0, 0.1]},
        {"origin": 1, "ranker": "net", "values": [0.0, 0.0]},
        {"origin": 1, "ranker": "ease", "values": [0.0, 0.0]},
        {"origin": 1, "ranker": "pop", "values": [0.1, 0.1]},  # best at origin 1
    ]
    lines = bench._paired(rows, "net", ["ease", "pop"])
    assert lines[0].startswith("  origin 0: net - ease = +0.0500")
    assert lines[1].startswith("  origin 1: net - pop = -0.1000")
    # pooled over 6 customers: (0.1 + 0 + 0 + 0.1 - 0.1 - 0.1) / 6 = 0
    assert "pooled over 2 origins (6 customers): +0.0000" in lines[2]
    assert lines[2].endswith("wins 1/2")
    table = bench._table(rows, ["net"], ["ease", "pop"])
    assert table[-1] == "| mean over origins | | 0.0500 | 0.0250 | 0.0625 |"
    assert np.isclose(bench._se(np.array([0.0, 1.0])), 0.5)
