"""Optimisers, the step-decay schedule, seeding and threads (DRNN paper Sec. V.D).

The genome's basic genes pick the optimiser: ``sgd`` (plain SGD with heavy-ball
``momentum``), ``nesterov`` (SGD with Nesterov momentum; with ``momentum == 0`` Nesterov's
update *is* plain SGD, and torch refuses ``nesterov=True`` without momentum, so plain SGD is
used), ``adam`` (``momentum`` is Adam's β1, its first-moment decay; β2 = 0.999).

Step decay: the DRNN paper starts at ϕ = 0.1 and sets ϕ = ϕ/5 after every 100 epochs; the
genes ``lr_step`` (epochs between divisions) and ``lr_factor`` (the divisor) generalise it:
the rate of epoch ``e`` (0-based) is ``learning_rate / lr_factor ** (e // lr_step)``.

Row-sparse item tables: the generated networks give their item-sized tables
row-sparse gradients (``nn.EmbeddingBag(sparse=True)``; with ``output: sampled`` the output
rows of a batch's candidate items, read with ``F.embedding(..., sparse=True)``) and flag the
layers ``sparse``. :func:`row_sparse_parameters` finds those tables' weights; given them,
:func:`make_optimizer` returns a :class:`SplitOptimizer`: the genome's optimiser over the dense
parameters and a lazy row-sparse one over the tables, which updates only the rows a batch
touched. Adam: :class:`LazyAdam` (lazy Adam, the arithmetic of ``torch.optim.SparseAdam``: the
moments of untouched rows are not decayed; 3-4x faster than SparseAdam on the item tables).
SGD / Nesterov: :class:`LazySGD` (torch's SGD accepts sparse gradients but keeps a sparse
momentum buffer whose rows accumulate until every step touches the whole table; lazy momentum
updates ``buf[r]`` and ``W[r]`` for touched rows only). Both are the usual lazy approximations
(TensorFlow's LazyAdam, PyTorch's SparseAdam); with ``momentum == 0`` SGD's lazy update is
exact. The step schedule sets the rate of both halves (their groups are in ``param_groups``).
The dense half (and the optimiser of a network without row-sparse tables) is torch's SGD / Adam
with its fused CPU/GPU kernel where this torch has one (same arithmetic, one pass over the
parameters), else its default implementation. Without row-sparse parameters the plain torch
optimiser is returned.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import torch

from autorec.errors import AutorecError

__all__ = [
    "OPTIMIZERS",
    "LazyAdam",
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


#: Rows of a table updated together by the lazy optimisers on CPU: their gathered rows (about
#: 1 MiB per tensor) stay in the core's cache between the gather, the update and the scatter.
_CHUNK_ELEMENTS = 1 << 18


def _row_chunk(p: torch.Tensor, n_rows: int) -> int:
    """Rows per chunk of a lazy update of ``p``: cache-sized on CPU, all rows elsewhere."""
    if p.device.type != "cpu":
        return max(n_rows, 1)
    return max(1, _CHUNK_ELEMENTS // max(1, p[0].numel() if p.dim() else 1))


class _Scratch:
    """Work buffers a lazy optimiser reuses from step to step (a view of the requested shape
    at the start of a flat buffer, grown when too small). Allocating them afresh each step
    costs a page fault per 4 KiB on CPU, where a block of 1 MiB or more is a fresh mapping."""

    def __init__(self) -> None:
        self._bufs: dict[tuple[str, torch.device, torch.dtype], torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        n = math.prod(shape)
        key = (name, like.device, like.dtype)
        buf = self._bufs.get(key)
        if buf is None or buf.numel() < n:
            buf = torch.empty(max(n, 1), device=like.device, dtype=like.dtype)
            self._bufs[key] = buf
        return buf[:n].view(shape)


def _row_sparse(
    grad: torch.Tensor, scratch: _Scratch | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct rows of a row-sparse gradient, ascending, and their summed gradient rows:
    one coalesce. A gradient whose rows are already distinct and ascending (the sampled output's
    candidates) is used as it is; on CPU duplicates are summed with ``torch.unique`` and one
    ``index_add_`` (cheaper than ``coalesce``'s sort-and-copy; into a ``scratch`` buffer if
    given); elsewhere by ``coalesce`` (deterministic). The gradient itself is left alone."""
    if grad.sparse_dim() != 1:
        grad = grad.coalesce().to_dense().to_sparse(sparse_dim=1)
    if grad.is_coalesced():
        return grad.indices()[0], grad.values()
    rows, values = grad._indices()[0], grad._values()
    if rows.numel() < 2 or bool((rows[1:] > rows[:-1]).all()):
        return rows, values
    if grad.device.type != "cpu":
        grad = grad.coalesce()
        return grad.indices()[0], grad.values()
    distinct, inverse = torch.unique(rows, sorted=True, return_inverse=True)
    shape = (len(distinct), *values.shape[1:])
    summed = values.new_empty(shape) if scratch is None else scratch.get("sum", shape, values)
    return distinct, summed.zero_().index_add_(0, inverse, values)


def _closure_loss(closure: Callable[[], float] | None) -> float | None:
    """The loss a ``step(closure)`` re-evaluates, with gradients on (torch's convention)."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


class _AdamHyper(NamedTuple):
    lr: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float


def _adam_kernel(
    param: torch.Tensor,
    grad: torch.Tensor,
    exp_avg: torch.Tensor,
    exp_avg_sq: torch.Tensor,
    step: int,
    hyper: _AdamHyper,
) -> None:
    """One Adam update of contiguous ``param``, ``exp_avg``, ``exp_avg_sq`` in place, with
    SparseAdam's arithmetic: ``m = m + (1 - β1)(g - m)``, ``v = β2 v + (1 - β2) g²``,
    ``param -= lr √(1 - β2^t) / (1 - β1^t) · m / (√v + eps)`` (``g`` plus ``weight_decay ·
    param``). torch's fused Adam kernel (one pass) where this torch has one on the device -- its
    ``eps`` is added after the bias correction of ``√v``, so it gets ``eps / √(1 - β2^t)`` --
    else the same with single ops."""
    lr, beta1, beta2, eps, weight_decay = hyper
    bc2 = 1.0 - beta2**step
    if _FUSED_ADAM.get(param.device.type, True):
        try:
            torch._fused_adam_(
                [param],
                [grad],
                [exp_avg],
                [exp_avg_sq],
                [],
                [torch.tensor(float(step), device=param.device)],
                lr=lr,
                beta1=beta1,
                beta2=beta2,
                weight_decay=weight_decay,
                eps=eps / math.sqrt(bc2),
                amsgrad=False,
                maximize=False,
            )
            _FUSED_ADAM[param.device.type] = True
            return
        except (RuntimeError, NotImplementedError, AttributeError):
            if param.device.type in _FUSED_ADAM:  # it worked before: a real error
                raise
            _FUSED_ADAM[param.device.type] = False
    if weight_decay:
        grad = grad.add(param, alpha=weight_decay)
    exp_avg.lerp_(grad, 1.0 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
    step_size = lr * math.sqrt(bc2) / (1.0 - beta1**step)
    param.addcdiv_(exp_avg, exp_avg_sq.sqrt().add_(eps), value=-step_size)


#: Whether ``torch._fused_adam_`` runs on a device type (found out on first use).
_FUSED_ADAM: dict[str, bool] = {}


class _LazyRowOptimizer(torch.optim.Optimizer):
    """What the lazy optimisers share: reused work buffers and a ``step`` that hands every
    parameter with a gradient, with its group, to ``_update``."""

    def __init__(self, params: Iterable[torch.nn.Parameter], defaults: dict[str, Any]) -> None:
        super().__init__(params, defaults)
        self._scratch = _Scratch()

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = _closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad, group)
        return loss

    def _update(self, p: torch.Tensor, grad: torch.Tensor, group: dict[str, Any]) -> None:
        raise NotImplementedError


class LazyAdam(_LazyRowOptimizer):
    """Lazy Adam for row-sparse gradients: the arithmetic of ``torch.optim.SparseAdam`` (for
    the rows ``r`` a batch touched, ``m[r] = β1 m[r] + (1 - β1) g[r]``, ``v[r] = β2 v[r] +
    (1 - β2) g[r]²``, ``W[r] -= lr √(1 - β2^t) / (1 - β1^t) · m[r] / (√v[r] + eps)`` with ``t``
    the parameter's step count; other rows and their moments wait), in a few passes over the
    touched rows.

    Why: SparseAdam builds its update from sparse-tensor algebra -- ``coalesce``, two
    ``sparse_mask`` gathers, ``sub``/``mul``/``pow``/``sqrt``/``add``/``div`` on the value rows,
    three sparse ``add_`` that coalesce again -- about ten full passes over the touched rows,
    each an uncached stream of ``rows x width`` floats; on the sampled output's two item tables
    (100,000 x 1000) it took ~70 % of a training step. Here the duplicates are summed once
    (:func:`_row_sparse`), and in cache-sized chunks of rows ``m`` and ``v`` are gathered once
    (``index_select``), updated by torch's fused Adam kernel into a zeroed delta (so ``W`` is
    not gathered: ``W.index_add_(delta)`` applies it as SparseAdam's sparse ``add_`` does) and
    scattered back (``index_copy_``).

    ``weight_decay`` is the lazy L2 term: ``g[r] += weight_decay · W[r]`` for touched rows. A
    dense gradient updates every row (the same arithmetic on the whole tensor). The state keys
    are SparseAdam's (``step``, ``exp_avg``, ``exp_avg_sq``), so its ``state_dict`` loads."""

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        if not lr > 0:
            raise ValueError(f"invalid learning rate {lr}")
        if not eps > 0:
            raise ValueError(f"invalid eps {eps}")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"invalid betas {betas}")
        if not weight_decay >= 0:
            raise ValueError(f"invalid weight_decay {weight_decay}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    def _update(self, p: torch.Tensor, grad: torch.Tensor, group: dict[str, Any]) -> None:
        beta1, beta2 = (float(b) for b in group["betas"])
        hyper = _AdamHyper(
            lr=float(group["lr"]),
            beta1=beta1,
            beta2=beta2,
            eps=float(group["eps"]),
            weight_decay=float(group.get("weight_decay", 0.0)),
        )
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["step"] = step = int(state["step"]) + 1
        m, v = state["exp_avg"], state["exp_avg_sq"]
        if not grad.is_sparse:  # dense: every row
            pc, mc, vc = p.contiguous(), m.contiguous(), v.contiguous()
            _adam_kernel(pc, grad.contiguous(), mc, vc, step, hyper)
            for t, c in ((p, pc), (m, mc), (v, vc)):
                if t.data_ptr() != c.data_ptr():
                    t.copy_(c)
            return
        rows, values = _row_sparse(grad, self._scratch)
        lazy = hyper._replace(weight_decay=0.0)  # applied to the gathered rows here
        chunk = _row_chunk(p, len(rows))
        for start in range(0, len(rows), chunk):
            r = rows[start : start + chunk]
            g = values[start : start + chunk]
            work = self._scratch.get("rows", (4, len(r), *p.shape[1:]), p)
            mr = torch.index_select(m, 0, r, out=work[0])
            vr = torch.index_select(v, 0, r, out=work[1])
            delta = work[2].zero_()  # the kernel's "parameter": it receives the update
            if hyper.weight_decay:
                g = torch.add(
                    g,
                    torch.index_select(p, 0, r, out=work[3]),
                    alpha=hyper.weight_decay,
                    out=work[3],
                )
            _adam_kernel(delta, g.contiguous(), mr, vr, step, lazy)
            p.index_add_(0, r, delta)
            m.index_copy_(0, r, mr)
            v.index_copy_(0, r, vr)


class LazySGD(_LazyRowOptimizer):
    """SGD with heavy-ball or Nesterov momentum for row-sparse gradients, lazily: for the rows
    ``r`` a batch touched, ``buf[r] = momentum * buf[r] + g[r]`` and ``W[r] -= lr * buf[r]``
    (Nesterov: ``lr * (g[r] + momentum * buf[r])``); other rows and their momentum wait.
    ``weight_decay`` is added to the touched rows' gradients. A dense gradient updates every
    row (same arithmetic as ``torch.optim.SGD``). Like :class:`LazyAdam`: duplicates summed
    once, then in cache-sized chunks of rows one gather of ``buf`` (``index_select``), in-place
    ops, one scatter of each of ``buf`` and ``W``."""

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

    def _update(self, p: torch.Tensor, grad: torch.Tensor, group: dict[str, Any]) -> None:
        lr, mom = float(group["lr"]), float(group["momentum"])
        wd, nesterov = float(group["weight_decay"]), bool(group["nesterov"])
        buf: torch.Tensor | None = None
        if mom:
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = torch.zeros_like(p)
            buf = state["momentum_buffer"]
        if not grad.is_sparse:
            g = grad if not wd else grad.add(p, alpha=wd)
            if buf is not None:
                buf.mul_(mom).add_(g)
                g = g.add(buf, alpha=mom) if nesterov else buf
            p.add_(g, alpha=-lr)
            return
        rows, values = _row_sparse(grad, self._scratch)
        chunk = _row_chunk(p, len(rows))
        for start in range(0, len(rows), chunk):
            r = rows[start : start + chunk]
            g = values[start : start + chunk]
            work = self._scratch.get("rows", (2, len(r), *p.shape[1:]), p)
            if wd:
                g = torch.add(g, torch.index_select(p, 0, r, out=work[0]), alpha=wd, out=work[0])
            if buf is not None:
                b = torch.index_select(buf, 0, r, out=work[1]).mul_(mom).add_(g)
                buf.index_copy_(0, r, b)
                g = torch.add(g, b, alpha=mom, out=work[0]) if nesterov else b
            p.index_add_(0, r, g, alpha=-lr)


class SplitOptimizer:
    """A dense and a row-sparse optimiser stepped together (see the module docstring).

    Duck-types the parts of ``torch.optim.Optimizer`` the trainer uses: ``param_groups`` (the
    dense groups, then the sparse ones: setting ``lr`` there sets it in both), ``state``,
    ``zero_grad``, ``step``, ``state_dict`` / ``load_state_dict``. A dense gradient on a
    row-sparse table (e.g. a loss computed on full logits) is made row-sparse, and a sparse
    gradient on a dense parameter dense, so a step never fails on a layout. The lazy L2 term
    is the sparse half's own ``weight_decay`` (:class:`LazyAdam`, :class:`LazySGD`)."""

    def __init__(
        self,
        dense: torch.optim.Optimizer | None,
        sparse: torch.optim.Optimizer,
    ) -> None:
        self.dense = dense
        self.sparse = sparse
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
        for group in self.sparse.param_groups:
            for p in group["params"]:
                if p.grad is not None and not p.grad.is_sparse:
                    p.grad = p.grad.to_sparse(sparse_dim=1)
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
            lazy = LazyAdam(
                slist, lr=learning_rate, betas=(momentum, 0.999), weight_decay=weight_decay
            )
        else:
            lazy = LazySGD(
                slist,
                lr=learning_rate,
                momentum=momentum,
                nesterov=name == "nesterov" and momentum > 0,
                weight_decay=weight_decay,
            )
        return SplitOptimizer(dense, lazy)
    return _dense_optimizer(plist, name, learning_rate, momentum, weight_decay)


def _dense_optimizer(
    plist: list[torch.nn.Parameter],
    name: str,
    learning_rate: float,
    momentum: float,
    weight_decay: float,
) -> torch.optim.Optimizer:
    if name not in OPTIMIZERS:
        raise AutorecError(
            "gene optimizer", f"unknown optimizer {name!r}", f"use one of {', '.join(OPTIMIZERS)}"
        )
    make: Callable[..., torch.optim.Optimizer]
    kwargs: dict[str, Any] = {"lr": learning_rate, "weight_decay": weight_decay}
    if name == "adam":
        make = torch.optim.Adam
        kwargs["betas"] = (momentum, 0.999)
    else:  # Nesterov without momentum is plain SGD (torch refuses nesterov=True there)
        make = torch.optim.SGD
        kwargs.update(momentum=momentum, nesterov=name == "nesterov" and momentum > 0)
    if plist:
        # the fused kernel (one pass over each parameter); torch refuses it where it has none
        # for a parameter's device or dtype (and before 2.4 on CPU): the default then
        try:
            return make(plist, fused=True, **kwargs)
        except (RuntimeError, ValueError, TypeError):
            pass
    return make(plist, **kwargs)


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
