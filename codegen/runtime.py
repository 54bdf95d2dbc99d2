"""The runtime of generated networks: everything a generated ``model.py`` composes that is
written once (torch only; shipped beside ``model.py`` in every export bundle).

* **configs** -- :class:`DrnnConfig` / :class:`PredictorConfig`, the frozen numbers a
  generated ``Net(config)`` is built from (the code generator writes them from a validated
  spec, never from user text);
* **item-sized layers** -- :func:`item_input` (sparse ``EmbeddingBag`` input, row-sparse
  gradient) and :func:`item_output` (output layer over the catalogue). One device is the
  trivial case of sharding: the factories return the plain torch layer for one device and
  :class:`ShardedEmbeddingBag` / :class:`ShardedLinear` (rows / output columns split by item
  id, docs/design.md#model-parallel-sharding) for several, built whole on the CPU first so one seed
  gives the same numbers for any device count. A sharded output returns
  :class:`ShardedLogits` (per-device column blocks);
* **candidate sampling** -- :func:`sample_candidates` / :class:`SampledLogits` (a sampled
  output: the batch's positives plus uniformly drawn items with importance weights, the logQ
  correction) and :func:`item_scores` (an output layer restricted to candidate items);
* **bag losses** -- :func:`softmax_ce` and :func:`bce` over full, sharded or sampled logits
  (one code path: a tensor is one shard, a sampled block one shard with column weights), and
  the family losses :func:`drnn_loss` / :func:`predictor_loss` that receive what a generated
  ``forward`` returned;
* **time decay** -- :func:`td` (soft-split eq. 5) and :class:`LearntDecay` (eq. 4);
* **cross-shard top-K** -- :func:`sharded_topk`, and state-dict helpers
  (:func:`gathered_state_dict`) that give a sharded network's state the unsharded names.

Placement: the primary device is ``devices[0]``; inputs arrive there and results are
returned there. ``devices`` may repeat (``("cpu", "cpu")``), which is how CI checks the
sharded path without GPUs. Shards keep their own devices through ``module.to(...)`` (a dtype
change is applied, a device move is ignored for the shards; see ``_PinnedShards._apply``).
Shard sizes follow ``numpy.array_split``: the first ``n % k`` shards get one row more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "Batch",
    "DrnnConfig",
    "LearntDecay",
    "Logits",
    "Out",
    "PredictorConfig",
    "SampledLogits",
    "Sampler",
    "ShardedEmbeddingBag",
    "ShardedLinear",
    "ShardedLogits",
    "TrainOut",
    "ViewPath",
    "add_at",
    "as_sharded",
    "bag_rows",
    "bce",
    "candidates",
    "cat_logits",
    "drnn_loss",
    "gather_logits",
    "gathered_state_dict",
    "init_item_bias",
    "item_input",
    "item_output",
    "item_scores",
    "item_sharded_children",
    "item_sq_norm",
    "kl_sparsity",
    "l2_penalty",
    "logsumexp",
    "pick_logits",
    "predictor_loss",
    "recurrence",
    "sample_candidates",
    "shard_starts",
    "sharded_topk",
    "softmax_ce",
    "split_state_dict",
    "squared_norm",
    "td",
    "train_out",
    "union_bags",
]

#: A batch dict (CONTRACTS "Batch dicts"): flat bag lists plus per-row tensors.
Batch = dict[str, Tensor]


# ---- configs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrnnConfig:
    """The numbers of a generated DRNN (DRNN paper Sec. III; fields as in ``codegen.DrnnSpec``).

    ``state_negatives``: items sampled per training batch for the cost of the states before the
    last (shortened-path training, Sec. III.E) when the output is otherwise full -- ``None``
    scores every item at every state. The last state (the prediction) is always scored over the
    whole catalogue unless ``output`` is ``"sampled"``; evaluation always is. ``view_scale``:
    the initial scale of the view path (``None``: no view path)."""

    n_pages: int
    n_items: int
    width: int
    units: tuple[int, ...]
    height: int = 0
    dropout: float = 0.0
    loss: str = "softmax"
    l2: float = 0.0
    fnn_layers: int | None = None
    fnn_units: int | None = None
    view_scale: float | None = None
    output: str = "full"
    negatives: int | None = None
    state_negatives: int | None = None


@dataclass(frozen=True)
class PredictorConfig:
    """The numbers of a generated predictor / auto-encoder (soft-split paper eq. 3-9; fields
    as in ``codegen.PredictorSpec``; weights of cost terms a split mode does not use are 0)."""

    n_items: int
    units: tuple[int, ...]
    noise: float = 0.0
    dropout: float = 0.0
    input_dropout: float = 0.0
    input_norm: bool = False
    decay_mode: str = "none"
    ti: float = 1.0
    split_mode: str = "predictor"
    loss: str = "bce"
    w1: float = 0.0
    w0: float = 0.0
    wa1: float = 0.0
    wa0: float = 0.0
    wp1: float = 0.0
    wp0: float = 0.0
    to: float = 1.0
    l2: float = 0.0
    beta: float = 0.0
    rho: float = 0.05
    output: str = "full"
    negatives: int | None = None


# ---- item-sized layers ---------------------------------------------------------------------


def shard_starts(n: int, k: int) -> list[int]:
    """Start row of each of ``k`` contiguous shards of ``n`` rows, plus ``n`` at the end.

    ``numpy.array_split`` sizes: the first ``n % k`` shards hold ``n // k + 1`` rows.
    """
    if k < 1:
        raise ValueError(f"need at least one shard, got k={k}")
    if n < k:
        raise ValueError(f"cannot split {n} rows into {k} non-empty shards; use fewer devices")
    base, extra = divmod(n, k)
    starts = [0]
    for s in range(k):
        starts.append(starts[-1] + base + (1 if s < extra else 0))
    return starts


def bag_rows(offsets: Tensor, n_indices: int) -> Tensor:
    """Row (bag) number of every flat index, from ``nn.EmbeddingBag`` style offsets."""
    lengths = torch.diff(offsets, append=offsets.new_tensor([n_indices]))
    rows = torch.arange(offsets.numel(), device=offsets.device)
    return torch.repeat_interleave(rows, lengths, output_size=n_indices)


def _route(idx: Tensor, starts: Sequence[int]) -> Tensor:
    """Shard number of every item index (contiguous ranges given by ``starts``)."""
    bounds = torch.tensor(list(starts[1:-1]), dtype=idx.dtype, device=idx.device)
    return torch.bucketize(idx, bounds, right=True)


class _Shard(nn.Module):
    """The rows of one device: ``weight`` (and ``bias``) of the items ``starts[s]..``."""

    bias: nn.Parameter | None

    def __init__(self, weight: Tensor, bias: Tensor | None, requires_grad: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=requires_grad)
        self.register_parameter("bias", None if bias is None else nn.Parameter(bias))


class _PinnedShards(nn.Module):
    """Base of the sharded layers: ``shards[s]`` lives on ``devices[s]`` for good.

    ``nn.Module.to`` / ``.cuda()`` / ``.double()`` call ``_apply`` on every child. Here the
    requested function is probed on an empty tensor of each parameter's dtype to learn the
    target dtype; that dtype is applied, and each shard stays on its own device. So
    ``net.to(devices[0])`` places the rest of a network and leaves the shards be.
    """

    is_item_sharded = True
    #: Row-sparse gradients (``nn.Embedding``'s flag): the item rows a batch reads get a sparse
    #: gradient on each shard, so the optimiser updates only those rows.
    sparse = False

    def __init__(self, n_items: int, devices: Sequence[str | torch.device]) -> None:
        super().__init__()
        if len(devices) < 1:
            raise ValueError("devices must name at least one device")
        self.devices = [torch.device(d) for d in devices]
        self.primary = self.devices[0]
        self.n_items = n_items
        self.starts = shard_starts(n_items, len(self.devices))
        self.shards = nn.ModuleList()

    @property
    def parts(self) -> list[_Shard]:
        """The shards, in item order (``parts[s]`` lives on ``devices[s]``)."""
        return [cast(_Shard, m) for m in self.shards]

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> _PinnedShards:
        for shard, device in zip(self.parts, self.devices, strict=True):

            def pin(t: Tensor, device: torch.device = device) -> Tensor:
                probe = fn(torch.empty(0, dtype=t.dtype, device=t.device))
                return t.to(device=device, dtype=probe.dtype)

            shard._apply(pin, recurse)  # type: ignore[no-untyped-call]
        return self

    # -- state dict (unsharded names and shapes) -------------------------------------------

    def gathered_parameters(self) -> dict[str, Tensor]:
        """The unsharded ``weight`` (and ``bias``) as detached CPU tensors."""
        names = [name for name, _ in self.shards[0].named_parameters()]
        out: dict[str, Tensor] = {}
        for name in names:
            parts = [dict(sh.named_parameters())[name].detach().cpu() for sh in self.shards]
            out[name] = torch.cat(parts, dim=0)
        return out

    def split_parameters(self, full: dict[str, Tensor]) -> dict[str, Tensor]:
        """Inverse of :meth:`gathered_parameters`: ``{"shards.s.name": rows of shard s}``."""
        out: dict[str, Tensor] = {}
        for name, tensor in full.items():
            if tensor.shape[0] != self.n_items:
                raise ValueError(
                    f"{name}: expected {self.n_items} rows (items), got {tuple(tensor.shape)}"
                )
            for s in range(len(self.shards)):
                out[f"shards.{s}.{name}"] = tensor[self.starts[s] : self.starts[s + 1]]
        return out

    def sq_norm(self, name: str = "weight") -> Tensor:
        """Sum of squares of the unsharded ``name`` parameter (for the L2 penalty), on the
        primary device, without gathering the parameter."""
        total = torch.zeros((), device=self.primary)
        for shard in self.shards:
            total = total + squared_norm(dict(shard.named_parameters())[name]).to(self.primary)
        return total

    def row_sq_norm(self, rows: Tensor, name: str = "weight") -> Tensor:
        """Sum of squares of the distinct rows ``rows`` (item ids on the primary device) of
        the unsharded ``name`` parameter, on the primary device: each shard reads its own rows
        (row-sparse gradient when the layer is ``sparse``) -- the lazy L2 of a row-sparse
        table, the same value as :meth:`sq_norm` restricted to those rows."""
        rows = torch.unique(rows)
        shard_of = _route(rows, self.starts)
        total = torch.zeros((), device=self.primary)
        for s, shard in enumerate(self.parts):
            param = dict(shard.named_parameters())[name]
            local = (rows[shard_of == s] - self.starts[s]).to(param.device)
            part = F.embedding(local, param, sparse=self.sparse)
            total = total + part.pow(2).sum().to(self.primary)
        return total

    def _gathered(self, name: str) -> Tensor:
        parts = [dict(sh.named_parameters())[name].to(self.primary) for sh in self.shards]
        return torch.cat(parts, dim=0)


class ShardedEmbeddingBag(_PinnedShards):
    """``nn.EmbeddingBag(n_items, dim, mode="sum")`` with its rows split by item id.

    ``forward(input, offsets, per_sample_weights)`` takes the flat 1-D form of
    ``nn.EmbeddingBag`` (``offsets`` has one start per bag, no trailing offset) on the
    primary device and returns ``[B, dim]`` there. Gradients reach every shard through the
    per-device ``embedding_bag`` and the device copies, so they equal the unsharded ones.
    ``mode="mean"`` divides the summed partial bags by the bag sizes (empty bag -> 0).
    """

    def __init__(
        self,
        n_items: int,
        dim: int,
        devices: Sequence[str | torch.device],
        *,
        mode: str = "sum",
        full: nn.EmbeddingBag | None = None,
        sparse: bool = False,
    ) -> None:
        super().__init__(n_items, devices)
        self.sparse = sparse
        if mode not in ("sum", "mean"):
            raise ValueError(f"ShardedEmbeddingBag supports mode sum or mean, got {mode!r}")
        if full is None:  # same construction (and RNG use) as the unsharded layer
            full = nn.EmbeddingBag(n_items, dim, mode=mode)
        if full.num_embeddings != n_items or full.embedding_dim != dim:
            raise ValueError("full layer shape does not match n_items x dim")
        if full.padding_idx is not None or full.max_norm is not None:
            raise ValueError("ShardedEmbeddingBag does not support padding_idx or max_norm")
        self.dim = dim
        self.mode = mode
        weight = full.weight.detach()
        for s, device in enumerate(self.devices):
            rows = weight[self.starts[s] : self.starts[s + 1]].clone().to(device)
            self.shards.append(_Shard(rows, None, requires_grad=full.weight.requires_grad))

    @classmethod
    def from_module(
        cls, full: nn.EmbeddingBag, devices: Sequence[str | torch.device]
    ) -> ShardedEmbeddingBag:
        """Split an existing (initialised) ``nn.EmbeddingBag``."""
        return cls(
            full.num_embeddings,
            full.embedding_dim,
            devices,
            mode=full.mode,
            full=full,
            sparse=full.sparse,
        )

    @property
    def weight(self) -> Tensor:
        """The unsharded weight gathered on the primary device (differentiable; costs a
        copy -- prefer :meth:`sq_norm` for penalties)."""
        return self._gathered("weight")

    def forward(
        self, input: Tensor, offsets: Tensor, per_sample_weights: Tensor | None = None
    ) -> Tensor:
        if input.dim() != 1:
            raise ValueError("ShardedEmbeddingBag takes the flat form: 1-D input plus offsets")
        n_bags = offsets.numel()
        bag = bag_rows(offsets, input.numel())
        shard_of = _route(input, self.starts)
        weight0 = self.parts[0].weight
        out = torch.zeros((n_bags, self.dim), dtype=weight0.dtype, device=self.primary)
        for s, (shard, device) in enumerate(zip(self.parts, self.devices, strict=True)):
            mine = shard_of == s
            idx = input[mine] - self.starts[s]
            if idx.numel() == 0:
                continue
            counts = torch.bincount(bag[mine], minlength=n_bags)
            offs = torch.cumsum(counts, 0) - counts
            psw = None if per_sample_weights is None else per_sample_weights[mine].to(device)
            part = F.embedding_bag(
                idx.to(device),
                shard.weight,
                offs.to(device),
                mode="sum",
                per_sample_weights=psw,
                sparse=self.sparse,
            )
            out = out + part.to(self.primary)
        if self.mode == "mean":
            sizes = torch.diff(offsets, append=offsets.new_tensor([input.numel()]))
            out = out / sizes.clamp_min(1).unsqueeze(1).to(out.dtype)
        return out


class ShardedLogits:
    """Item logits ``[B, ..., n_items]`` held as per-device column blocks.

    ``blocks[s]`` is ``[B, ..., starts[s+1] - starts[s]]`` on ``devices[s]`` and holds the
    items ``starts[s]..starts[s+1]-1`` (the last dimension). Leading dimensions (batch, and
    e.g. the DRNN's states) behave like a tensor's: ``logits[:, -1]``, ``unsqueeze(1)``,
    ``+`` (broadcasting), ``index_put((rows, items), values, accumulate=True)``. Use the
    module-level reductions on it, or :meth:`gather` for the full tensor on the primary.
    """

    is_item_sharded = True

    def __init__(self, blocks: list[Tensor], starts: list[int], primary: torch.device) -> None:
        if len(starts) != len(blocks) + 1:
            raise ValueError("need one start per block plus the total")
        self.blocks = blocks
        self.starts = starts
        self.primary = torch.device(primary)

    @property
    def n_items(self) -> int:
        return self.starts[-1]

    @property
    def shape(self) -> torch.Size:
        return torch.Size([*self.blocks[0].shape[:-1], self.n_items])

    @property
    def dtype(self) -> torch.dtype:
        return self.blocks[0].dtype

    @property
    def device(self) -> torch.device:
        """The primary device (where reductions return their results)."""
        return self.primary

    def dim(self) -> int:
        return self.blocks[0].dim()

    def __len__(self) -> int:
        return self.blocks[0].shape[0]

    def _new(self, blocks: list[Tensor]) -> ShardedLogits:
        return ShardedLogits(blocks, self.starts, self.primary)

    def gather(self) -> Tensor:
        """The full ``[B, ..., n_items]`` logits on the primary device (differentiable)."""
        return torch.cat([b.to(self.primary) for b in self.blocks], dim=-1)

    def map(self, fn: Callable[[Tensor], Tensor]) -> ShardedLogits:
        """Apply an element-wise function to every block (e.g. ``torch.sigmoid``)."""
        return self._new([fn(b) for b in self.blocks])

    def detach(self) -> ShardedLogits:
        return self.map(Tensor.detach)

    def __getitem__(self, key: object) -> ShardedLogits:
        """Index the leading dimensions only (``logits[:, -1]``, ``logits[:, :-1]``)."""
        parts = key if isinstance(key, tuple) else (key,)
        if any(p is Ellipsis or p is None for p in parts) or len(parts) >= self.dim():
            raise IndexError("ShardedLogits can index its leading (non-item) dimensions only")
        return self.map(lambda b: b[key])  # type: ignore[index]

    def unsqueeze(self, dim: int) -> ShardedLogits:
        """A new leading dimension at ``dim`` (``0 <= dim < self.dim()``)."""
        if not 0 <= dim < self.dim():
            raise IndexError("ShardedLogits can add leading (non-item) dimensions only")
        return self.map(lambda b: b.unsqueeze(dim))

    def _split(self, other: Tensor) -> list[Tensor]:
        """``other`` broadcast against the blocks: column slices if its last dim is items."""
        if other.dim() >= 1 and other.shape[-1] == self.n_items and self.n_items > 1:
            return [
                other[..., self.starts[s] : self.starts[s + 1]].to(b.device)
                for s, b in enumerate(self.blocks)
            ]
        return [other.to(b.device) for b in self.blocks]

    def __add__(self, other: ShardedLogits | Tensor | float) -> ShardedLogits:
        """Element-wise sum (broadcasting) with logits of the same layout, a tensor (a
        ``[..., n_items]`` tensor is split by columns, others broadcast) or a number."""
        if isinstance(other, ShardedLogits):
            if other.starts != self.starts:
                raise ValueError("cannot add ShardedLogits with different shard layouts")
            pairs = zip(self.blocks, other.blocks, strict=True)
            return self._new([a + b.to(a.device) for a, b in pairs])
        if isinstance(other, Tensor):
            pieces = self._split(other)
            return self._new([b + p for b, p in zip(self.blocks, pieces, strict=True)])
        return self.map(lambda b: b + other)

    __radd__ = __add__

    def __mul__(self, other: Tensor | float) -> ShardedLogits:
        if isinstance(other, Tensor):
            pieces = self._split(other)
            return self._new([b * p for b, p in zip(self.blocks, pieces, strict=True)])
        return self.map(lambda b: b * other)

    __rmul__ = __mul__

    def index_put(
        self, indices: tuple[Tensor, Tensor], values: Tensor, accumulate: bool = False
    ) -> ShardedLogits:
        """``[B, n_items]`` logits with ``values[j]`` put (or added) at row ``rows[j]``,
        item ``items[j]`` (``indices = (rows, items)``); out of place, differentiable."""
        if self.dim() != 2:
            raise IndexError("ShardedLogits.index_put needs [B, n_items] logits")
        rows, items = indices
        shard_of = _route(items, self.starts)
        blocks = []
        for s, block in enumerate(self.blocks):
            mine = shard_of == s
            r = rows[mine].to(block.device)
            c = (items[mine] - self.starts[s]).to(block.device)
            blocks.append(block.index_put((r, c), values[mine].to(block.device), accumulate))
        return self._new(blocks)


def as_sharded(logits: Tensor | ShardedLogits) -> ShardedLogits:
    """A plain ``[B, ..., n]`` tensor as one-shard :class:`ShardedLogits` (no copy); sharded
    logits from any copy of this file pass through unchanged."""
    if isinstance(logits, Tensor):
        return ShardedLogits([logits], [0, logits.shape[-1]], logits.device)
    return logits


def gather_logits(logits: Tensor | ShardedLogits) -> Tensor:
    """The full ``[B, ..., n_items]`` logits on the primary device (evaluation / export)."""
    if isinstance(logits, Tensor):
        return logits
    return torch.cat([b.to(logits.primary) for b in logits.blocks], dim=-1)


def cat_logits(parts: Sequence[ShardedLogits], dim: int) -> ShardedLogits:
    """``torch.cat`` of sharded logits (same layout) along a leading dimension ``dim``."""
    if not 0 <= dim < parts[0].dim() - 1:
        raise IndexError("cat_logits concatenates along leading (non-item) dimensions only")
    blocks = [torch.cat([p.blocks[s] for p in parts], dim) for s in range(len(parts[0].blocks))]
    return ShardedLogits(blocks, parts[0].starts, parts[0].primary)


class ShardedLinear(_PinnedShards):
    """``nn.Linear(in_features, n_items)`` with its output columns split across devices.

    ``forward(x)`` takes ``[B, in_features]`` on the primary device, copies it once to each
    shard device and returns :class:`ShardedLogits`. The weight of shard ``s`` is rows
    ``starts[s]..starts[s+1]-1`` of the unsharded ``[n_items, in_features]`` weight.
    """

    def __init__(
        self,
        in_features: int,
        n_items: int,
        devices: Sequence[str | torch.device],
        *,
        bias: bool = True,
        full: nn.Linear | None = None,
    ) -> None:
        super().__init__(n_items, devices)
        if full is None:  # same construction (and RNG use) as the unsharded layer
            full = nn.Linear(in_features, n_items, bias=bias)
        if full.in_features != in_features or full.out_features != n_items:
            raise ValueError("full layer shape does not match in_features x n_items")
        self.in_features = in_features
        self.has_bias = full.bias is not None
        for s, device in enumerate(self.devices):
            lo, hi = self.starts[s], self.starts[s + 1]
            weight = full.weight.detach()[lo:hi].clone().to(device)
            rows_b = None if full.bias is None else full.bias.detach()[lo:hi].clone().to(device)
            self.shards.append(_Shard(weight, rows_b))

    @classmethod
    def from_module(cls, full: nn.Linear, devices: Sequence[str | torch.device]) -> ShardedLinear:
        """Split an existing (initialised) ``nn.Linear``; its ``sparse`` flag (set on the
        output layers of a sampled output) carries over."""
        layer = cls(
            full.in_features, full.out_features, devices, bias=full.bias is not None, full=full
        )
        layer.sparse = bool(getattr(full, "sparse", False))
        return layer

    @property
    def out_features(self) -> int:
        return self.n_items

    @property
    def weight(self) -> Tensor:
        """The unsharded ``[n_items, in_features]`` weight gathered on the primary device
        (differentiable; costs a copy -- prefer :meth:`sq_norm` for penalties)."""
        return self._gathered("weight")

    @property
    def bias(self) -> Tensor | None:
        return self._gathered("bias") if self.has_bias else None

    def columns(self, cols: Tensor) -> tuple[Tensor, Tensor | None]:
        """Rows ``cols`` (item ids, any order, on the primary device) of the unsharded weight
        ``[len(cols), in_features]`` and bias, gathered on the primary device from the shards
        holding them (differentiable): the output layer restricted to a training batch's
        candidate items (sampled output). Only ``len(cols)`` rows cross devices; with
        ``sparse`` the weight rows are read with a row-sparse gradient."""
        shard_of = _route(cols, self.starts)
        w0 = self.parts[0].weight
        weight = torch.zeros((cols.numel(), self.in_features), dtype=w0.dtype, device=self.primary)
        bias = torch.zeros(cols.numel(), dtype=w0.dtype, device=self.primary)
        for s, shard in enumerate(self.parts):
            mine = shard_of == s
            local = (cols[mine] - self.starts[s]).to(shard.weight.device)
            rows_w = F.embedding(local, shard.weight, sparse=self.sparse)
            weight = weight.index_put((mine,), rows_w.to(self.primary))
            if shard.bias is not None:
                bias = bias.index_put((mine,), shard.bias[local].to(self.primary))
        return weight, bias if self.has_bias else None

    @torch.no_grad()
    def copy_bias_(self, values: Tensor) -> None:
        """Copy an unsharded ``[n_items]`` bias into the shards (each takes its slice)."""
        for s, shard in enumerate(self.parts):
            if shard.bias is not None:
                shard.bias.copy_(values[self.starts[s] : self.starts[s + 1]].to(shard.bias))

    def forward(self, x: Tensor) -> ShardedLogits:
        blocks = []
        for shard, device in zip(self.parts, self.devices, strict=True):
            blocks.append(F.linear(x.to(device), shard.weight, shard.bias))
        return ShardedLogits(blocks, self.starts, self.primary)


def item_input(num_rows: int, dim: int, devices: Sequence[str] = ("cpu",)) -> nn.Module:
    """Item-sized sparse input: ``m(idx, offsets, per_sample_weights=None)`` -> [bags, dim], the
    (weighted) sum of the rows of each bag, with a row-sparse gradient (``sparse=True``: the
    trainer's optimiser updates only a batch's rows). Several devices: built whole on the CPU
    (the same initial numbers as one device), then split row-wise by item id."""
    if len(devices) <= 1:
        return nn.EmbeddingBag(num_rows, dim, mode="sum", sparse=True, device=devices[0])
    full = nn.EmbeddingBag(num_rows, dim, mode="sum", sparse=True)
    return ShardedEmbeddingBag.from_module(full, devices)


def item_output(
    dim: int,
    n_items: int,
    devices: Sequence[str] = ("cpu",),
    *,
    bias: bool = True,
    sparse: bool = False,
) -> nn.Module:
    """Item-sized output layer: [..., dim] -> [..., n_items] logits (several devices:
    ShardedLogits, built whole on the CPU, then split column-wise by item). ``sparse``: the
    layer is trained through :func:`item_scores` over candidate items only (a sampled output),
    so its weight gets a row-sparse gradient; flagged like ``nn.Embedding`` for the optimiser."""
    if len(devices) <= 1:
        layer = nn.Linear(dim, n_items, bias=bias, device=devices[0])
        layer.sparse = sparse  # type: ignore[assignment]
        return layer
    full = nn.Linear(dim, n_items, bias=bias)
    full.sparse = sparse  # type: ignore[assignment]
    return ShardedLinear.from_module(full, devices)


def init_item_bias(layer: nn.Module, log_odds: Tensor) -> None:
    """Copy the items' prior log-odds into an output layer's bias (each shard its slice)."""
    with torch.no_grad():
        if isinstance(layer, ShardedLinear):
            layer.copy_bias_(log_odds)
        else:
            bias = cast(Tensor, layer.bias)
            bias.copy_(log_odds.to(bias))


class _SquaredNorm(torch.autograd.Function):
    """``sum(w * w)`` as one BLAS dot product, its gradient ``2 w`` times the incoming one in
    one pass: the exact L2 of a large output layer costs two passes over it a step, not the
    four or five of ``w.pow(2).sum()`` through autograd."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, w: Tensor) -> Tensor:
        ctx.save_for_backward(w)
        flat = w.reshape(-1)
        return torch.dot(flat, flat)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        (w,) = ctx.saved_tensors  # type: ignore[attr-defined]
        out: Tensor = w * (2.0 * grad)
        return out


def squared_norm(w: Tensor) -> Tensor:
    """``(w ** 2).sum()`` (differentiable; see :class:`_SquaredNorm`)."""
    return cast(Tensor, _SquaredNorm.apply(w))  # type: ignore[no-untyped-call]


def item_sq_norm(layer: nn.Module, rows: Tensor | None = None) -> Tensor:
    """Sum of squares of an item layer's weight: every row, or only the distinct ``rows`` (the
    lazy L2 of a row-sparse table: the rows a batch touched, read with a row-sparse gradient).
    A sharded layer sums its shards' parts on the primary device."""
    if isinstance(layer, _PinnedShards):
        return layer.sq_norm() if rows is None else layer.row_sq_norm(rows)
    weight = cast(Tensor, layer.weight)
    if rows is None:
        return squared_norm(weight)
    return F.embedding(torch.unique(rows), weight, sparse=True).pow(2).sum()


def l2_penalty(
    model: nn.Module, lazy: Sequence[tuple[nn.Module, Tensor | None]], l2: float
) -> Tensor:
    """``l2`` times the squared norm of every weight matrix and table of ``model`` (biases and
    gains excluded): exact on the hidden layers and on the item layers listed with rows
    ``None``; lazy on the item layers listed with the rows a batch touched (the standard lazy
    approximation of the L2 penalty of a row-sparse table, whose exact gradient would make
    every row's update dense). Shards' parts are summed on the primary device."""
    norms = [item_sq_norm(layer, rows) for layer, rows in lazy]
    done = {id(p) for layer, _ in lazy for p in layer.parameters()}
    norms += [squared_norm(p) for p in model.parameters() if p.dim() > 1 and id(p) not in done]
    return l2 * torch.stack(norms).sum()


# ---- sampled output ------------------------------------------------------------------------


class SampledLogits:
    """Training logits of a sampled output: ``scores`` [..., C] of the candidate items ``cols``
    (sorted, distinct) and each candidate's ``weight`` in the loss's sums over items."""

    def __init__(self, scores: Tensor, cols: Tensor, weight: Tensor) -> None:
        self.scores = scores
        self.cols = cols
        self.weight = weight

    def __getitem__(self, key: object) -> SampledLogits:
        """Index the leading (row, state) dimensions, like a tensor's."""
        return SampledLogits(self.scores[key], self.cols, self.weight)  # type: ignore[index]

    def __add__(self, other: SampledLogits) -> SampledLogits:
        """Element-wise sum with scores over the same candidates (broadcasting)."""
        return SampledLogits(self.scores + other.scores, self.cols, self.weight)


def sample_candidates(
    positives: Sequence[Tensor], n_items: int, negatives: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Candidate items of a training batch (sampled output), shared by its rows: the exact set P
    (every row's positives, and items the network scores far above the rest such as a session's
    viewed items) plus ``negatives`` items drawn uniformly with replacement from the catalogue
    with ``generator`` (a proposal Q = 1 / n_items). Returns the sorted distinct items and the
    weight of each in the loss's sums over items: 1 for P (its terms are exact), and for an item
    j outside P drawn c_j times c_j / (negatives * Q) = c_j * n_items / negatives -- importance
    weights whose log is the logQ correction. E[sum_j c_j f(j) / (negatives Q)] = sum_j f(j),
    so every sum over items outside P is estimated without bias (draws in P are dropped)."""
    pos = torch.cat(list(positives))
    drawn = torch.randint(0, n_items, (negatives,), generator=generator).to(pos.device)
    cols, inverse = torch.unique(torch.cat([pos, drawn]), return_inverse=True)
    ones = torch.ones(negatives, device=pos.device)
    count = torch.zeros(len(cols), device=pos.device).index_add_(0, inverse[len(pos) :], ones)
    in_p = torch.zeros(len(cols), dtype=torch.bool, device=pos.device)
    in_p[inverse[: len(pos)]] = True
    weight = torch.where(in_p, torch.ones_like(count), count * (n_items / negatives))
    return cols, weight


class Sampler:
    """The negative sampler of a network's sampled costs: ``sampler(positives)`` is
    :func:`sample_candidates` with ``negatives`` draws per batch from its own generator, seeded
    from torch's global RNG when built (after the network's parameters: one seed, one run)."""

    def __init__(self, n_items: int, negatives: int | None) -> None:
        self.n_items, self.negatives = n_items, negatives or 1
        self.generator = torch.Generator()
        self.generator.manual_seed(int(torch.randint(0, 2**62, ()).item()))

    def manual_seed(self, seed: int) -> Sampler:
        self.generator.manual_seed(seed)
        return self

    def __call__(self, positives: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        return sample_candidates(positives, self.n_items, self.negatives, self.generator)


def item_scores(layer: nn.Module, x: Tensor, cols: Tensor | None) -> Tensor | ShardedLogits:
    """``layer(x)``, or with candidate items ``cols`` only their logits x W[cols]^T + b[cols]
    (a sharded layer gathers those rows from its shards). The rows W[cols] are read with a
    row-sparse gradient, the bias with a dense one."""
    if cols is None:
        return cast(Tensor, layer(x))
    if isinstance(layer, ShardedLinear):
        weight, bias = layer.columns(cols)
    else:
        full = cast(Tensor, layer.weight)
        # a row-sparse gradient either way: a layer also scored in full (the DRNN's last
        # state) adds it to its dense one without filling an [N, dim] buffer first
        weight = F.embedding(cols, full, sparse=True)
        bias = None if layer.bias is None else cast(Tensor, layer.bias)[cols]
    return F.linear(x, weight, bias)


def add_at(
    logits: Tensor | ShardedLogits | SampledLogits, rows: Tensor, items: Tensor, values: Tensor
) -> Tensor | ShardedLogits | SampledLogits:
    """``logits`` [B, N] with ``values`` added at (``rows``, ``items``), out of place; over a
    sampled output only the items among its candidates."""
    if isinstance(logits, SampledLogits):
        cols = logits.cols
        pos = torch.searchsorted(cols, items).clamp(max=len(cols) - 1)
        keep = cols[pos] == items
        scores = logits.scores.index_put((rows[keep], pos[keep]), values[keep], accumulate=True)
        return SampledLogits(scores, cols, logits.weight)
    return logits.index_put((rows, items), values, accumulate=True)


# ---- reductions ----------------------------------------------------------------------------
# Rows are the first dimension; rows carry sparse target lists in EmbeddingBag layout
# (flat idx + one start offset per row). Middle dimensions (e.g. the DRNN's states) are kept:
# a row's targets apply to each of its middle positions, and per-row results are [B, ...].


def _reduce(per_row: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return per_row
    if reduction == "sum":
        return per_row.sum()
    if reduction == "mean":
        return per_row.mean()
    raise ValueError(f"reduction must be none, sum or mean, got {reduction!r}")


def _per_entry(weight: Tensor, like: Tensor) -> Tensor:
    """A per-entry weight ``[n]`` broadcast against per-entry values ``[n, ...]``."""
    return weight.reshape(-1, *([1] * (like.dim() - 1)))


def pick_logits(logits: Tensor | ShardedLogits, idx: Tensor, offsets: Tensor) -> Tensor:
    """``z[bag(j), ..., idx[j]]`` for every flat entry ``j``: ``[len(idx), ...]`` on the
    primary device, each entry read on the shard that holds its item."""
    sl = as_sharded(logits)
    rows = bag_rows(offsets, idx.numel())
    middle = sl.blocks[0].shape[1:-1]
    out = torch.zeros((idx.numel(), *middle), dtype=sl.dtype, device=sl.primary)
    shard_of = _route(idx, sl.starts)
    for s, block in enumerate(sl.blocks):
        mine = shard_of == s
        r, c = rows[mine].to(block.device), (idx[mine] - sl.starts[s]).to(block.device)
        out = out.index_put((mine,), block[r, ..., c].to(sl.primary))
    return out


def union_bags(bags: Sequence[tuple[Tensor, Tensor]], n_rows: int) -> tuple[Tensor, Tensor]:
    """Concatenate several bag lists row by row: row ``b`` of the result holds row ``b`` of
    every input (e.g. the set XY from X and Y). Repeats are kept."""
    idx = torch.cat([i for i, _ in bags])
    rows = torch.cat([bag_rows(o, i.numel()) for i, o in bags])
    order = torch.argsort(rows, stable=True)
    rows = rows[order]
    return idx[order], torch.searchsorted(rows, torch.arange(n_rows, device=rows.device))


def _unique_entries(
    idx: Tensor, offsets: Tensor, n_items: int, value: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Distinct (row, item) entries of a bag list: ``(rows, items, offsets, value)`` where
    a repeated item keeps its largest value (1 when ``value`` is None)."""
    rows = bag_rows(offsets, idx.numel())
    keys, inverse = torch.unique(rows * n_items + idx, return_inverse=True)
    if value is None:
        best = torch.ones(keys.shape, device=idx.device)
    else:
        best = torch.zeros(keys.shape, dtype=value.dtype, device=value.device)
        best = best.scatter_reduce(0, inverse, value, reduce="amax", include_self=False)
    u_rows, u_idx = keys // n_items, keys % n_items
    u_off = torch.searchsorted(u_rows, torch.arange(offsets.numel(), device=u_rows.device))
    return u_rows, u_idx, u_off, best


#: What a generated network's output layers return: a full ``[B, ..., N]`` tensor, sharded
#: column blocks, or the candidate columns of a sampled output.
Logits = Tensor | ShardedLogits | SampledLogits


def _columns(logits: Logits) -> tuple[ShardedLogits, Tensor | None, Tensor | None]:
    """``(column blocks, candidate items, candidate weights)``: a tensor is one block, a
    sampled output one block over its candidates (whose ids and weights come along)."""
    if isinstance(logits, SampledLogits):
        return as_sharded(logits.scores), logits.cols, logits.weight
    return as_sharded(logits), None, None


def _to_columns(
    idx: Tensor, offsets: Tensor, value: Tensor | None, cols: Tensor | None
) -> tuple[Tensor, Tensor, Tensor | None]:
    """A bag list of item ids as one of column positions among the candidates ``cols``
    (entries of other items dropped); unchanged without candidates."""
    if cols is None:
        return idx, offsets, value
    rows = bag_rows(offsets, idx.numel())
    pos = torch.searchsorted(cols, idx).clamp(max=max(len(cols) - 1, 0))
    keep = cols[pos] == idx
    new_off = torch.searchsorted(rows[keep], torch.arange(offsets.numel(), device=idx.device))
    return pos[keep], new_off, None if value is None else value[keep]


def logsumexp(logits: Logits) -> Tensor:
    """``logsumexp`` over the items, ``[B, ...]`` on the primary device. Sharded: each shard
    contributes its maximum ``m_s`` and ``S_s = sum exp(z - m_s)``, combined as
    ``m + log(sum_s exp(m_s - m) * S_s)`` (maxima detached: only the rounding depends on
    them). Sampled: logsumexp over the candidates of ``z + log weight`` (the logQ correction),
    whose exponential is an unbiased estimate of the full sum."""
    if isinstance(logits, SampledLogits):
        return torch.logsumexp(logits.scores + logits.weight.log(), -1)
    sl = as_sharded(logits)
    maxes, sums = [], []
    for block in sl.blocks:
        m = block.detach().amax(dim=-1)
        m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
        sums.append(torch.exp(block - m.unsqueeze(-1)).sum(dim=-1).to(sl.primary))
        maxes.append(m.to(sl.primary))
    m_all = torch.stack(maxes).amax(dim=0)
    total = torch.stack([s * torch.exp(m - m_all) for s, m in zip(sums, maxes, strict=True)])
    return m_all + torch.log(total.sum(dim=0))


def softmax_ce(
    logits: Logits,
    target_idx: Tensor,
    target_offsets: Tensor,
    target_weight: Tensor | None = None,
    *,
    normalize: bool = True,
    reduction: str = "mean",
) -> Tensor:
    """Softmax cross-entropy against a set of target items per row (DRNN paper Sec. III:
    softmax output and loss layers; the multinomial likelihood of Mult-DAE).

    Row ``b`` with targets ``T_b`` (weights ``w_t``, default 1) has loss
    ``sum_t w_t * (logsumexp(z_b) - z_bt)``, divided by ``sum_t w_t`` when ``normalize``:
    the cross-entropy against the target distribution ``y / |y|``. The targets are a set (an
    item listed twice in a row counts once, with its largest weight); rows without targets give
    0. ``reduction``: ``"mean"`` over all rows (and middle positions), ``"sum"`` or ``"none"``
    (``[B, ...]``). Nothing item-sized is gathered: the log-sum-exp is combined across shards
    and the target logits are read on their shards. Over a sampled output the log-partition is
    the logQ-corrected estimate (exact for the positives, which are all candidates)."""
    sl, cols, _ = _columns(logits)
    lse = logsumexp(logits)
    idx, off, value = _to_columns(target_idx, target_offsets, target_weight, cols)
    rows, t_idx, t_off, w = _unique_entries(idx, off, sl.n_items, value)
    z_t = pick_logits(sl, t_idx, t_off)
    rows, w = rows.to(sl.primary), w.to(z_t)
    per_row = torch.zeros_like(lse).index_add(0, rows, _per_entry(w, z_t) * (lse[rows] - z_t))
    if normalize:
        w_sum = torch.zeros(lse.shape[0], dtype=lse.dtype, device=sl.primary).index_add(0, rows, w)
        w_sum = torch.where(w_sum > 0, w_sum, torch.ones_like(w_sum))
        per_row = per_row / _per_entry(w_sum, per_row)
    return _reduce(per_row, reduction)


def bce(
    logits: Logits,
    positives: Sequence[tuple[Tensor, Tensor, Tensor | None, float]],
    negatives: Sequence[tuple[Tensor, Tensor, float]],
    *,
    reduction: str = "mean",
) -> Tensor:
    """Weighted binary cross-entropy with sparse targets (soft-split paper eq. 3 and 7-9; the
    DRNN's ``bce`` loss), per shard then summed.

    Row ``b`` (and each middle position) gets
    ``sum_p [ P_bp * -log sig(z_bp) + Q_bp * -log(1 - sig(z_bp)) ]`` with
    ``P_bp = sum over positives (idx, offsets, value, c) of c * v_bp`` -- ``v_bp`` the entry's
    value (1 when ``value`` is None; the largest when an item repeats in a row), 0 for items
    not listed -- and ``Q_bp = sum over negatives (idx, offsets, c) of c * (1 - m_bp)``,
    ``m_bp`` = 1 for the items listed in that row (a set), else 0. ``Q`` is computed as
    ``(sum c) * sum_p softplus(z)`` over every item minus the listed items' terms. Over a
    sampled output each candidate's negative term is times its weight (the batch's positives
    exactly, the other items' sum estimated without bias).
    """
    sl, cols, weight = _columns(logits)
    middle = sl.blocks[0].shape[1:-1]
    per_row = torch.zeros((sl.blocks[0].shape[0], *middle), dtype=sl.dtype, device=sl.primary)
    total_neg = sum(c for _, _, c in negatives)
    if total_neg != 0.0:
        for block in sl.blocks:
            sp = F.softplus(block)
            sp = sp if weight is None else sp * weight
            per_row = per_row + sp.sum(dim=-1).to(sl.primary) * total_neg
    for idx, offsets, coef in negatives:
        idx, offsets, _ = _to_columns(idx, offsets, None, cols)
        if coef == 0.0 or idx.numel() == 0:
            continue
        u_rows, u_idx, u_off, _ = _unique_entries(idx, offsets, sl.n_items)
        sp = F.softplus(pick_logits(sl, u_idx, u_off))
        if weight is not None:
            sp = sp * _per_entry(weight[u_idx], sp)
        per_row = per_row.index_add(0, u_rows.to(sl.primary), -coef * sp)
    for idx, offsets, value, coef in positives:
        idx, offsets, value = _to_columns(idx, offsets, value, cols)
        if coef == 0.0 or idx.numel() == 0:
            continue
        u_rows, u_idx, u_off, best = _unique_entries(idx, offsets, sl.n_items, value)
        z = pick_logits(sl, u_idx, u_off)
        term = coef * _per_entry(best.to(z), z) * F.softplus(-z)
        per_row = per_row.index_add(0, u_rows.to(sl.primary), term)
    return _reduce(per_row, reduction)


# ---- time decay ----------------------------------------------------------------------------


def td(age: Tensor, days: float) -> Tensor:
    """Time decay Td (soft-split eq. 5) of purchases ``age`` days before the reference day:
    1 / (1 + age / days) for a purchase before the reference day (age >= 0), else 0."""
    return torch.where(age >= 0, 1.0 / (1.0 + age.clamp(min=0.0) / days), torch.zeros_like(age))


class LearntDecay(nn.Module):
    """Time decay learnt over ``n_bins`` age bins (soft-split eq. 4). With a sparse input, the
    stride-32 convolution over the binned purchase dates is one learnt weight per bin plus a
    bias, applied to the products bought (absent products stay 0, keeping the input sparse; no
    activation). ``bin_weight[k]`` is the decay curve at ages [k, k+1) * bin_days (Figure 4):
    two years in 32 bins by default."""

    def __init__(self, devices: Sequence[str], n_bins: int = 32, days: float = 730.0) -> None:
        super().__init__()
        self.bin_weight = nn.Parameter(torch.ones(n_bins, device=devices[0]))
        self.bin_bias = nn.Parameter(torch.zeros((), device=devices[0]))
        self.n_bins = n_bins
        self.bin_days = days / n_bins

    def forward(self, age: Tensor) -> Tensor:
        bins = (age / self.bin_days).floor().clamp(0, self.n_bins - 1).long()
        return self.bin_weight[bins] + self.bin_bias


def kl_sparsity(means: Sequence[Tensor], rho: float) -> Tensor:
    """sum over layers and units of KL(rho, rho_hat_j), rho_hat_j a unit's mean activation
    over the batch, clamped into (0, 1) so non-sigmoid activations give a finite penalty."""
    total = []
    for mean in means:
        rho_hat = mean.clamp(1e-6, 1.0 - 1e-6)
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        total.append(kl.sum())
    return torch.stack(total).sum()


# ---- DRNN pieces ---------------------------------------------------------------------------


def recurrence(inp: Tensor, w: nn.Module, real: Tensor, act: Callable[[Tensor], Tensor]) -> Tensor:
    """A DRNN layer over its states (dim 1 of ``inp``, the input terms ``Z_i x(t) + b_i``):
    ``a(t) = act(inp(t) + W a(t-1))`` with the weights ``w`` every state shares. State 0, the
    history state (DRNN Sec. III.C), has no previous state and is 0 where ``real[:, 0]`` is
    False (the prefix fits in the window); a state that is not ``real`` (left padding of a
    short prefix) keeps the previous state unchanged."""
    a = act(inp[:, 0]).masked_fill(~real[:, :1], 0.0)
    out = [a]
    for t in range(1, inp.shape[1]):
        a = torch.where(real[:, t : t + 1], act(inp[:, t] + w(a)), a)
        out.append(a)
    return torch.stack(out, 1)


class ViewPath(nn.Module):
    """Learnt path from a session prefix's viewed items to the same items' scores:
    ``logit[b, i] += (scale + gain[i]) * log1p(views of item i in the prefix)``. ``scale``
    starts at ``view_scale`` = log(n_items) / log(2): one view multiplies an item's odds by
    n_items, so a viewed item starts as likely as the rest of the catalogue together (a shared
    prior that the per-item output parameters, which fit the training period faster than one
    shared scale grows, need not learn); ``gain`` starts at 0. Over a sampled output only the
    viewed items among the candidates are boosted."""

    def __init__(self, config: DrnnConfig, devices: Sequence[str]) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.zeros(config.n_items, device=devices[0]))
        self.scale = nn.Parameter(torch.full((), config.view_scale or 1.0, device=devices[0]))

    def forward(self, logits: Logits, batch: Batch) -> Logits:
        idx = batch["viewed_idx"]
        rows = bag_rows(batch["viewed_offsets"], len(idx))
        boost = (self.scale + self.gain[idx]) * torch.log1p(batch["viewed_weight"])
        return add_at(logits, rows, idx, boost)


# ---- the family losses ---------------------------------------------------------------------


@dataclass
class TrainOut:
    """What a generated ``forward`` returns in training: the prediction's ``logits`` (the last
    state's for the DRNN; full, sharded or sampled), the DRNN's earlier ``states``
    ([B, WIDTH - 1, ...] logits; None at width 1) and the predictor's hidden ``means`` (each
    layer's mean activation, for the KL sparsity penalty). Evaluation returns logits only."""

    logits: Logits
    states: Logits | None = None
    means: list[Tensor] = field(default_factory=list)


#: What a generated ``forward`` returns: logits (evaluation) or a :class:`TrainOut` (training).
Out = TrainOut | Logits


def train_out(out: Out) -> TrainOut:
    """``out`` as a :class:`TrainOut` (plain logits: the prediction alone)."""
    return out if isinstance(out, TrainOut) else TrainOut(out)


def candidates(out: TrainOut | Logits) -> Tensor | None:
    """The candidate items of a sampled prediction (the rows its output layers read), else
    None (every row)."""
    logits = train_out(out).logits
    return logits.cols if isinstance(logits, SampledLogits) else None


def _state_cost(loss: str, logits: Logits, target: Tensor, offsets: Tensor) -> Tensor:
    if loss == "softmax":
        return softmax_ce(logits, target, offsets, reduction="none")
    return bce(logits, [(target, offsets, None, 1.0)], [(target, offsets, 1.0)], reduction="none")


def drnn_loss(config: DrnnConfig, batch: Batch, out: TrainOut | Logits) -> Tensor:
    """The DRNN's data loss (DRNN paper Sec. III.E, shortened-path training): the state cost
    -- softmax cross-entropy against the session's bought set (uniform over its items), or BCE
    summed over items -- at every real state (page ``n_pages`` is left padding), averaged over
    a sample's real states, then over the batch. Given only the prediction's logits (e.g. in
    evaluation) it is the cost of the last state."""
    out = train_out(out)
    tgt, off = batch["target_idx"], batch["target_offsets"]
    last = _state_cost(config.loss, out.logits, tgt, off)
    real = (batch["pages"] != config.n_pages).to(last.dtype)
    total, count = last * real[:, -1], real[:, -1]
    if out.states is not None:
        total = total + (_state_cost(config.loss, out.states, tgt, off) * real[:, :-1]).sum(1)
        count = real.sum(1)
    return (total / count.clamp(min=1.0)).mean()


def predictor_loss(config: PredictorConfig, batch: Batch, out: TrainOut | Logits) -> Tensor:
    """The predictor's cost, summed over products and averaged over the batch: eq. 3
    (``split_mode`` predictor: ``w1`` on Y, ``w0`` outside Y) or eq. 7-9 (equal / soft: auto
    term ``wa1`` on X -- weighted Td(age, to) (eq. 5) in soft mode, the most recent purchase of
    a repeated product counting -- and ``wa0`` outside XY; predict term ``wp1`` on Y, ``wp0``
    outside Y). ``loss`` softmax: the multinomial likelihood (Mult-DAE) -- cross-entropy
    against Y normalised per row (predictor mode), or ``wa1`` times that against the
    (Td-weighted) X plus ``wp1`` times that against Y; the negative weights are unused."""
    c, logits = config, train_out(out).logits
    x, x_off, y, y_off = batch["x_idx"], batch["x_offsets"], batch["y_idx"], batch["y_offsets"]
    value = td(batch["x_age"], c.to) if c.split_mode == "soft" else None
    if c.loss == "softmax":
        if c.split_mode == "predictor":
            return softmax_ce(logits, y, y_off)
        total = c.wp1 * softmax_ce(logits, y, y_off)
        return total + c.wa1 * softmax_ce(logits, x, x_off, value) if c.wa1 else total
    pos: list[tuple[Tensor, Tensor, Tensor | None, float]]
    if c.split_mode == "predictor":
        pos, neg = [(y, y_off, None, c.w1)], [(y, y_off, c.w0)]
    else:
        xy, xy_off = union_bags([(x, x_off), (y, y_off)], x_off.numel())
        pos = [(x, x_off, value, c.wa1), (y, y_off, None, c.wp1)]
        neg = [(xy, xy_off, c.wa0), (y, y_off, c.wp0)]
    if not any(t[-1] for t in pos) and not any(t[-1] for t in neg):
        return _columns(logits)[0].blocks[0].sum() * 0.0  # every weight is 0
    return bce(logits, pos, neg)


# ---- top-K and state dicts ----------------------------------------------------------------


def _topk_lowest_index(work: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Top ``k`` of each row ordered by (value desc, index asc): values and column indices.

    ``torch.topk`` alone does not promise which of several equal values it keeps, so the
    ``k``-th largest value is found with it, every entry above it is kept, and of the entries
    equal to it the lowest indices fill the remaining slots; a stable sort orders the result.
    """
    n_rows, n = work.shape
    if k >= n:
        ordered = torch.sort(work, dim=1, descending=True, stable=True)
        return ordered.values, ordered.indices
    kth = torch.topk(work, k, dim=1).values[:, -1:]
    above = work > kth
    equal = work == kth
    need = k - above.sum(dim=1, keepdim=True)
    keep = above | (equal & (torch.cumsum(equal.to(torch.int64), dim=1) <= need))
    cols = torch.nonzero(keep, as_tuple=False)[:, 1].reshape(n_rows, k)  # ascending index
    vals = torch.gather(work, 1, cols)
    order = torch.sort(vals, dim=1, descending=True, stable=True).indices
    return torch.gather(vals, 1, order), torch.gather(cols, 1, order)


def sharded_topk(
    logits: Tensor | ShardedLogits,
    k: int,
    exclude_idx: Tensor | None = None,
    exclude_offsets: Tensor | None = None,
) -> Tensor:
    """Top ``k`` item indices per row, ``Long[B, k]`` on the primary device.

    Same result as ``autorec.evaluation.topk_excluding`` on the gathered logits: eligible
    scores (NaN and -inf included) are clamped to the lowest finite value, excluded items
    (row ``b``: ``exclude_idx[exclude_offsets[b]:...]``) are -inf, ties go to the lower item
    index, and a slot is -1 where a row has fewer than ``k`` eligible items. Each shard
    keeps its own top ``k`` (ordered by value, then index); the primary device merges the
    candidates, already in ascending index order within equal values, with a stable sort.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    sl = as_sharded(logits)
    n_rows = sl.blocks[0].shape[0]
    if exclude_idx is not None and exclude_offsets is not None and exclude_idx.numel():
        ex_rows = bag_rows(exclude_offsets, exclude_idx.numel())
        ex_shard = _route(exclude_idx, sl.starts)
    else:
        ex_rows = ex_shard = None  # type: ignore[assignment]
    cand_vals, cand_cols, cand_excl = [], [], []
    for s, block in enumerate(sl.blocks):
        block = block.detach()
        dtype = block.dtype if block.is_floating_point() else torch.float64
        lowest = torch.finfo(dtype).min
        work = torch.nan_to_num(block.to(dtype), nan=lowest, neginf=lowest).clamp_min(lowest)
        excluded = torch.zeros(work.shape, dtype=torch.bool, device=work.device)
        if ex_rows is not None and ex_shard is not None:
            mine = ex_shard == s
            r = ex_rows[mine].to(work.device)
            c = (exclude_idx[mine] - sl.starts[s]).to(work.device)  # type: ignore[index]
            excluded[r, c] = True
            work.masked_fill_(excluded, float("-inf"))
        vals, cols = _topk_lowest_index(work, min(k, work.shape[1]))
        cand_excl.append(torch.gather(excluded, 1, cols).to(sl.primary))
        cand_vals.append(vals.to(sl.primary))
        cand_cols.append((cols + sl.starts[s]).to(sl.primary))
    vals = torch.cat(cand_vals, dim=1)
    cols = torch.cat(cand_cols, dim=1)
    excl = torch.cat(cand_excl, dim=1)
    order = torch.sort(vals, dim=1, descending=True, stable=True).indices[:, :k]
    top = torch.gather(cols, 1, order).masked_fill(torch.gather(excl, 1, order), -1)
    if top.shape[1] < k:
        pad = torch.full((n_rows, k - top.shape[1]), -1, dtype=torch.long, device=sl.primary)
        top = torch.cat([top, pad], dim=1)
    return top


def item_sharded_children(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(qualified name, module)`` of every sharded item layer inside ``module``."""
    return [(n, m) for n, m in module.named_modules() if isinstance(m, _PinnedShards)]


def gathered_state_dict(module: nn.Module) -> dict[str, Tensor]:
    """``module.state_dict()`` with every sharded item layer gathered back into the
    unsharded names and shapes (``<layer>.weight`` ``[n_items, ...]``, ``<layer>.bias``),
    as CPU tensors: exactly what the unsharded network's ``state_dict`` would hold."""
    sharded = dict(item_sharded_children(module))
    out: dict[str, Tensor] = {}
    done: set[str] = set()
    for key, value in module.state_dict().items():
        owner = next(
            (n for n in sharded if key.startswith(f"{n}.shards." if n else "shards.")), None
        )
        if owner is None:
            out[key] = value.detach().cpu()
            continue
        if owner in done:
            continue
        done.add(owner)
        prefix = f"{owner}." if owner else ""
        for name, full in cast(_PinnedShards, sharded[owner]).gathered_parameters().items():
            out[prefix + name] = full
    return out


def split_state_dict(module: nn.Module, full: dict[str, Tensor]) -> dict[str, Tensor]:
    """Inverse of :func:`gathered_state_dict`: an unsharded state dict re-keyed and sliced
    for ``module`` (sharded), ready for ``module.load_state_dict``."""
    out = dict(full)
    for owner, layer in item_sharded_children(module):
        prefix = f"{owner}." if owner else ""
        mine = {
            k[len(prefix) :]: out.pop(k)
            for k in list(out)
            if k.startswith(prefix) and "." not in k[len(prefix) :]
        }
        for name, part in cast(_PinnedShards, layer).split_parameters(mine).items():
            out[prefix + name] = part
    return out
