"""Shared fixtures: the real public data in ../shared/data (AUTOREC_DATA), skipped when absent."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Test doubles (the fake trainer, the CLI that injects it) live here, not in the package.
sys.path.insert(0, str(REPO / "tests" / "support"))


def shared_data_dir() -> Path:
    return Path(os.environ.get("AUTOREC_DATA", str(REPO.parent / "shared" / "data")))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real data sets; skips the test with the reason when it is absent."""
    root = shared_data_dir()
    if not (root / "ml-100k" / "ml-100k.inter").is_file():
        pytest.skip(f"real data not found under {root} (set AUTOREC_DATA to ../shared/data)")
    return root


# Strict failures (autorec.tune._failures): a trial that raises fails the test's search
# instead of scoring 0; a test of the failure path sets AUTOREC_STRICT=0 itself. Set before
# any Ray starts, so subprocesses and workers see it too.
os.environ.setdefault("AUTOREC_STRICT", "1")
