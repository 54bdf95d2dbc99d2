"""Render a spec, write the source atomically, import it from its file."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import types
from pathlib import Path

from codegen._drnn import render_drnn
from codegen._predictor import render_predictor
from codegen.spec import DrnnSpec, NetworkSpec, PredictorSpec

__all__ = ["load_module", "render", "write_source"]


def render(spec: NetworkSpec) -> str:
    """Deterministic, formatted Python source of the spec's network (imports only torch).

    The module defines ``class Net(nn.Module)`` with ``__init__(devices=("cpu",))``,
    ``forward(batch) -> logits [B, n_items]`` and ``loss(batch, logits) -> scalar``, plus the
    item-sized layer factories ``make_item_input`` / ``make_item_output``.
    """
    if isinstance(spec, DrnnSpec):
        return render_drnn(spec)
    if isinstance(spec, PredictorSpec):
        return render_predictor(spec)
    raise TypeError(f"render: expected a DrnnSpec or PredictorSpec, got {type(spec).__name__}")


def write_source(spec: NetworkSpec, path: str | Path) -> Path:
    """Render ``spec`` into ``path`` atomically (a temporary file in the same folder, then
    ``os.replace``), so concurrent writers and readers never see a half-written file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    source = render(spec)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(source)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_module(source_path: str | Path) -> types.ModuleType:
    """Import a generated file with ``importlib`` (no ``exec`` of strings).

    The module is registered in ``sys.modules`` under a name derived from the file's path and
    content hash, so its classes pickle within the process and re-loading an unchanged file
    returns the same module.
    """
    path = Path(source_path).resolve()
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:12]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    name = f"codegen_generated_{stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import generated source {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
