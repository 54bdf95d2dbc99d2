"""``build_sharded_model``: kept as a thin alias of ``autorec.models.build_model``.

The generated code shards by itself: ``build_model(genome, dims, devices=(d0, d1, ...))``
builds a ``Net`` whose runtime item layers (``codegen/runtime.py``: ``item_input`` /
``item_output``) split the item tables row-wise and the output layers column-wise over the
devices, and whose losses combine the shards. Nothing is patched from the outside.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from autorec.genome import Genome
    from autorec.models import Dims

__all__ = ["build_sharded_model"]


def build_sharded_model(
    genome: Genome,
    dims: Dims,
    devices: tuple[str, ...],
    *,
    cache_dir: str | Path | None = None,
) -> torch.nn.Module:
    """``build_model(genome, dims, devices=devices, cache_dir=cache_dir)``: the genome's
    network on ``devices`` (``devices[0]`` primary; item layers sharded over all of them when
    there are several). Initialised from torch's global RNG, the same numbers for any ``k``."""
    from autorec.models import build_model

    return build_model(genome, dims, devices=tuple(devices), cache_dir=cache_dir)
