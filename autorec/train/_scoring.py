"""Vectorised hit counting shared by the per-epoch validation and the model rankers."""

from __future__ import annotations

import torch

__all__ = ["hits_per_row", "rows_of_offsets"]


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
