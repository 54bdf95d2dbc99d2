"""``examples/gpu_check.py --dry-run``: the GPU check's logic on CPU devices, tiny sizes, so
the script a GPU machine runs cannot rot (it starts its own local Ray in a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray")

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CHECKS = ("train 1 GPU", "sharded 2 GPUs", "samples/s", "search 0.5 GPU", "export, load on CPU")


def test_gpu_check_dry_run_passes_every_check(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RAY_ADDRESS", None)
    args = ["--dry-run", "--items", "300", "--units", "8", "--batch", "32", "--steps", "3",
            "--epochs", "1", "--out", str(tmp_path / "work")]  # fmt: skip
    res = subprocess.run(
        [sys.executable, str(REPO / "examples" / "gpu_check.py"), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    lines = res.stdout.splitlines()
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    for check in CHECKS:  # one PASS line per check, as on a GPU machine
        (line,) = [x for x in lines if x.split(":")[0].split(" ", 1)[-1] == check]
        assert line.startswith("PASS "), line
    assert lines[-1].startswith("PASS all: 5/5 checks passed")
    search = next(x for x in lines if "search 0.5 GPU" in x)
    assert "two at once on GPU ['0']" in search and "trial devices ['cuda:0']" in search
