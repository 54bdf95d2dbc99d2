"""The runtime's item layers and losses (codegen/runtime.py), sharded, against the unsharded
torch layers, on CPU with repeated "devices" (one device is the trivial case: one shard)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from codegen.runtime import (
    ShardedEmbeddingBag,
    ShardedLinear,
    ShardedLogits,
    cat_logits,
    gather_logits,
    gathered_state_dict,
    item_input,
    item_output,
    item_sq_norm,
    shard_starts,
    sharded_topk,
    split_state_dict,
    union_bags,
)
from codegen.runtime import bce as sharded_bce
from codegen.runtime import logsumexp as sharded_logsumexp
from codegen.runtime import softmax_ce as sharded_softmax_ce


def sharded_weighted_bce(
    logits: torch.Tensor | ShardedLogits,
    pos_idx: torch.Tensor,
    pos_offsets: torch.Tensor,
    *,
    w1: float,
    w0: float,
    pos_weight: torch.Tensor | None = None,
    neg_idx: torch.Tensor | None = None,
    neg_offsets: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """One weighted cross-entropy term (eq. 3, 8 or 9) through the runtime's ``bce``."""
    n_idx = pos_idx if neg_idx is None else neg_idx
    n_off = pos_offsets if neg_offsets is None else neg_offsets
    positives = [(pos_idx, pos_offsets, pos_weight, w1)]
    return sharded_bce(logits, positives, [(n_idx, n_off, w0)], reduction=reduction)


def make_sharded_item_input(n_items: int, dim: int, devices: tuple[str, ...]) -> nn.Module:
    """A dense-gradient item table: nn.EmbeddingBag on one device, split on several."""
    full = nn.EmbeddingBag(n_items, dim, mode="sum")
    return full if len(devices) <= 1 else ShardedEmbeddingBag.from_module(full, devices)


def make_sharded_item_output(in_features: int, n_items: int, devices: tuple[str, ...]) -> nn.Module:
    return item_output(in_features, n_items, devices)


N_ITEMS = 23
DEVS = {1: ("cpu",), 2: ("cpu", "cpu"), 3: ("cpu", "cpu", "cpu")}


def _bags(gen: torch.Generator, n_bags: int, n_items: int = N_ITEMS) -> tuple[torch.Tensor, ...]:
    lengths = torch.randint(0, 6, (n_bags,), generator=gen)
    lengths[1] = 0  # an empty bag
    idx = torch.randint(0, n_items, (int(lengths.sum()),), generator=gen)
    offsets = torch.cumsum(lengths, 0) - lengths
    weight = torch.rand(idx.shape, generator=gen)
    return idx, offsets, weight


def _dense(
    idx: torch.Tensor, offsets: torch.Tensor, values: torch.Tensor, n_rows: int
) -> torch.Tensor:
    rows = torch.repeat_interleave(
        torch.arange(n_rows), torch.diff(offsets, append=torch.tensor([idx.numel()]))
    )
    out = torch.zeros(n_rows, N_ITEMS, dtype=values.dtype)
    return out.index_put((rows, idx), values, accumulate=True)


def test_shard_starts_follow_array_split() -> None:
    assert shard_starts(10, 3) == [0, 4, 7, 10]
    assert shard_starts(9, 3) == [0, 3, 6, 9]
    assert shard_starts(5, 1) == [0, 5]
    with pytest.raises(ValueError):
        shard_starts(2, 3)


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_forward_and_grad_match(k: int, mode: str) -> None:
    gen = torch.Generator().manual_seed(k)
    torch.manual_seed(0)
    full = nn.EmbeddingBag(N_ITEMS, 5, mode=mode)
    torch.manual_seed(0)
    sharded = ShardedEmbeddingBag(N_ITEMS, 5, DEVS[k], mode=mode)  # same init from same seed
    assert torch.equal(sharded.weight.detach(), full.weight.detach())
    idx, offsets, psw = _bags(gen, 7)
    if mode == "mean":
        psw = None  # torch supports per-sample weights only with mode sum
    ref = full(idx, offsets, per_sample_weights=psw)
    got = sharded(idx, offsets, per_sample_weights=psw)
    torch.testing.assert_close(got, ref, rtol=1e-6, atol=1e-6)
    g = torch.randn(ref.shape, generator=gen)
    (ref * g).sum().backward()
    (got * g).sum().backward()
    grads = torch.cat([p.weight.grad for p in sharded.parts])  # type: ignore[misc]
    torch.testing.assert_close(grads, full.weight.grad, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("k", [2, 3])
def test_linear_blocks_and_grad_match(k: int) -> None:
    torch.manual_seed(1)
    full = nn.Linear(4, N_ITEMS)
    sharded = ShardedLinear.from_module(full, DEVS[k])
    x = torch.randn(6, 4, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    logits = sharded(x2)
    assert isinstance(logits, ShardedLogits)
    assert logits.shape == (6, N_ITEMS)
    assert [b.shape[1] for b in logits.blocks] == [
        logits.starts[s + 1] - logits.starts[s] for s in range(k)
    ]
    ref = full(x)
    torch.testing.assert_close(gather_logits(logits), ref)
    g = torch.randn(ref.shape)
    (ref * g).sum().backward()
    (gather_logits(logits) * g).sum().backward()
    torch.testing.assert_close(x2.grad, x.grad)
    torch.testing.assert_close(torch.cat([p.weight.grad for p in sharded.parts]), full.weight.grad)  # type: ignore[misc]
    torch.testing.assert_close(torch.cat([p.bias.grad for p in sharded.parts]), full.bias.grad)  # type: ignore[misc, union-attr]
    torch.testing.assert_close(item_sq_norm(sharded), full.weight.pow(2).sum())
    torch.testing.assert_close(item_sq_norm(full), full.weight.pow(2).sum())


def test_factories_switch_on_device_count() -> None:
    one = item_input(N_ITEMS, 3, ("cpu",))
    assert isinstance(one, nn.EmbeddingBag) and one.sparse  # row-sparse gradient
    assert isinstance(item_input(N_ITEMS, 3, DEVS[2]), ShardedEmbeddingBag)
    assert isinstance(item_output(3, N_ITEMS, ("cpu",)), nn.Linear)
    out = item_output(3, N_ITEMS, DEVS[3], sparse=True)
    assert isinstance(out, ShardedLinear) and out.sparse


def _logits_pair(k: int, seed: int = 0) -> tuple[torch.Tensor, ShardedLogits]:
    gen = torch.Generator().manual_seed(seed)
    z = (torch.randn(8, N_ITEMS, generator=gen) * 3).requires_grad_(True)
    starts = shard_starts(N_ITEMS, k)
    blocks = [z[:, starts[s] : starts[s + 1]] for s in range(k)]
    return z, ShardedLogits(blocks, starts, torch.device("cpu"))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_softmax_ce_matches_dense_reference(k: int) -> None:
    gen = torch.Generator().manual_seed(3)
    z_ref = (torch.randn(8, N_ITEMS, generator=gen) * 3).requires_grad_(True)
    z, sl = _logits_pair(k, 0)
    with torch.no_grad():
        z_ref.copy_(z)
    idx, offsets, w = _bags(gen, 8)
    idx = idx.clone()
    torch.testing.assert_close(sharded_logsumexp(sl), torch.logsumexp(z_ref, 1))
    y = (_dense(idx, offsets, torch.ones_like(w), 8) > 0).float()  # the targets are a set
    has = y.sum(1) > 0
    target = y / y.sum(1, keepdim=True).clamp_min(1)
    ref = -(F.log_softmax(z_ref, 1) * target).sum(1)
    ref = torch.where(has, ref, torch.zeros_like(ref)).mean()
    got = sharded_softmax_ce(sl, idx, offsets)
    torch.testing.assert_close(got, ref)
    ref.backward()
    got.backward()
    torch.testing.assert_close(z.grad, z_ref.grad)
    # a plain tensor is one shard
    torch.testing.assert_close(sharded_softmax_ce(z.detach(), idx, offsets), ref.detach())


@pytest.mark.parametrize("k", [1, 2, 3])
def test_weighted_bce_matches_dense_reference(k: int) -> None:
    gen = torch.Generator().manual_seed(4)
    z, sl = _logits_pair(k, 5)
    z_ref = z.detach().clone().requires_grad_(True)
    pos, pos_off, _ = _bags(gen, 8)
    # eq. 3: w1 * y * -log s + w0 * (1 - y) * -log(1 - s), positives as a set
    y = (_dense(pos, pos_off, torch.ones(pos.shape), 8) > 0).float()
    w1, w0 = 2.5, 0.3
    per = w1 * y * F.softplus(-z_ref) + w0 * (1 - y) * F.softplus(z_ref)
    ref = per.sum(1).mean()
    # dedupe positives per row for the sparse call (the dense y is a set)
    rows = torch.repeat_interleave(
        torch.arange(8), torch.diff(pos_off, append=torch.tensor([pos.numel()]))
    )
    keys = torch.unique(rows * N_ITEMS + pos)
    u_rows, u_idx = keys // N_ITEMS, keys % N_ITEMS
    u_off = torch.searchsorted(u_rows, torch.arange(8))
    got = sharded_weighted_bce(sl, u_idx, u_off, w1=w1, w0=w0)
    torch.testing.assert_close(got, ref)
    ref.backward()
    got.backward()
    torch.testing.assert_close(z.grad, z_ref.grad)


@pytest.mark.parametrize("k", [2, 3])
def test_weighted_bce_soft_split_auto_term(k: int) -> None:
    """eq. 8: positives X weighted by Td, negatives excluded on XY (a superset)."""
    gen = torch.Generator().manual_seed(6)
    z, sl = _logits_pair(k, 7)
    x, x_off, td = _bags(gen, 8)
    yy, y_off, _ = _bags(gen, 8)
    rx = torch.repeat_interleave(
        torch.arange(8), torch.diff(x_off, append=torch.tensor([x.numel()]))
    )
    xt = torch.zeros(8 * N_ITEMS).scatter_reduce(0, rx * N_ITEMS + x, td, reduce="amax").view(8, -1)
    xy = (
        (_dense(x, x_off, torch.ones(x.shape), 8) + _dense(yy, y_off, torch.ones(yy.shape), 8)) > 0
    ).float()
    wa1, wa0 = 1.5, 0.7
    ref = (wa1 * xt * F.softplus(-z) + wa0 * (1 - xy) * F.softplus(z)).sum(1)
    # XY as (possibly repeated) flat lists
    rows_x = torch.repeat_interleave(
        torch.arange(8), torch.diff(x_off, append=torch.tensor([x.numel()]))
    )
    rows_y = torch.repeat_interleave(
        torch.arange(8), torch.diff(y_off, append=torch.tensor([yy.numel()]))
    )
    rows = torch.cat([rows_x, rows_y])
    order = torch.argsort(rows, stable=True)
    xy_idx = torch.cat([x, yy])[order]
    xy_off = torch.searchsorted(rows[order], torch.arange(8))
    got = sharded_weighted_bce(
        sl,
        x,
        x_off,
        w1=wa1,
        w0=wa0,
        pos_weight=td,
        neg_idx=xy_idx,
        neg_offsets=xy_off,
        reduction="none",
    )
    torch.testing.assert_close(got, ref)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_topk_matches_evaluation_topk_excluding(k: int) -> None:
    from autorec.evaluation import topk_excluding

    gen = torch.Generator().manual_seed(8)
    z = torch.randn(9, N_ITEMS, generator=gen)
    z[0] = 1.0  # all ties: lower index wins
    z[1, 3:9] = 5.0  # ties spanning shard borders
    z[2, 4] = float("nan")
    z[3] = float("-inf")
    ex, ex_off, _ = _bags(gen, 9)
    _, sl = _logits_pair(k)
    sl = ShardedLogits(
        [z[:, sl.starts[s] : sl.starts[s + 1]] for s in range(k)], sl.starts, sl.primary
    )
    for kk in (1, 5, N_ITEMS, N_ITEMS + 2):
        ref = topk_excluding(z, ex, ex_off, kk)
        got = sharded_topk(sl, kk, ex, ex_off)
        assert torch.equal(got, ref), (kk, got, ref)
    assert sharded_topk(sl, 4)[0].tolist() == [0, 1, 2, 3]
    assert sharded_topk(sl, 3)[1].tolist() == [3, 4, 5]
    # distinct scores: same as torch.topk
    w = torch.randn(5, N_ITEMS, generator=gen)
    ws = ShardedLogits(
        [w[:, sl.starts[s] : sl.starts[s + 1]] for s in range(k)], sl.starts, sl.primary
    )
    assert torch.equal(sharded_topk(ws, 6), torch.topk(w, 6, dim=1).indices)


def test_logits_arithmetic_and_add_at() -> None:
    z, sl = _logits_pair(3, 9)
    z2, sl2 = _logits_pair(3, 10)
    torch.testing.assert_close(gather_logits(sl + sl2), z + z2)
    torch.testing.assert_close(gather_logits(sl + z2), z + z2)
    bias = torch.randn(8, 1)
    torch.testing.assert_close(gather_logits(sl + bias), z + bias)
    torch.testing.assert_close(gather_logits(sl.map(torch.sigmoid)), torch.sigmoid(z))
    gen = torch.Generator().manual_seed(11)
    idx, off, vals = _bags(gen, 8)
    rows = torch.repeat_interleave(
        torch.arange(8), torch.diff(off, append=torch.tensor([idx.numel()]))
    )
    ref = z.index_put((rows, idx), vals, accumulate=True)
    torch.testing.assert_close(gather_logits(sl.index_put((rows, idx), vals, accumulate=True)), ref)
    # leading-dimension views (the DRNN's states)
    z3 = torch.randn(4, 3, N_ITEMS)
    s3 = ShardedLogits(
        [z3[..., sl.starts[s] : sl.starts[s + 1]] for s in range(3)], sl.starts, sl.primary
    )
    assert s3.shape == z3.shape
    torch.testing.assert_close(gather_logits(s3[:, -1]), z3[:, -1])
    torch.testing.assert_close(gather_logits(s3[:, :-1]), z3[:, :-1])
    torch.testing.assert_close(gather_logits(s3 + s3[:, -1].unsqueeze(1)), z3 + z3[:, -1:])
    torch.testing.assert_close(
        gather_logits(cat_logits([s3[:, :-1], s3[:, -1].unsqueeze(1)], 1)), z3
    )
    with pytest.raises(IndexError):
        s3[..., 0]


@pytest.mark.parametrize("k", [2, 3])
def test_per_state_costs_match_dense_drnn_formulas(k: int) -> None:
    """[B, S, N] logits: softmax CE and BCE per state, against the dense formulas."""
    gen = torch.Generator().manual_seed(13)
    z = torch.randn(5, 3, N_ITEMS, generator=gen, requires_grad=True)
    starts = shard_starts(N_ITEMS, k)
    sl = ShardedLogits(
        [z[..., starts[s] : starts[s + 1]] for s in range(k)], starts, torch.device("cpu")
    )
    idx, off, _ = _bags(gen, 5)
    target = (_dense(idx, off, torch.ones(idx.shape), 5) > 0).float()
    share = target / target.sum(-1, keepdim=True).clamp(min=1.0)
    ref_ce = -(share.unsqueeze(1) * F.log_softmax(z, -1)).sum(-1)
    u = torch.unique(
        torch.repeat_interleave(
            torch.arange(5), torch.diff(off, append=torch.tensor([idx.numel()]))
        )
        * N_ITEMS
        + idx
    )
    u_idx, u_off = u % N_ITEMS, torch.searchsorted(u // N_ITEMS, torch.arange(5))
    got_ce = sharded_softmax_ce(sl, u_idx, u_off, reduction="none")
    torch.testing.assert_close(got_ce, ref_ce)
    full = target.unsqueeze(1).expand_as(z)
    ref_bce = F.binary_cross_entropy_with_logits(z, full, reduction="none").sum(-1)
    got_bce = sharded_bce(sl, [(idx, off, None, 1.0)], [(idx, off, 1.0)], reduction="none")
    torch.testing.assert_close(got_bce, ref_bce)
    g = torch.randn(ref_ce.shape, generator=gen)
    (ref_ce * g + ref_bce * g).sum().backward()
    ref_grad = z.grad.clone()  # type: ignore[union-attr]
    z.grad = None
    (got_ce * g + got_bce * g).sum().backward()
    torch.testing.assert_close(z.grad, ref_grad)


@pytest.mark.parametrize("k", [2, 3])
def test_bce_matches_predictor_soft_split_formula(k: int) -> None:
    """eq. 7-9 as the generated predictor writes it densely: pos = WA1 * recent + WP1 * y,
    neg = WA0 * (1 - max(x, y)) + WP0 * (1 - y); recent keeps the largest Td per item."""
    gen = torch.Generator().manual_seed(14)
    z, sl = _logits_pair(k, 15)
    x, x_off, td = _bags(gen, 8)
    y_idx, y_off, _ = _bags(gen, 8)
    rows_x = torch.repeat_interleave(
        torch.arange(8), torch.diff(x_off, append=torch.tensor([x.numel()]))
    )
    recent = (
        torch.zeros(8 * N_ITEMS)
        .scatter_reduce(0, rows_x * N_ITEMS + x, td, reduce="amax")
        .view(8, N_ITEMS)
    )
    xh = (_dense(x, x_off, torch.ones(x.shape), 8) > 0).float()
    yh = (_dense(y_idx, y_off, torch.ones(y_idx.shape), 8) > 0).float()
    wa1, wa0, wp1, wp0 = 1.3, 0.4, 2.0, 0.25
    pos = wa1 * recent + wp1 * yh
    neg = wa0 * (1 - torch.maximum(xh, yh)) + wp0 * (1 - yh)
    ref = -(pos * F.logsigmoid(z) + neg * F.logsigmoid(-z)).sum(-1).mean()
    xy_idx, xy_off = union_bags([(x, x_off), (y_idx, y_off)], 8)
    got = sharded_bce(
        sl,
        [(x, x_off, td, wa1), (y_idx, y_off, None, wp1)],
        [(xy_idx, xy_off, wa0), (y_idx, y_off, wp0)],
    )
    torch.testing.assert_close(got, ref)


class _Tiny(nn.Module):
    def __init__(self, devices: tuple[str, ...]) -> None:
        super().__init__()
        self.inp = make_sharded_item_input(N_ITEMS, 4, devices)
        self.hidden = nn.Linear(4, 3)
        self.out = make_sharded_item_output(3, N_ITEMS, devices)


def test_state_dict_gather_split_round_trip_and_pinning() -> None:
    torch.manual_seed(2)
    plain = _Tiny(DEVS[1])
    torch.manual_seed(2)
    sharded = _Tiny(DEVS[3])
    ref = plain.state_dict()
    gathered = gathered_state_dict(sharded)
    assert list(gathered) == list(ref)
    for key in ref:
        assert torch.equal(gathered[key], ref[key]), key
    # split back into a freshly initialised sharded module
    torch.manual_seed(99)
    other = _Tiny(DEVS[3])
    other.load_state_dict(split_state_dict(other, ref))
    for key, value in gathered_state_dict(other).items():
        assert torch.equal(value, ref[key]), key
    # .to(...) casts the dtype but keeps every shard on its own device
    other.to(torch.float64).to("cpu")
    assert all(p.dtype == torch.float64 for p in other.parameters())
    assert isinstance(other.out, ShardedLinear)
    assert other.out.devices == [torch.device("cpu")] * 3


@pytest.mark.parametrize("k", [2, 3])
def test_adam_steps_sharded_equal_unsharded(k: int) -> None:
    """Several optimiser steps: parameters and losses agree (tolerance 1e-5)."""
    gen = torch.Generator().manual_seed(12)
    torch.manual_seed(3)
    plain = _Tiny(DEVS[1])
    torch.manual_seed(3)
    sharded = _Tiny(DEVS[k])
    opt_a = torch.optim.Adam(plain.parameters(), lr=0.05)
    opt_b = torch.optim.Adam(sharded.parameters(), lr=0.05)
    for _ in range(5):
        idx, off, w = _bags(gen, 6)
        tgt, t_off, _ = _bags(gen, 6)
        losses = []
        for net, opt in ((plain, opt_a), (sharded, opt_b)):
            h = torch.tanh(net.hidden(net.inp(idx, off, per_sample_weights=w)))
            logits = net.out(h)
            loss = sharded_softmax_ce(logits, tgt, t_off) + 1e-3 * item_sq_norm(net.out)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert abs(losses[0] - losses[1]) <= 1e-5
    for key, value in gathered_state_dict(sharded).items():
        torch.testing.assert_close(value, plain.state_dict()[key], rtol=1e-5, atol=1e-5)
