"""Model-parallel sharding of item-sized layers (DESIGN "Model-parallel sharding").

A trial given k devices splits its item-sized layers across them, as DSSTNE did for the
soft-split paper's networks (soft-split paper Sec. 5, production pipeline):

* :class:`ShardedEmbeddingBag` -- the sparse item input (``nn.EmbeddingBag``, mode sum,
  per-sample weights) split **row-wise**: shard ``s`` holds the rows of the items
  ``starts[s] <= i < starts[s+1]``. Each index is routed to its shard, every device computes
  partial bags of its own rows, and the partial bags are summed on the primary device.
* :class:`ShardedLinear` -- the output layer over the catalogue split **column-wise**: shard
  ``s`` holds the output columns (items) ``starts[s]..starts[s+1]-1`` and returns its own
  logit block. The forward pass returns a :class:`ShardedLogits` (per-device blocks plus
  their column offsets) instead of one ``[B, n_items]`` tensor.
* shard-aware reductions that never gather the logits: :func:`sharded_softmax_ce` (softmax
  cross-entropy via a combined log-sum-exp), :func:`sharded_weighted_bce` (the weighted
  cross-entropy of the soft-split paper, eq. 3 and 7-9, per shard then summed) and
  :func:`sharded_topk` (per-shard top-K, then merged). :func:`gather_logits` builds the full
  matrix where one is really wanted (evaluation, export checks).

Every function also accepts a plain ``[B, n_items]`` tensor (treated as one shard), so the
same code path serves k = 1 and k > 1 and gives the same numbers up to float rounding.

Placement: the primary device is ``devices[0]``; inputs arrive there and results are
returned there. ``devices`` may repeat (``("cpu", "cpu", "cpu")``), which is how CI checks
the sharded path without GPUs. Shards keep their own devices through ``module.to(...)``:
a dtype change is applied, a device move is ignored for the shards (see ``_apply``).

Initialisation: a sharded layer is built from (or as) the unsharded torch layer and then
split, so from the same seed the sharded and unsharded networks start from the same
numbers. The full layer is created on the CPU first: peak host memory is one copy of it.

Shard sizes follow ``numpy.array_split``: the first ``n % k`` shards get one row more.

This file imports only torch: the code generator embeds it verbatim into generated model
files of trials with k > 1 devices (everything below the marker line
``# ---- sharded-body ----`` is the part to embed after the generated file's own imports).
State-dict helpers and other callers find sharded modules by duck typing (the attribute
``is_item_sharded``), so a copy embedded in a generated file works with them too.
"""

from collections.abc import Callable, Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ShardedEmbeddingBag",
    "ShardedLinear",
    "ShardedLogits",
    "as_sharded",
    "bag_of_each_index",
    "cat_logits",
    "drnn_sharded_data_loss",
    "gather_logits",
    "gathered_state_dict",
    "item_sharded_children",
    "make_sharded_item_input",
    "make_sharded_item_output",
    "pick_logits",
    "predictor_sharded_data_loss",
    "shard_item_layers",
    "shard_starts",
    "sharded_bce",
    "sharded_logsumexp",
    "sharded_softmax_ce",
    "sharded_sq_norm",
    "sharded_topk",
    "sharded_weighted_bce",
    "split_state_dict",
    "union_bags",
]

# ---- sharded-body ----


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


def bag_of_each_index(offsets: Tensor, n_indices: int) -> Tensor:
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

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> "_PinnedShards":
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
            total = total + dict(shard.named_parameters())[name].pow(2).sum().to(self.primary)
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
    ) -> "ShardedEmbeddingBag":
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
        bag = bag_of_each_index(offsets, input.numel())
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

    def _new(self, blocks: list[Tensor]) -> "ShardedLogits":
        return ShardedLogits(blocks, self.starts, self.primary)

    def gather(self) -> Tensor:
        """The full ``[B, ..., n_items]`` logits on the primary device (differentiable)."""
        return torch.cat([b.to(self.primary) for b in self.blocks], dim=-1)

    def map(self, fn: Callable[[Tensor], Tensor]) -> "ShardedLogits":
        """Apply an element-wise function to every block (e.g. ``torch.sigmoid``)."""
        return self._new([fn(b) for b in self.blocks])

    def detach(self) -> "ShardedLogits":
        return self.map(Tensor.detach)

    def __getitem__(self, key: object) -> "ShardedLogits":
        """Index the leading dimensions only (``logits[:, -1]``, ``logits[:, :-1]``)."""
        parts = key if isinstance(key, tuple) else (key,)
        if any(p is Ellipsis or p is None for p in parts) or len(parts) >= self.dim():
            raise IndexError("ShardedLogits can index its leading (non-item) dimensions only")
        return self.map(lambda b: b[key])  # type: ignore[index]

    def unsqueeze(self, dim: int) -> "ShardedLogits":
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

    def __add__(self, other: "ShardedLogits | Tensor | float") -> "ShardedLogits":
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

    def __mul__(self, other: "Tensor | float") -> "ShardedLogits":
        if isinstance(other, Tensor):
            pieces = self._split(other)
            return self._new([b * p for b, p in zip(self.blocks, pieces, strict=True)])
        return self.map(lambda b: b * other)

    __rmul__ = __mul__

    def index_put(
        self, indices: tuple[Tensor, Tensor], values: Tensor, accumulate: bool = False
    ) -> "ShardedLogits":
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


def as_sharded(logits: "Tensor | ShardedLogits") -> ShardedLogits:
    """A plain ``[B, ..., n]`` tensor as one-shard :class:`ShardedLogits` (no copy); sharded
    logits from any copy of this file pass through unchanged."""
    if isinstance(logits, Tensor):
        return ShardedLogits([logits], [0, logits.shape[-1]], logits.device)
    return logits


def gather_logits(logits: "Tensor | ShardedLogits") -> Tensor:
    """The full ``[B, ..., n_items]`` logits on the primary device (evaluation / export)."""
    if isinstance(logits, Tensor):
        return logits
    return torch.cat([b.to(logits.primary) for b in logits.blocks], dim=-1)


def cat_logits(parts: "Sequence[ShardedLogits]", dim: int) -> ShardedLogits:
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
    def from_module(cls, full: nn.Linear, devices: Sequence[str | torch.device]) -> "ShardedLinear":
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


def make_sharded_item_input(
    n_items: int, dim: int, devices: Sequence[str], mode: str = "sum"
) -> nn.Module:
    """``nn.EmbeddingBag`` for one device, :class:`ShardedEmbeddingBag` for several."""
    full = nn.EmbeddingBag(n_items, dim, mode=mode)
    return full if len(devices) <= 1 else ShardedEmbeddingBag.from_module(full, devices)


def make_sharded_item_output(
    in_features: int, n_items: int, devices: Sequence[str], bias: bool = True
) -> nn.Module:
    """``nn.Linear`` for one device, :class:`ShardedLinear` for several."""
    full = nn.Linear(in_features, n_items, bias=bias)
    return full if len(devices) <= 1 else ShardedLinear.from_module(full, devices)


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


def sharded_logsumexp(logits: "Tensor | ShardedLogits") -> Tensor:
    """``logsumexp`` over the items, ``[B, ...]`` on the primary device.

    Each shard contributes its maximum ``m_s`` and ``S_s = sum exp(z - m_s)``; the primary
    device combines them as ``m + log(sum_s exp(m_s - m) * S_s)`` with ``m = max_s m_s``
    (maxima detached: the value does not depend on them, only its rounding does).
    """
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


def pick_logits(logits: "Tensor | ShardedLogits", idx: Tensor, offsets: Tensor) -> Tensor:
    """``z[bag(j), ..., idx[j]]`` for every flat entry ``j``: ``[len(idx), ...]`` on the
    primary device, each entry read on the shard that holds its item."""
    sl = as_sharded(logits)
    rows = bag_of_each_index(offsets, idx.numel())
    middle = sl.blocks[0].shape[1:-1]
    out = torch.zeros((idx.numel(), *middle), dtype=sl.dtype, device=sl.primary)
    shard_of = _route(idx, sl.starts)
    for s, block in enumerate(sl.blocks):
        mine = shard_of == s
        r, c = rows[mine].to(block.device), (idx[mine] - sl.starts[s]).to(block.device)
        out = out.index_put((mine,), block[r, ..., c].to(sl.primary))
    return out


def union_bags(bags: "Sequence[tuple[Tensor, Tensor]]", n_rows: int) -> tuple[Tensor, Tensor]:
    """Concatenate several bag lists row by row: row ``b`` of the result holds row ``b`` of
    every input (e.g. the set XY from X and Y). Repeats are kept."""
    idx = torch.cat([i for i, _ in bags])
    rows = torch.cat([bag_of_each_index(o, i.numel()) for i, o in bags])
    order = torch.argsort(rows, stable=True)
    rows = rows[order]
    return idx[order], torch.searchsorted(rows, torch.arange(n_rows, device=rows.device))


def _unique_entries(
    idx: Tensor, offsets: Tensor, n_items: int, value: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Distinct (row, item) entries of a bag list: ``(rows, items, offsets, value)`` where
    a repeated item keeps its largest value (1 when ``value`` is None)."""
    rows = bag_of_each_index(offsets, idx.numel())
    keys, inverse = torch.unique(rows * n_items + idx, return_inverse=True)
    if value is None:
        best = torch.ones(keys.shape, device=idx.device)
    else:
        best = torch.zeros(keys.shape, dtype=value.dtype, device=value.device)
        best = best.scatter_reduce(0, inverse, value, reduce="amax", include_self=False)
    u_rows, u_idx = keys // n_items, keys % n_items
    u_off = torch.searchsorted(u_rows, torch.arange(offsets.numel(), device=u_rows.device))
    return u_rows, u_idx, u_off, best


def sharded_softmax_ce(
    logits: "Tensor | ShardedLogits",
    target_idx: Tensor,
    target_offsets: Tensor,
    target_weight: Tensor | None = None,
    *,
    normalize: bool = True,
    reduction: str = "mean",
) -> Tensor:
    """Softmax cross-entropy against a set of target items per row (DRNN paper Sec. III:
    softmax output and loss layers).

    Row ``b`` with targets ``T_b`` (weights ``w_t``, default 1) has loss
    ``sum_t w_t * (logsumexp(z_b) - z_bt)``, divided by ``sum_t w_t`` when ``normalize``:
    the cross-entropy against the target distribution ``y / |y|`` (a session that bought
    several items is one sample whose target is uniform over them). The targets are a set:
    an item listed twice in a row counts once (with its largest weight).
    Rows without targets give 0. ``reduction``: ``"mean"`` over all rows (and middle
    positions), ``"sum"``, or ``"none"`` (``[B, ...]``). The log-sum-exp is combined across
    shards (:func:`sharded_logsumexp`) and the target logits are read on their shards, so
    nothing item-sized is gathered.
    """
    sl = as_sharded(logits)
    lse = sharded_logsumexp(sl)
    rows, t_idx, t_off, w = _unique_entries(target_idx, target_offsets, sl.n_items, target_weight)
    z_t = pick_logits(sl, t_idx, t_off)
    rows, w = rows.to(sl.primary), w.to(z_t)
    per_row = torch.zeros_like(lse).index_add(0, rows, _per_entry(w, z_t) * (lse[rows] - z_t))
    if normalize:
        w_sum = torch.zeros(lse.shape[0], dtype=lse.dtype, device=sl.primary).index_add(0, rows, w)
        w_sum = torch.where(w_sum > 0, w_sum, torch.ones_like(w_sum))
        per_row = per_row / _per_entry(w_sum, per_row)
    return _reduce(per_row, reduction)


def sharded_bce(
    logits: "Tensor | ShardedLogits",
    positives: "Sequence[tuple[Tensor, Tensor, Tensor | None, float]]",
    negatives: "Sequence[tuple[Tensor, Tensor, float]]",
    *,
    reduction: str = "mean",
) -> Tensor:
    """Weighted binary cross-entropy with sparse targets, per shard then summed (soft-split
    paper eq. 3 and 7-9; the DRNN's ``bce`` loss).

    Row ``b`` (and each middle position) gets
    ``sum_p [ P_bp * -log sig(z_bp) + Q_bp * -log(1 - sig(z_bp)) ]`` with
    ``P_bp = sum over positives (idx, offsets, value, c) of c * v_bp`` -- ``v_bp`` the entry's
    value (1 when ``value`` is None; the largest when an item repeats in a row), 0 for items
    not listed -- and ``Q_bp = sum over negatives (idx, offsets, c) of c * (1 - m_bp)``,
    ``m_bp`` = 1 for the items listed in that row (a set), else 0.

    ``Q`` is computed as ``(sum c) * sum_p softplus(z)`` over every shard's items minus the
    listed items' terms; the positive terms are read on the shards holding their items.
    ``-log sig(z) = softplus(-z)`` and ``-log(1 - sig(z)) = softplus(z)`` (stable).
    """
    sl = as_sharded(logits)
    middle = sl.blocks[0].shape[1:-1]
    n_rows = sl.blocks[0].shape[0]
    per_row = torch.zeros((n_rows, *middle), dtype=sl.dtype, device=sl.primary)
    total_neg = sum(c for _, _, c in negatives)
    if total_neg != 0.0:
        for block in sl.blocks:
            per_row = per_row + F.softplus(block).sum(dim=-1).to(sl.primary) * total_neg
    for idx, offsets, coef in negatives:
        if coef == 0.0 or idx.numel() == 0:
            continue
        u_rows, u_idx, u_off, _ = _unique_entries(idx, offsets, sl.n_items)
        sp = F.softplus(pick_logits(sl, u_idx, u_off))
        per_row = per_row.index_add(0, u_rows.to(sl.primary), -coef * sp)
    for idx, offsets, value, coef in positives:
        if coef == 0.0 or idx.numel() == 0:
            continue
        u_rows, u_idx, u_off, best = _unique_entries(idx, offsets, sl.n_items, value)
        z = pick_logits(sl, u_idx, u_off)
        term = coef * _per_entry(best.to(z), z) * F.softplus(-z)
        per_row = per_row.index_add(0, u_rows.to(sl.primary), term)
    return _reduce(per_row, reduction)


def sharded_weighted_bce(
    logits: "Tensor | ShardedLogits",
    pos_idx: Tensor,
    pos_offsets: Tensor,
    *,
    w1: float,
    w0: float,
    pos_weight: Tensor | None = None,
    neg_idx: Tensor | None = None,
    neg_offsets: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """One weighted cross-entropy term (soft-split paper eq. 3, 8 or 9):
    ``sum_p [ w1 * y_bp * -log sig(z_bp) + w0 * (1 - m_bp) * -log(1 - sig(z_bp)) ]``.

    ``y`` = the positives (values ``pos_weight``, default 1; repeats keep the largest),
    ``m`` = membership in the exclusion set (``neg_idx``/``neg_offsets``, default the
    positives). eq. 3 / eq. 9: positives Y with ``w1, w0`` (``wp1, wp0``); eq. 8: positives X
    with ``pos_weight = Td(age, to)``, ``w1 = wa1``, ``w0 = wa0`` and exclusion set XY
    (:func:`union_bags`). The soft-split cost eq. 7 is the sum of the eq. 8 and eq. 9 terms
    (or one :func:`sharded_bce` call with both).
    """
    n_idx = pos_idx if neg_idx is None else neg_idx
    n_off = pos_offsets if neg_offsets is None else neg_offsets
    return sharded_bce(
        logits,
        [(pos_idx, pos_offsets, pos_weight, w1)],
        [(n_idx, n_off, w0)],
        reduction=reduction,
    )


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
    logits: "Tensor | ShardedLogits",
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
        ex_rows = bag_of_each_index(exclude_offsets, exclude_idx.numel())
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


def sharded_sq_norm(module: nn.Module, name: str = "weight") -> Tensor:
    """Sum of squares of ``module.<name>`` whether the module is sharded or not."""
    if getattr(module, "is_item_sharded", False):
        return cast(Tensor, module.sq_norm(name))  # type: ignore[operator]
    return getattr(module, name).pow(2).sum()  # type: ignore[no-any-return]


def item_sharded_children(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(qualified name, module)`` of every sharded item layer inside ``module``."""
    return [(n, m) for n, m in module.named_modules() if getattr(m, "is_item_sharded", False)]


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
        for name, full in sharded[owner].gathered_parameters().items():  # type: ignore[operator]
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
        for name, part in layer.split_parameters(mine).items():  # type: ignore[operator]
            out[prefix + name] = part
    return out


# ---- sharding a built network, and the family losses on sharded logits -------------------


def shard_item_layers(model: nn.Module, devices: Sequence[str], n_items: int) -> nn.Module:
    """Replace, in place, every ``nn.EmbeddingBag`` (the item-sized inputs the generated
    ``make_item_input`` builds) by a :class:`ShardedEmbeddingBag` and every ``nn.Linear``
    with ``n_items`` outputs (``make_item_output``) by a :class:`ShardedLinear`, keeping the
    weights. A no-op for one device. Returns ``model``."""
    if len(devices) <= 1:
        return model
    for name, module in list(model.named_modules()):
        new: nn.Module | None = None
        if isinstance(module, nn.EmbeddingBag):
            new = ShardedEmbeddingBag.from_module(module, devices)
        elif isinstance(module, nn.Linear) and module.out_features == n_items:
            new = ShardedLinear.from_module(module, devices)
        if new is not None:
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, new)
    return model


def drnn_sharded_data_loss(
    batch: dict[str, Tensor],
    logits: "ShardedLogits | Tensor",
    state_logits: "ShardedLogits | Tensor | None",
    *,
    n_pages: int,
    loss: str,
) -> Tensor:
    """The generated DRNN's data loss on sharded logits (same value as its dense form).

    The state cost (softmax cross-entropy against the bought set, or BCE summed over items)
    of every real state of the shortened-path sample (DRNN paper Sec. III.E), averaged over
    the sample's real states, then over the batch. ``logits`` is the last state's
    ``[B, N]`` (view path included), ``state_logits`` every state's ``[B, W, N]`` (``None``
    for width 1). Pages equal to ``n_pages`` are left padding.
    """
    per_state = as_sharded(logits).unsqueeze(1)
    if state_logits is not None:
        per_state = cat_logits([as_sharded(state_logits)[:, :-1], per_state], 1)
    tgt, off = batch["target_idx"], batch["target_offsets"]
    if loss == "softmax":
        cost = sharded_softmax_ce(per_state, tgt, off, reduction="none")
    else:
        cost = sharded_bce(per_state, [(tgt, off, None, 1.0)], [(tgt, off, 1.0)], reduction="none")
    real = (batch["pages"] != n_pages).to(cost.dtype)
    cost = cost * real
    return (cost.sum(1) / real.sum(1).clamp(min=1.0)).mean()


def predictor_sharded_data_loss(
    batch: dict[str, Tensor],
    logits: "ShardedLogits | Tensor",
    *,
    split_mode: str,
    w1: float = 0.0,
    w0: float = 0.0,
    wa1: float = 0.0,
    wa0: float = 0.0,
    wp1: float = 0.0,
    wp0: float = 0.0,
    to: float = 1.0,
    loss: str = "bce",
) -> Tensor:
    """The generated predictor's cost on sharded logits, summed over products and averaged
    over the batch: eq. 3 (``split_mode="predictor"``: ``w1`` on Y, ``w0`` outside Y) or
    eq. 7-9 (``"equal"``/``"soft"``: auto term ``wa1`` on X -- weighted ``Td(age, to)`` (eq. 5)
    in soft mode, the most recent purchase of a repeated product counting -- and ``wa0``
    outside XY; predict term ``wp1`` on Y and ``wp0`` outside Y).
    ``loss="softmax"``: the multinomial likelihood (Mult-DAE) -- softmax cross-entropy against
    Y normalised per row (predictor), or ``wa1`` times that against the (Td-weighted) X plus
    ``wp1`` times that against Y (soft/equal); the negative weights are unused."""
    x, x_off = batch["x_idx"], batch["x_offsets"]
    y, y_off = batch["y_idx"], batch["y_offsets"]
    value = None
    if split_mode == "soft":
        age = batch["x_age"]
        value = torch.where(age >= 0, 1.0 / (1.0 + age.clamp(min=0.0) / to), torch.zeros_like(age))
    if loss == "softmax":
        if split_mode == "predictor":
            return sharded_softmax_ce(logits, y, y_off)
        total = wp1 * sharded_softmax_ce(logits, y, y_off)
        if wa1:
            total = total + wa1 * sharded_softmax_ce(logits, x, x_off, value)
        return total
    if split_mode == "predictor":
        return sharded_bce(logits, [(y, y_off, None, w1)], [(y, y_off, w0)])
    xy, xy_off = union_bags([(x, x_off), (y, y_off)], x_off.numel())
    return sharded_bce(
        logits,
        [(x, x_off, value, wa1), (y, y_off, None, wp1)],
        [(xy, xy_off, wa0), (y, y_off, wp0)],
    )
