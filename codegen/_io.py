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

__all__ = ["RUNTIME_PATH", "load_module", "module_name", "render", "write_source"]

#: The runtime a generated file imports (``from . import runtime``); export bundles ship a copy
#: of this file as ``runtime.py`` beside ``model.py``.
RUNTIME_PATH = Path(__file__).with_name("runtime.py")


def render(spec: NetworkSpec) -> str:
    """Deterministic, formatted Python source of the spec's network (imports only torch).

    The module defines ``CONFIG`` (the spec's numbers) and ``class Net(nn.Module)`` with
    ``__init__(config=CONFIG, devices=("cpu",))``, ``forward(batch)`` (logits ``[B, n_items]``
    in evaluation, an ``rt.TrainOut`` in training) and ``loss(batch, out) -> scalar``; it
    imports torch and ``runtime`` from its own package (``from . import runtime as rt``).
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


def module_name(source_path: str | Path) -> str:
    """The name a generated file is imported under: a module of the ``codegen`` package (so
    its ``from . import runtime`` is :mod:`codegen.runtime`), named by the file's stem and
    content hash."""
    path = Path(source_path)
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:12]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"codegen._generated_{stem}_{digest}"


def load_module(source_path: str | Path) -> types.ModuleType:
    """Import a generated file with ``importlib`` (no ``exec`` of strings).

    The module is registered in ``sys.modules`` as a module of the ``codegen`` package under a
    name derived from the file's content hash (:func:`module_name`), so its relative import of
    the runtime resolves to :mod:`codegen.runtime`, its classes pickle within the process and
    re-loading an unchanged file returns the same module.
    """
    path = Path(source_path).resolve()
    name = module_name(path)
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
