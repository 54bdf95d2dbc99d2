"""Trained networks as rankers for :mod:`autorec.evaluation` (the functions the baselines
are scored with), so a network and a baseline are measured by the same code.

A ranker runs the network in eval mode on batches built by :mod:`autorec.models.batches`
and takes the top K with :func:`topk_of`: :func:`autorec.evaluation.topk_excluding` on a
``[B, n_items]`` tensor, :func:`autorec.sharding.sharded_topk` (per-shard top K, merged,
same exclusions and the same ties) on the ``ShardedLogits`` of a network whose item layers
are sharded over several devices -- both give the same items, ties going to the lower item
index. Sessions exclude nothing (a bought item is usually one viewed in the session);
customers exclude their input (XY) purchases (soft-split paper Sec. 3: "only new products
are recommended").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from autorec.data.types import CustomerExamples, IntArray, SessionLog, SessionSamples
from autorec.evaluation import topk_excluding
from codegen.runtime import ShardedLogits

__all__ = ["ModelCustomerRanker", "ModelSessionRanker", "is_sharded_logits", "topk_of"]

Batch = dict[str, torch.Tensor]
SessionBatcher = Callable[[SessionLog, SessionSamples, IntArray], Batch]
CustomerBatcher = Callable[[CustomerExamples, IntArray], Batch]


def is_sharded_logits(logits: object) -> bool:
    """Whether ``logits`` are the per-device blocks of a sharded network (``ShardedLogits``
    of ``codegen/runtime.py``, which generated files import)."""
    return isinstance(logits, ShardedLogits)


def topk_of(
    logits: Any, exclude_idx: torch.Tensor, exclude_offsets: torch.Tensor, k: int
) -> torch.Tensor:
    """Top ``k`` item indices per row of a network's logits, ``Long[B, k]``, excluding row
    ``b``'s ``exclude_idx[exclude_offsets[b]:...]``: :func:`topk_excluding` on a tensor,
    :func:`autorec.sharding.sharded_topk` on sharded logits (no gather of the catalogue)."""
    if is_sharded_logits(logits):
        from autorec.sharding import sharded_topk

        return sharded_topk(logits, k, exclude_idx, exclude_offsets)
    return topk_excluding(logits, exclude_idx, exclude_offsets, k)


def _to(batch: Batch, device: torch.device) -> Batch:
    if device.type == "cpu":
        return batch
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _gathered(logits: Any) -> torch.Tensor:
    if is_sharded_logits(logits):
        from autorec.sharding import gather_logits

        return gather_logits(logits)
    out: torch.Tensor = logits
    return out


class _ModelRanker:
    """A trained network evaluated in batches of ``batch_size`` rows, in eval mode and
    without gradients (the mode it was in is restored)."""

    def __init__(
        self,
        model: torch.nn.Module,
        batcher: Any,
        *,
        device: torch.device | str = "cpu",
        batch_size: int = 1024,
    ) -> None:
        self.model = model
        self.batcher = batcher
        self.device = torch.device(device)
        self.batch_size = batch_size

    def _topk_rows(
        self, n: int, k: int, topk_batch: Callable[[IntArray], torch.Tensor]
    ) -> IntArray:
        """``topk_batch(rows)`` for consecutive row blocks, stacked into ``[n, k]``."""
        parts: list[IntArray] = []
        was = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                for start in range(0, n, self.batch_size):
                    rows = np.arange(start, min(n, start + self.batch_size), dtype=np.int64)
                    parts.append(topk_batch(rows).cpu().numpy())
        finally:
            self.model.train(was)
        if not parts:
            return np.zeros((0, k), dtype=np.int64)
        return np.concatenate(parts).astype(np.int64)


class ModelSessionRanker(_ModelRanker):
    """:class:`autorec.evaluation.SessionRanker` over a trained session network."""

    batcher: SessionBatcher

    def scores(self, log: SessionLog, samples: SessionSamples, rows: IntArray) -> torch.Tensor:
        """Item logits ``[len(rows), n_items]`` of the samples ``rows`` (gathered on the
        first device when the network is sharded)."""
        return _gathered(self._logits(log, samples, rows))

    def _logits(self, log: SessionLog, samples: SessionSamples, rows: IntArray) -> Any:
        """The network's output: a tensor, or ``ShardedLogits`` for a sharded network."""
        return self.model(_to(self.batcher(log, samples, rows), self.device))

    def topk_sessions(self, log: SessionLog, samples: SessionSamples, k: int) -> IntArray:
        def topk_batch(rows: IntArray) -> torch.Tensor:
            logits = self._logits(log, samples, rows)
            empty = torch.zeros(0, dtype=torch.long, device=logits.device)
            offs = torch.zeros(len(rows), dtype=torch.long, device=logits.device)
            return topk_of(logits, empty, offs, k)

        return self._topk_rows(len(samples.session), k, topk_batch)


class ModelCustomerRanker(_ModelRanker):
    """:class:`autorec.evaluation.CustomerRanker` over a trained purchase network; each
    customer's input purchases are excluded from its recommendations."""

    batcher: CustomerBatcher

    def scores(self, examples: CustomerExamples, rows: IntArray) -> torch.Tensor:
        """Item logits ``[len(rows), n_items]`` of the customers ``rows``, in eval mode and
        without gradients (gathered on the first device when the network is sharded)."""
        was = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                return _gathered(self.model(_to(self.batcher(examples, rows), self.device)))
        finally:
            self.model.train(was)

    def topk_customers(self, examples: CustomerExamples, k: int) -> IntArray:
        def topk_batch(rows: IntArray) -> torch.Tensor:
            batch = _to(self.batcher(examples, rows), self.device)
            return topk_of(self.model(batch), batch["x_idx"], batch["x_offsets"], k)

        return self._topk_rows(examples.n_customers, k, topk_batch)
