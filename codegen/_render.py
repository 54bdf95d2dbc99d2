"""Render a spec into the Python source of its network (writing and importing the file is
``autorec.models``': this package does no IO and never imports ``autorec``)."""

from __future__ import annotations

from pathlib import Path

from codegen._drnn import render_drnn
from codegen._predictor import render_predictor
from codegen.spec import DrnnSpec, NetworkSpec, PredictorSpec

__all__ = ["RUNTIME_PATH", "render"]

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
