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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from autorec._io import atomic_dir, atomic_write_text, import_generated, read_json, write_json
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
    with atomic_dir(out) as tmp:
        atomic_write_text(tmp / MODEL, _batching.model_source(result.genome, result.dims))
        state = _unsharded_state(result.model)
        tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}
        save_file(tensors, str(tmp / WEIGHTS), metadata={"format": "pt"})
        result.genome.to_yaml(tmp / GENOME)
        write_json(tmp / METRICS, result.summary())
        info = {
            "format": SAVE_FORMAT,
            "genome_key": result.key,
            "family": result.genome.family,
            "dims": dict(result.dims),
            "net_kwargs": _batching.net_kwargs(result.model),
            "data": dict(data or {}),
            "options": dataclasses.asdict(options) if options is not None else {},
        }
        write_json(tmp / INFO, info)
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
    info = read_json(root / INFO)
    if info.get("format") != SAVE_FORMAT:
        raise AutorecError(
            where, f"unknown format {info.get('format')!r}", f"expected {SAVE_FORMAT}"
        )
    genome = load_genome(root / GENOME)
    try:
        module = import_generated(root / MODEL)
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
        metrics = read_json(root / METRICS)
    return SavedModel(model.eval(), genome, info, metrics, root)
