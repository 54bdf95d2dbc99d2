"""Import a benchmark script of examples/benchmarks/ as a module (they are not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[2] / "examples" / "benchmarks"


def load_bench(name: str) -> ModuleType:
    """``examples/benchmarks/{name}.py``, registered in ``sys.modules`` under ``name`` (its
    dataclasses look their module up there)."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
