"""Optimisers, the step-decay schedule, seeding and threads (DRNN paper Sec. V.D).

The genome's basic genes pick the optimiser: ``sgd`` (plain SGD with heavy-ball
``momentum``), ``nesterov`` (SGD with Nesterov momentum; with ``momentum == 0`` Nesterov's
update *is* plain SGD, and torch refuses ``nesterov=True`` without momentum, so plain SGD is
used), ``adam`` (``momentum`` is Adam's β1, its first-moment decay; β2 = 0.999).

Step decay: the DRNN paper starts at ϕ = 0.1 and sets ϕ = ϕ/5 after every 100 epochs; the
genes ``lr_step`` (epochs between divisions) and ``lr_factor`` (the divisor) generalise it:
the rate of epoch ``e`` (0-based) is ``learning_rate / lr_factor ** (e // lr_step)``.

Row-sparse item tables (issue 6): the generated networks give their item-sized tables
row-sparse gradients (``nn.EmbeddingBag(sparse=True)``; with ``output: sampled`` the output
rows of a batch's candidate items, read with ``F.embedding(..., sparse=True)``) and flag the
layers ``sparse``. :func:`row_sparse_parameters` finds those tables' weights; given them,
:func:`make_optimizer` returns a :class:`SplitOptimizer`: the genome's optimiser over the dense
parameters and a lazy row-sparse one over the tables, which updates only the rows a batch
touched. Adam: ``torch.optim.SparseAdam`` (lazy Adam: the moments of untouched rows are not
decayed). SGD / Nesterov: :class:`LazySGD` (torch's SGD accepts sparse gradients but keeps a
sparse momentum buffer whose rows accumulate until every step touches the whole table; lazy
momentum updates ``buf[r]`` and ``W[r]`` for touched rows only). Both are the usual lazy
approximations (TensorFlow's LazyAdam, PyTorch's SparseAdam); with ``momentum == 0`` SGD's lazy
update is exact. The step schedule sets the rate of both halves (their groups are in
``param_groups``). Without row-sparse parameters the plain torch optimiser is returned.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import torch

from autorec.errors import AutorecError

__all__ = [
    "OPTIMIZERS",
    "LazySGD",
    "SplitOptimizer",
    "apply_step_decay",
    "make_optimizer",
    "row_sparse_parameters",
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
    optimizer: torch.optim.Optimizer | SplitOptimizer,
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


def row_sparse_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The weights of the layers flagged ``sparse`` (``nn.Embedding``/``nn.EmbeddingBag`` with
    ``sparse=True``, generated output layers of a sampled output, sharded item layers): every
    parameter named ``weight`` (or ``<...>.weight``) under such a module. Their gradients are
    row-sparse; biases stay dense."""
    out: list[torch.nn.Parameter] = []
    seen: set[int] = set()
    for module in model.modules():
        if getattr(module, "sparse", False) is not True:
            continue
        for name, param in module.named_parameters():
            if name.rpartition(".")[2] == "weight" and id(param) not in seen:
                seen.add(id(param))
                out.append(param)
    return out


class LazySGD(torch.optim.Optimizer):
    """SGD with heavy-ball or Nesterov momentum for row-sparse gradients, lazily: for the rows
    ``r`` a batch touched, ``buf[r] = momentum * buf[r] + g[r]`` and ``W[r] -= lr * buf[r]``
    (Nesterov: ``lr * (g[r] + momentum * buf[r])``); other rows and their momentum wait.
    ``weight_decay`` is added to the touched rows' gradients. A dense gradient updates every
    row (same arithmetic as ``torch.optim.SGD``)."""

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "nesterov": nesterov,
            "weight_decay": weight_decay,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            lr, mom = float(group["lr"]), float(group["momentum"])
            wd, nesterov = float(group["weight_decay"]), bool(group["nesterov"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if grad.is_sparse:
                    grad = grad.coalesce()
                    rows: torch.Tensor | None = grad.indices()[0]
                    g = grad.values()
                    if g.numel() == 0:
                        continue
                else:
                    rows, g = None, grad
                if wd:
                    g = g + wd * (p if rows is None else p[rows])
                if mom:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    buf = state["momentum_buffer"]
                    if rows is None:
                        buf.mul_(mom).add_(g)
                        b = buf
                    else:
                        b = buf[rows].mul_(mom).add_(g)
                        buf[rows] = b
                    g = g + mom * b if nesterov else b
                if rows is None:
                    p.add_(g, alpha=-lr)
                else:
                    p.index_add_(0, rows, g, alpha=-lr)
        return loss


class SplitOptimizer:
    """A dense and a row-sparse optimiser stepped together (see the module docstring).

    Duck-types the parts of ``torch.optim.Optimizer`` the trainer uses: ``param_groups`` (the
    dense groups, then the sparse ones: setting ``lr`` there sets it in both), ``state``,
    ``zero_grad``, ``step``, ``state_dict`` / ``load_state_dict``. A dense gradient on a
    row-sparse table (e.g. a loss computed on full logits) is made row-sparse, and a sparse
    gradient on a dense parameter dense, so a step never fails on a layout."""

    def __init__(
        self,
        dense: torch.optim.Optimizer | None,
        sparse: torch.optim.Optimizer,
        sparse_weight_decay: float = 0.0,
    ) -> None:
        self.dense = dense
        self.sparse = sparse
        self.sparse_weight_decay = sparse_weight_decay
        self.optimizers = [o for o in (dense, sparse) if o is not None]

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [g for o in self.optimizers for g in o.param_groups]

    @property
    def state(self) -> dict[Any, Any]:
        return {k: v for o in self.optimizers for k, v in o.state.items()}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for o in self.optimizers:
            o.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self) -> None:
        if self.dense is not None:
            for group in self.dense.param_groups:
                for p in group["params"]:
                    if p.grad is not None and p.grad.is_sparse:
                        p.grad = p.grad.to_dense()
        wd = self.sparse_weight_decay
        for group in self.sparse.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if not p.grad.is_sparse:
                    p.grad = p.grad.to_sparse(sparse_dim=1)
                if wd and isinstance(self.sparse, torch.optim.SparseAdam):
                    g = p.grad.coalesce()
                    rows = g.indices()[0]
                    values = g.values() + wd * p[rows]
                    p.grad = torch.sparse_coo_tensor(g.indices(), values, g.shape)
        for o in self.optimizers:
            o.step()

    def state_dict(self) -> dict[str, Any]:
        return {"optimizers": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for o, s in zip(self.optimizers, state["optimizers"], strict=True):
            o.load_state_dict(s)


def make_optimizer(
    params: Iterable[torch.nn.Parameter],
    name: str,
    *,
    learning_rate: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    sparse: Iterable[torch.nn.Parameter] = (),
) -> torch.optim.Optimizer | SplitOptimizer:
    """The optimiser a genome names (see the module docstring). Parameters also listed in
    ``sparse`` (:func:`row_sparse_parameters`) get the lazy row-sparse counterpart and the
    result is a :class:`SplitOptimizer`; without any, the plain torch optimiser."""
    if not learning_rate > 0:
        raise AutorecError(
            "gene learning_rate", f"must be > 0, got {learning_rate}", "set learning_rate > 0"
        )
    if not 0 <= momentum < 1:
        raise AutorecError(
            "gene momentum", f"must be in [0, 1), got {momentum}", "set momentum in [0, 1)"
        )
    sparse_ids = {id(p) for p in sparse}
    all_params = [p for p in params if p.requires_grad]
    plist = [p for p in all_params if id(p) not in sparse_ids]
    slist = [p for p in all_params if id(p) in sparse_ids]
    if slist:
        if name not in OPTIMIZERS:
            raise AutorecError(
                "gene optimizer",
                f"unknown optimizer {name!r}",
                f"use one of {', '.join(OPTIMIZERS)}",
            )
        dense = (
            _dense_optimizer(plist, name, learning_rate, momentum, weight_decay) if plist else None
        )
        lazy: torch.optim.Optimizer
        if name == "adam":
            lazy = torch.optim.SparseAdam(slist, lr=learning_rate, betas=(momentum, 0.999))
        else:
            lazy = LazySGD(
                slist,
                lr=learning_rate,
                momentum=momentum,
                nesterov=name == "nesterov" and momentum > 0,
                weight_decay=weight_decay,
            )
        return SplitOptimizer(dense, lazy, weight_decay if name == "adam" else 0.0)
    return _dense_optimizer(plist, name, learning_rate, momentum, weight_decay)


def _dense_optimizer(
    plist: list[torch.nn.Parameter],
    name: str,
    learning_rate: float,
    momentum: float,
    weight_decay: float,
) -> torch.optim.Optimizer:
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
