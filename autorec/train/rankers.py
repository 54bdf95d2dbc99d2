"""Trained networks as rankers for :mod:`autorec.evaluation` (the functions the baselines
are scored with), so a network and a baseline are measured by the same code.

A ranker runs the network in eval mode on batches built by :mod:`autorec.models.batches`
and takes the top K with :func:`autorec.evaluation.topk_excluding` (deterministic ties by
item index). Sessions exclude nothing (a bought item is usually one viewed in the session);
customers exclude their input (XY) purchases (soft-split paper Sec. 3: "only new products
are recommended").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from autorec.data.types import CustomerExamples, IntArray, SessionLog, SessionSamples
from autorec.evaluation import topk_excluding

__all__ = ["ModelCustomerRanker", "ModelSessionRanker"]

Batch = dict[str, torch.Tensor]
SessionBatcher = Callable[[SessionLog, SessionSamples, IntArray], Batch]
CustomerBatcher = Callable[[CustomerExamples, IntArray], Batch]


def _to(batch: Batch, device: torch.device) -> Batch:
    if device.type == "cpu":
        return batch
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


class ModelSessionRanker:
    """:class:`autorec.evaluation.SessionRanker` over a trained session network."""

    def __init__(
        self,
        model: torch.nn.Module,
        batcher: SessionBatcher,
        *,
        device: torch.device | str = "cpu",
        batch_size: int = 1024,
    ) -> None:
        self.model = model
        self.batcher = batcher
        self.device = torch.device(device)
        self.batch_size = batch_size

    def scores(self, log: SessionLog, samples: SessionSamples, rows: IntArray) -> torch.Tensor:
        """Item logits ``[len(rows), n_items]`` of the samples ``rows``."""
        batch = _to(self.batcher(log, samples, rows), self.device)
        out: torch.Tensor = self.model(batch)
        return out

    def topk_sessions(self, log: SessionLog, samples: SessionSamples, k: int) -> IntArray:
        n = len(samples.session)
        parts: list[IntArray] = []
        was = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                for start in range(0, n, self.batch_size):
                    rows = np.arange(start, min(n, start + self.batch_size), dtype=np.int64)
                    logits = self.scores(log, samples, rows)
                    empty = torch.zeros(0, dtype=torch.long, device=logits.device)
                    offs = torch.zeros(len(rows), dtype=torch.long, device=logits.device)
                    parts.append(topk_excluding(logits, empty, offs, k).cpu().numpy())
        finally:
            self.model.train(was)
        if not parts:
            return np.zeros((0, k), dtype=np.int64)
        return np.concatenate(parts).astype(np.int64)


class ModelCustomerRanker:
    """:class:`autorec.evaluation.CustomerRanker` over a trained purchase network; each
    customer's input purchases are excluded from its recommendations."""

    def __init__(
        self,
        model: torch.nn.Module,
        batcher: CustomerBatcher,
        *,
        device: torch.device | str = "cpu",
        batch_size: int = 1024,
    ) -> None:
        self.model = model
        self.batcher = batcher
        self.device = torch.device(device)
        self.batch_size = batch_size

    def topk_customers(self, examples: CustomerExamples, k: int) -> IntArray:
        n = examples.n_customers
        parts: list[IntArray] = []
        was = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                for start in range(0, n, self.batch_size):
                    rows = np.arange(start, min(n, start + self.batch_size), dtype=np.int64)
                    batch = _to(self.batcher(examples, rows), self.device)
                    logits: torch.Tensor = self.model(batch)
                    top = topk_excluding(logits, batch["x_idx"], batch["x_offsets"], k)
                    parts.append(top.cpu().numpy())
        finally:
            self.model.train(was)
        if not parts:
            return np.zeros((0, k), dtype=np.int64)
        return np.concatenate(parts).astype(np.int64)
