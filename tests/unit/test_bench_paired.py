"""The paired benchmark end to end on synthetic sessions (--quick): its figures are the
paired differences of the evaluation module, summarised per cut-off."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from bench_modules import load_bench


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("bench_paired")


def test_summary_averages_the_seeds(bench: ModuleType) -> None:
    rows = [
        {"k": 1, "diff": 0.02, "se": 0.01},
        {"k": 1, "diff": 0.04, "se": 0.03},
        {"k": 10, "diff": -0.01, "se": 0.02},
    ]
    out = bench.summarise(rows, [1, 10])
    assert out["top1"] == pytest.approx(
        {"mean_diff": 0.03, "seed_sd": 0.0141421356, "mean_paired_se": 0.02, "networks": 2}
    )
    assert out["top10"] == pytest.approx(
        {"mean_diff": -0.01, "seed_sd": 0.0, "mean_paired_se": 0.02, "networks": 1}
    )


def test_quick_run_writes_one_paired_row_per_cut_off(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "paired.json"
    assert bench.main(["--quick", "--k", "1,10", "--out", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["baseline"] == "session-views"
    assert [r["k"] for r in result["rows"]] == [1, 10]
    for r in result["rows"]:
        assert r["diff"] == pytest.approx(r["a"] - r["b"])
        assert 0 < r["se"] < 0.1 and r["n_samples"] > r["n_sessions"] > 0


def test_genome_and_saved_are_exclusive(bench: ModuleType) -> None:
    with pytest.raises(SystemExit):
        bench.parse_args(["--genome", "g.yaml", "--saved", "dir"])
