"""Helpers of the sharding tests: hand-built batches in the documented batch layout
(CONTRACTS "Batch dicts") and a measurement of a generated network's training memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from autorec.genome import Genome
from autorec.models import Dims, build_model


def bags(
    gen: torch.Generator, n_rows: int, n_items: int, mean: int
) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.randint(0, 2 * mean + 1, (n_rows,), generator=gen)
    idx = torch.randint(0, n_items, (int(lengths.sum()),), generator=gen)
    return idx, torch.cumsum(lengths, 0) - lengths


def make_batch(
    genome: Genome, dims: Dims, batch: int, gen: torch.Generator, mean: int = 16
) -> dict[str, torch.Tensor]:
    """A random batch with every key the family's generated ``Net`` reads."""
    g = genome.genes
    if genome.family == "drnn":
        w = int(g["width"])
        pages = torch.randint(0, dims.n_pages, (batch, w), generator=gen)
        pages[: batch // 4, 0] = dims.n_pages  # some left-padded short prefixes
        hist, hoff = bags(gen, batch, dims.n_pages, mean)
        user, uoff = bags(gen, batch, dims.n_items, mean)
        viewed, voff = bags(gen, batch, dims.n_items, 2)
        tgt, toff = bags(gen, batch, dims.n_items, 1)
        return {
            "pages": pages,
            "dwell": torch.rand(batch, w, generator=gen),
            "hist_idx": hist,
            "hist_offsets": hoff,
            "hist_weight": torch.rand(hist.shape, generator=gen),
            "user_idx": user,
            "user_offsets": uoff,
            "viewed_idx": viewed,
            "viewed_offsets": voff,
            "viewed_weight": torch.rand(viewed.shape, generator=gen) * 3,
            "target_idx": tgt,
            "target_offsets": toff,
        }
    x, xoff = bags(gen, batch, dims.n_items, mean)
    y, yoff = bags(gen, batch, dims.n_items, 2)
    return {
        "x_idx": x,
        "x_offsets": xoff,
        "x_age": torch.rand(x.shape, generator=gen) * 300,
        "y_idx": y,
        "y_offsets": yoff,
    }


def make_optimizer(genome: Genome, model: torch.nn.Module) -> Any:
    """The trainer's optimiser (autorec.train.optim): the genome's over the dense parameters,
    its lazy row-sparse counterpart over the item tables (row-sparse gradients)."""
    from autorec.train.optim import make_optimizer as make
    from autorec.train.optim import row_sparse_parameters

    g = genome.genes
    name = str(g["optimizer"])
    return make(
        model.parameters(),
        name,
        learning_rate=1e-3,
        momentum=0.9 if name == "adam" else float(g["momentum"]),
        sparse=row_sparse_parameters(model),
    )


def dense_nbytes(t: torch.Tensor) -> int:
    """Bytes of ``t``; a row-sparse gradient counts at its dense size (what the memory
    planner budgets: an upper bound of its real size)."""
    return t.numel() * t.element_size() if t.is_sparse else t.nbytes


def measure(genome: Genome, dims: Dims, batch: int, cache: Path, mean: int = 16) -> dict[str, int]:
    """Bytes after one optimiser step on CPU: parameters, gradients, optimiser state (sum of
    ``nbytes``) and the tensors autograd saved for backward (``saved_tensors_hooks``;
    distinct storages, parameters excluded)."""
    torch.manual_seed(0)
    model = build_model(genome, dims, cache_dir=cache)
    param_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    b = make_batch(genome, dims, batch, torch.Generator().manual_seed(0), mean)
    opt = make_optimizer(genome, model)
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in param_storages:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model.loss(b, model(b))
    opt.zero_grad()
    loss.backward()
    opt.step()
    return {
        "n_params": sum(p.numel() for p in model.parameters()),
        "params": sum(p.nbytes for p in model.parameters()),
        "grads": sum(dense_nbytes(p.grad) for p in model.parameters() if p.grad is not None),
        "optimizer": sum(
            t.nbytes
            for state in opt.state.values()
            for t in state.values()
            if torch.is_tensor(t) and t.dim() > 0
        ),
        "saved": sum(seen.values()),
    }
