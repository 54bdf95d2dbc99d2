"""Saving a trained network (``autorec train --save DIR``) and loading it back
(``autorec evaluate DIR``); the export helper builds production bundles from such a folder.

A saved folder holds::

    model.py             the generated network source (imports only torch): class Net,
                         always the unsharded source (``spec_for(genome, dims)``)
    weights.safetensors  Net's state dict, unsharded: a network trained with its item
                         layers sharded over several devices (``--devices cpu,cpu``) is
                         saved through ``autorec.sharding.gathered_state_dict``, so the
                         folder loads on one device whatever the training used
    genome.yaml          the genome (family + one key per gene)
    metrics.json         the TrainResult summary: fitness, status, epochs, val/test metrics
    train.json           format, genome key, family, dims, Net kwargs, data source and split,
                         training options

It is written into a temporary folder beside ``DIR`` and renamed into place, replacing an
older save only once the new one is complete, so a reader never sees half a save.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

import codegen
from autorec.errors import AutorecError
from autorec.genome import Genome, load_genome
from autorec.train import _batching
from autorec.train._types import TrainOptions, TrainResult

__all__ = ["SAVE_FORMAT", "SavedModel", "load_saved", "save_trained"]

SAVE_FORMAT = "autorec-trained-v1"
MODEL, WEIGHTS, GENOME, METRICS, INFO = (
    "model.py",
    "weights.safetensors",
    "genome.yaml",
    "metrics.json",
    "train.json",
)


def json_safe(obj: Any) -> Any:
    """JSON-safe: NaN/inf become None, numpy scalars Python numbers, tuples lists."""
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def _dump(obj: Any, path: Path) -> None:
    path.write_text(json.dumps(json_safe(obj), indent=1) + "\n", encoding="utf-8")


def _unsharded_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict in the unsharded names and shapes (a network's own
    ``gather_state_dict()`` where it defines one, else the sharded layers gathered back by
    :func:`autorec.sharding.gathered_state_dict`, which is ``state_dict()`` on the CPU for
    an unsharded network)."""
    gather = getattr(model, "gather_state_dict", None)
    if callable(gather):
        return dict(gather())
    from autorec.sharding import gathered_state_dict

    return gathered_state_dict(model)


def save_trained(
    result: TrainResult,
    out_dir: str | Path,
    *,
    data: Mapping[str, Any] | None = None,
    options: TrainOptions | None = None,
) -> Path:
    """Write ``result``'s model to ``out_dir`` atomically (see the module docstring)."""
    from safetensors.torch import save_file

    if result.model is None:
        raise AutorecError(
            "option --save", f"training ended {result.status} with no network", "fix the run"
        )
    if result.retrain_status not in (None, "ok"):
        raise AutorecError(
            "option --save",
            f"the retraining on the real protocol ended {result.retrain_status}, so there is "
            "no network for the test protocol (the validation run's network does not fit it)",
            "lower learning_rate or dropout in the genome, or train without --save",
        )
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        (tmp / MODEL).write_text(
            _batching.model_source(result.genome, result.dims), encoding="utf-8"
        )
        state = _unsharded_state(result.model)
        tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}
        save_file(tensors, str(tmp / WEIGHTS), metadata={"format": "pt"})
        result.genome.to_yaml(tmp / GENOME)
        _dump(result.summary(), tmp / METRICS)
        info = {
            "format": SAVE_FORMAT,
            "genome_key": result.key,
            "family": result.genome.family,
            "dims": dict(result.dims),
            "net_kwargs": _batching.net_kwargs(result.model),
            "data": dict(data or {}),
            "options": dataclasses.asdict(options) if options is not None else {},
        }
        _dump(info, tmp / INFO)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


@dataclasses.dataclass(frozen=True)
class SavedModel:
    """A saved network loaded back: the model in eval mode, its genome and ``train.json``."""

    model: torch.nn.Module
    genome: Genome
    info: Mapping[str, Any]
    metrics: Mapping[str, Any]
    path: Path


def load_saved(path: str | Path) -> SavedModel:
    """Load a folder written by :func:`save_trained` (importing its own ``model.py``)."""
    from safetensors.torch import load_file

    root = Path(path)
    where = f"saved model {root}"
    for name in (MODEL, WEIGHTS, GENOME, INFO):
        if not (root / name).is_file():
            raise AutorecError(
                where, f"{name} is missing", "pass a folder written by `autorec train --save`"
            )
    info = json.loads((root / INFO).read_text(encoding="utf-8"))
    if info.get("format") != SAVE_FORMAT:
        raise AutorecError(
            where, f"unknown format {info.get('format')!r}", f"expected {SAVE_FORMAT}"
        )
    genome = load_genome(root / GENOME)
    try:
        module = codegen.load_module(root / MODEL)
    except Exception as err:
        raise AutorecError(where, f"cannot import model.py ({err})", "re-save the model") from None
    model: torch.nn.Module = module.Net(**dict(info.get("net_kwargs") or {}))
    try:
        model.load_state_dict(load_file(str(root / WEIGHTS)))
    except RuntimeError as err:
        raise AutorecError(
            where,
            f"weights do not fit model.py ({str(err).splitlines()[0]})",
            "re-save the model",
        ) from None
    metrics: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        metrics = json.loads((root / METRICS).read_text(encoding="utf-8"))
    return SavedModel(model.eval(), genome, info, metrics, root)
