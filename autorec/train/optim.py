"""Optimisers, the step-decay schedule, seeding and threads (DRNN paper Sec. V.D).

The genome's basic genes pick the optimiser: ``sgd`` (plain SGD with heavy-ball
``momentum``), ``nesterov`` (SGD with Nesterov momentum; with ``momentum == 0`` Nesterov's
update *is* plain SGD, and torch refuses ``nesterov=True`` without momentum, so plain SGD is
used), ``adam`` (``momentum`` is Adam's β1, its first-moment decay; β2 = 0.999).

Step decay: the DRNN paper starts at ϕ = 0.1 and sets ϕ = ϕ/5 after every 100 epochs; the
genes ``lr_step`` (epochs between divisions) and ``lr_factor`` (the divisor) generalise it:
the rate of epoch ``e`` (0-based) is ``learning_rate / lr_factor ** (e // lr_step)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import torch

from autorec.errors import AutorecError

__all__ = [
    "OPTIMIZERS",
    "apply_step_decay",
    "make_optimizer",
    "seed_everything",
    "set_threads",
    "step_decay_lr",
]

OPTIMIZERS = ("sgd", "nesterov", "adam")


def step_decay_lr(learning_rate: float, epoch: int, lr_step: int, lr_factor: float) -> float:
    """The rate of 0-based ``epoch``: ``learning_rate / lr_factor ** (epoch // lr_step)``."""
    if lr_step < 1:
        raise AutorecError("gene lr_step", f"must be >= 1, got {lr_step}", "set lr_step >= 1")
    if lr_factor < 1:
        raise AutorecError("gene lr_factor", f"must be >= 1, got {lr_factor}", "set lr_factor >= 1")
    return float(learning_rate / lr_factor ** (epoch // lr_step))


def apply_step_decay(
    optimizer: torch.optim.Optimizer,
    learning_rate: float,
    epoch: int,
    lr_step: int,
    lr_factor: float,
) -> float:
    """Set every parameter group's rate to the one of ``epoch``; returns it."""
    lr = step_decay_lr(learning_rate, epoch, lr_step, lr_factor)
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr


def make_optimizer(
    params: Iterable[torch.nn.Parameter],
    name: str,
    *,
    learning_rate: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """The optimiser a genome names (see the module docstring)."""
    if not learning_rate > 0:
        raise AutorecError(
            "gene learning_rate", f"must be > 0, got {learning_rate}", "set learning_rate > 0"
        )
    if not 0 <= momentum < 1:
        raise AutorecError(
            "gene momentum", f"must be in [0, 1), got {momentum}", "set momentum in [0, 1)"
        )
    plist = [p for p in params if p.requires_grad]
    if name == "sgd":
        return torch.optim.SGD(
            plist, lr=learning_rate, momentum=momentum, weight_decay=weight_decay
        )
    if name == "nesterov":
        return torch.optim.SGD(
            plist,
            lr=learning_rate,
            momentum=momentum,
            nesterov=momentum > 0,
            weight_decay=weight_decay,
        )
    if name == "adam":
        return torch.optim.Adam(
            plist, lr=learning_rate, betas=(momentum, 0.999), weight_decay=weight_decay
        )
    raise AutorecError(
        "gene optimizer", f"unknown optimizer {name!r}", f"use one of {', '.join(OPTIMIZERS)}"
    )


def set_threads(threads: int) -> None:
    """Use ``threads`` intra-op threads (inter-op threads can only be set once per process,
    so they are left alone after the first call)."""
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global generator (weight initialisation, dropout, noise) and return a
    separate CPU generator for shuffling. Asks torch for deterministic kernels (warning
    only where an operation has none), so CPU runs repeat bit for bit."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen
