"""Build a genome's network on ``k`` devices with its item-sized layers sharded.

``build_model(genome, dims, devices=...)`` renders and instantiates the generated ``Net``.
When the generated source already shards (its factories switch on ``len(devices)``), that
model is returned as is. Otherwise the item layers are swapped for the sharded ones
(:func:`codegen.sharded.shard_item_layers`, weights kept) and the network's ``data_loss``
for its shard-aware form (:func:`~codegen.sharded.drnn_sharded_data_loss`,
:func:`~codegen.sharded.predictor_sharded_data_loss`), which gives the same numbers as the
generated dense loss without ever gathering ``[B, n_items]`` logits.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import torch

from autorec.genome import Genome
from codegen.sharded import (
    drnn_sharded_data_loss,
    item_sharded_children,
    predictor_sharded_data_loss,
    shard_item_layers,
)

__all__ = ["build_sharded_model"]

_WEIGHTS = ("w1", "w0", "wa1", "wa0", "wp1", "wp0", "to")


def build_sharded_model(
    genome: Genome,
    dims: Any,
    devices: tuple[str, ...],
    *,
    cache_dir: str | Path | None = None,
    shard_aware_loss: bool = False,
) -> torch.nn.Module:
    """The genome's network on ``devices`` (``devices[0]`` primary; item layers sharded over
    all of them when there are several). Initialised from torch's global RNG like
    ``build_model``, so the same seed gives the same numbers for any ``k``.
    ``shard_aware_loss``: use the sparse shard-aware loss on one device too (benchmarks)."""
    from autorec.models import build_model

    model = build_model(genome, dims, devices=tuple(devices), cache_dir=cache_dir)
    if item_sharded_children(model) or (len(devices) <= 1 and not shard_aware_loss):
        return model
    shard_item_layers(model, devices, int(dims.n_items))
    genes = genome.genes
    if genome.family == "drnn":
        width, loss, n_pages = int(genes["width"]), str(genes["loss"]), int(dims.n_pages)

        def drnn_loss(
            self: torch.nn.Module, batch: dict[str, torch.Tensor], logits: Any
        ) -> torch.Tensor:
            states = getattr(self, "state_logits", None) if width > 1 else None
            return drnn_sharded_data_loss(batch, logits, states, n_pages=n_pages, loss=loss)

        model.data_loss = types.MethodType(drnn_loss, model)  # type: ignore[assignment]
    else:
        split = str(genes["split_mode"])
        weights = {name: float(genes[name]) for name in _WEIGHTS}

        def predictor_loss(
            self: torch.nn.Module, batch: dict[str, torch.Tensor], logits: Any
        ) -> torch.Tensor:
            return predictor_sharded_data_loss(batch, logits, split_mode=split, **weights)

        model.data_loss = types.MethodType(predictor_loss, model)  # type: ignore[assignment]
    model.sharded_devices = tuple(devices)  # type: ignore[assignment]
    return model
