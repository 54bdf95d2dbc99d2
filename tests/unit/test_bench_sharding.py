"""``examples/benchmarks/bench_sharding.py`` on a tiny catalogue: the sharded and the
unsharded build of one network are the same network (same loss on the same batches), so the
benchmark times routing only."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "examples" / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_sharding  # noqa: E402

from autorec.genome import Genome  # noqa: E402
from autorec.models import Dims  # noqa: E402


def test_sharded_and_unsharded_builds_train_alike(tmp_path: Path) -> None:
    genome = Genome.from_dict(
        {"family": "predictor", "layers": 1, "units_1": 8, "batch_size": 4,
         "optimizer": "adam", "w1": 1.0, "w0": 1.0}
    )  # fmt: skip
    r = bench_sharding.compare(
        genome, Dims(n_pages=1, n_items=50), ("cpu", "cpu"), 2, str(tmp_path)
    )
    assert r["unsharded_s"] > 0 and r["sharded_s"] > 0
    assert r["ratio"] == r["sharded_s"] / r["unsharded_s"]
    assert r["loss_diff"] < 1e-6  # after 4 optimiser steps each: the same numbers
