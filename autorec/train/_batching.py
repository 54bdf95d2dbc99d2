"""The one place the trainer touches :mod:`autorec.models` (the code generator and batch
builders): building a network and its batches for a genome."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from autorec.data.types import (
    CustomerExamples,
    IntArray,
    PurchaseLog,
    PurchaseProtocol,
    SessionLog,
    SessionSamples,
)

if TYPE_CHECKING:
    from autorec.genome import Genome

__all__ = [
    "build",
    "histories",
    "l2_in_loss",
    "model_source",
    "net_kwargs",
    "purchase_batch",
    "purchase_dims",
    "session_batch",
    "session_dims",
]

Batch = dict[str, torch.Tensor]


def session_dims(log: SessionLog) -> dict[str, int]:
    return {"n_pages": len(log.pages), "n_items": len(log.items), "n_users": len(log.users)}


def purchase_dims(protocol: PurchaseProtocol, log: PurchaseLog) -> dict[str, int]:
    return {"n_pages": 0, "n_items": protocol.n_items, "n_users": len(log.users)}


def _dims(dims: Mapping[str, int]) -> Any:
    from autorec.models import Dims

    return Dims(**{k: int(v) for k, v in dims.items()})


def build(
    genome: Genome, dims: Mapping[str, int], devices: tuple[str, ...] = ("cpu",)
) -> torch.nn.Module:
    """The generated ``Net`` of ``genome`` (``Net(devices=devices)``: item-sized layers are
    sharded over several devices, everything else lives on the first)."""
    from autorec.models import build_model

    model: torch.nn.Module = build_model(genome, _dims(dims), devices=tuple(devices))
    return model


def model_source(genome: Genome, dims: Mapping[str, int]) -> str:
    import codegen
    from autorec.models import spec_for

    source: str = codegen.render(spec_for(genome, _dims(dims)))
    return source


def net_kwargs(model: torch.nn.Module) -> dict[str, Any]:
    """Constructor arguments of a saved (unsharded, CPU) ``Net``."""
    return {"devices": ["cpu"]}


def l2_in_loss(model: torch.nn.Module) -> bool:
    return bool(getattr(model, "l2_in_loss", True))


def histories(*logs: SessionLog) -> Any:
    """The users' dated purchases over all splits (the FNN branch's input; a session only
    sees purchases made before it started, so nothing leaks)."""
    from autorec.models import user_histories

    return user_histories(*logs)


def session_batch(
    genome: Genome,
    log: SessionLog,
    samples: SessionSamples,
    rows: IntArray,
    hist: Any = None,
) -> Batch:
    from autorec.models import batches

    batch: Batch = batches.session_batch(
        log, samples, rows, width=int(genome.genes["width"]), histories=hist
    )
    return batch


def purchase_batch(genome: Genome, examples: CustomerExamples, rows: IntArray) -> Batch:
    from autorec.models import batches

    batch: Batch = batches.purchase_batch(examples, rows)
    return batch
