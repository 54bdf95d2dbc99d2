"""Vectorised hit counting and the fitness loss, shared by the per-epoch validation and the
model rankers."""

from __future__ import annotations

from typing import Any

import torch

from codegen.runtime import softmax_ce

__all__ = ["hits_per_row", "reference_loss", "rows_of_offsets"]


def reference_loss(logits: Any, target_idx: torch.Tensor, target_offsets: torch.Tensor) -> float:
    """Summed over rows: the multinomial cross-entropy of the item scores against each row's
    target set, ``-(1/|T|) sum_{t in T} log softmax(z)_t`` over the *full* catalogue.

    This is the *loss* of the fitness ``accuracy + 1/(1+loss)``. The paper calls it "the loss
    rate" without saying which loss; each genome's own training cost will not do, because
    genes rescale it (BCE weights w1/w0, wa*/wp*, a sampled output, the DRNN's bce vs softmax)
    and a search would then learn to shrink the loss scale instead of predicting better (seen:
    w1 = 0.2, w0 = 0.02 raised the fitness with worse precision). One genome-independent,
    proper scoring rule of the ranking distribution makes fitnesses comparable. Works on plain
    and on sharded logits (the log-sum-exp is combined across shards)."""
    loss = softmax_ce(logits, target_idx, target_offsets, reduction="sum")
    return float(loss)


def rows_of_offsets(offsets: torch.Tensor, total: int) -> torch.Tensor:
    """Row index of every entry of a CSR list given by start ``offsets`` [B] and the total
    number of entries (``EmbeddingBag`` offsets convention)."""
    b = offsets.numel()
    ends = torch.cat([offsets[1:], torch.tensor([total], dtype=offsets.dtype)])
    lengths = (ends - offsets).clamp_min(0)
    return torch.repeat_interleave(torch.arange(b, dtype=torch.long), lengths)


def hits_per_row(
    topk: torch.Tensor, target_idx: torch.Tensor, target_offsets: torch.Tensor
) -> torch.Tensor:
    """For each row of ``topk`` [B, k], how many of its targets (deduplicated CSR list) are
    among its top k. Padding entries (-1) in ``topk`` never match."""
    b = topk.shape[0]
    counts = torch.zeros(b, dtype=torch.float64)
    if target_idx.numel() == 0 or b == 0:
        return counts
    rows = rows_of_offsets(target_offsets.cpu().long(), int(target_idx.numel()))
    match = (topk.cpu()[rows] == target_idx.cpu().long()[:, None]).any(dim=1)
    return counts.index_add_(0, rows, match.to(torch.float64))
