"""Vectorised batch builders: data-contract arrays -> the batch dicts of the generated ``Net``s.

Every builder takes the row indices of the samples (or customers) to batch and works with numpy
fancy indexing, ``np.repeat`` and cumulative sums only: no Python loop over samples. Variable
length lists are returned EmbeddingBag style: a flat ``*_idx`` tensor and ``*_offsets`` (start
of each bag, length B). The keys, listed below, are the ones the generated ``forward`` and
``loss`` read.

DRNN batches (DRNN paper, Section III; :func:`session_batch`):

- ``pages`` Long[B, w]: the last ``w`` pages of the prefix, right-aligned, left-padded with
  ``n_pages``; ``dwell`` Float[B, w]: ``log1p(min(theta, 3600))`` with theta = 0 for the
  prefix's last page (its dwell is unknown at prediction time) and for padding.
- ``hist_idx`` / ``hist_offsets`` / ``hist_weight``: the pages before the window, p_0..p_{x-n}
  (Sec. III.C), weighted by the aging factor taken literally from the paper,
  ``eps_i = theta(p_i) / sum_{j=i}^{x-n} theta(p_j)`` -- the sum runs from ``i`` (not from 0),
  so the most recent history page gets ``eps = 1`` and older pages a share of the dwell still
  to come. ``theta`` here is the dwell in seconds clipped to [0, 3600] (the same clip as the
  input bias). A zero sum (every remaining page has theta = 0) gives the limit of equal dwell
  times, ``eps_i = 1 / (number of remaining pages)``.
- ``user_idx`` / ``user_offsets``: the distinct items the session's user bought before the
  session started (the FNN's multi-hot input, Sec. III.D); empty without user ids.
- ``viewed_idx`` / ``viewed_offsets`` / ``viewed_weight``: the distinct items of the product
  pages viewed in the prefix, weight = number of views.
- ``target_idx`` / ``target_offsets``: the distinct items bought in the session.

Predictor batches (soft-split paper; :func:`purchase_batch`): ``x_idx`` / ``x_offsets`` /
``x_age`` (input purchases and their age in days before the input window's end) and
``y_idx`` / ``y_offsets`` (targets).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from autorec.data.types import CustomerExamples, IntArray, SessionLog, SessionSamples

__all__ = [
    "DWELL_CLIP_S",
    "UserHistories",
    "history_weights",
    "purchase_batch",
    "session_batch",
    "user_histories",
]

#: Dwell times are clipped to one hour before the log1p transform and the aging factor.
DWELL_CLIP_S = 3600.0

Batch = dict[str, torch.Tensor]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class UserHistories:
    """Dated purchases per user in CSR layout, sorted by time within each user."""

    ptr: IntArray  # len n_users + 1
    item: IntArray
    time: IntArray
    key: IntArray  # user * span + (time - t0): sorted, for searchsorted look-ups
    t0: int
    span: int

    @property
    def n_users(self) -> int:
        return len(self.ptr) - 1


def user_histories(*logs: SessionLog) -> UserHistories:
    """Every purchase of the logs' sessions, per user (sessions without a user are skipped).

    Pass the train, validation and test logs together: a session only ever sees purchases made
    before it started, so the combined history leaks nothing.
    """
    if not logs:
        raise ValueError("user_histories needs at least one SessionLog")
    n_users = max(len(log.users) for log in logs)
    users, items, times = [], [], []
    for log in logs:
        per_session = np.diff(log.buy_ptr)
        users.append(np.repeat(np.asarray(log.user, dtype=np.int64), per_session))
        items.append(np.asarray(log.buy, dtype=np.int64))
        times.append(np.asarray(log.buy_time, dtype=np.int64))
    user = np.concatenate(users)
    item = np.concatenate(items)
    time = np.concatenate(times)
    keep = user >= 0
    user, item, time = user[keep], item[keep], time[keep]
    order = np.lexsort((time, user))
    user, item, time = user[order], item[order], time[order]
    ptr = np.searchsorted(user, np.arange(n_users + 1)).astype(np.int64)
    t0 = int(time.min()) if len(time) else 0
    span = (int(time.max()) - t0 + 2) if len(time) else 2
    key = user * span + (time - t0)
    return UserHistories(ptr=ptr, item=item, time=time, key=key, t0=t0, span=span)


_HISTORY_CACHE: dict[int, tuple[weakref.ref[SessionLog], UserHistories]] = {}


def _own_histories(log: SessionLog) -> UserHistories:
    """``user_histories(log)``, cached per log object (dropped when the log is collected)."""
    hit = _HISTORY_CACHE.get(id(log))
    if hit is not None and hit[0]() is log:
        return hit[1]
    hist = user_histories(log)
    key = id(log)
    _HISTORY_CACHE[key] = (weakref.ref(log, lambda _: _HISTORY_CACHE.pop(key, None)), hist)
    return hist


def _ranges(starts: IntArray, lengths: IntArray) -> tuple[IntArray, IntArray]:
    """Concatenated ``range(starts[b], starts[b] + lengths[b])`` and each bag's start offset."""
    lengths = np.asarray(lengths, dtype=np.int64)
    offsets = np.zeros(len(lengths), dtype=np.int64)
    if len(lengths) > 1:
        np.cumsum(lengths[:-1], out=offsets[1:])
    total = int(lengths.sum())
    flat = np.repeat(np.asarray(starts, dtype=np.int64) - offsets, lengths)
    flat += np.arange(total, dtype=np.int64)
    return flat, offsets


def _distinct(
    bag: IntArray, value: IntArray, n_bags: int, n_values: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Distinct values per bag (sorted), the bags' offsets and each value's multiplicity."""
    key = bag.astype(np.int64) * max(n_values, 1) + value.astype(np.int64)
    uniq, counts = np.unique(key, return_counts=True)
    bags = uniq // max(n_values, 1)
    values = uniq - bags * max(n_values, 1)
    offsets = np.searchsorted(bags, np.arange(n_bags)).astype(np.int64)
    return values.astype(np.int64), offsets, counts.astype(np.int64)


def _theta(seconds: npt.NDArray[np.floating]) -> F64:
    """Dwell seconds cleaned for the model: NaN -> 0, clipped to [0, DWELL_CLIP_S]."""
    out = np.nan_to_num(np.asarray(seconds, dtype=np.float64), nan=0.0, posinf=DWELL_CLIP_S)
    return np.clip(out, 0.0, DWELL_CLIP_S)


def history_weights(theta: npt.NDArray[np.floating], offsets: IntArray) -> F64:
    """Aging factors of the history pages (DRNN paper Sec. III.C), one bag per sample:
    ``eps_i = theta_i / sum_{j=i}^{end} theta_j`` (suffix sum within the bag), and
    ``1 / (pages from i to the end)`` where that sum is 0."""
    theta = np.asarray(theta, dtype=np.float64)
    n = len(theta)
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.int64)
    ends = np.append(offsets[1:], n) - 1  # last entry of each bag (bags may be empty)
    lengths = ends - offsets + 1
    end_of = np.repeat(ends, lengths)  # per entry: last entry of its bag
    csum = np.cumsum(theta)
    suffix = csum[end_of] - csum + theta
    remaining = (end_of - np.arange(n) + 1).astype(np.float64)
    positive = suffix > 0
    safe = np.where(positive, suffix, 1.0)
    return np.where(positive, theta / safe, 1.0 / remaining)


def _long(a: npt.ArrayLike) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))


def _float(a: npt.ArrayLike) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def session_batch(
    log: SessionLog,
    samples: SessionSamples,
    rows: IntArray,
    *,
    width: int,
    histories: UserHistories | None = None,
) -> Batch:
    """The DRNN batch of samples ``rows`` of ``samples`` (see the module docstring).

    ``histories`` supplies the users' earlier purchases for the FNN branch; by default they
    come from ``log`` itself (pass :func:`user_histories` of train + valid + test for more).
    """
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    rows = np.asarray(rows, dtype=np.int64)
    b = len(rows)
    n_pages, n_items = len(log.pages), len(log.items)
    session = samples.session[rows].astype(np.int64)
    length = samples.length[rows].astype(np.int64)
    base = log.page_ptr[session].astype(np.int64)

    # window: prefix positions L-w .. L-1, right-aligned; negative positions are padding
    rel = length[:, None] - width + np.arange(width, dtype=np.int64)[None, :]
    real = rel >= 0
    pos = base[:, None] + np.maximum(rel, 0)
    pages = np.where(real, log.page[pos], n_pages)
    theta = np.where(real, _theta(log.dwell[pos]), 0.0)
    theta[:, -1] = 0.0  # the prefix's last page: no next view yet
    dwell = np.log1p(theta)

    # history state: pages p_0 .. p_{L-w-1}
    n_hist = np.maximum(length - width, 0)
    hist_pos, hist_offsets = _ranges(base, n_hist)
    hist_weight = history_weights(_theta(log.dwell[hist_pos]), hist_offsets)

    # viewed items of the whole prefix, with view counts
    prefix_pos, _ = _ranges(base, length)
    prefix_bag = np.repeat(np.arange(b, dtype=np.int64), length)
    item = log.page_item[log.page[prefix_pos]]
    shown = item >= 0
    viewed_idx, viewed_offsets, views = _distinct(prefix_bag[shown], item[shown], b, n_items)

    # targets: distinct items bought in the session
    n_buy = (log.buy_ptr[session + 1] - log.buy_ptr[session]).astype(np.int64)
    buy_pos, _ = _ranges(log.buy_ptr[session], n_buy)
    buy_bag = np.repeat(np.arange(b, dtype=np.int64), n_buy)
    target_idx, target_offsets, _ = _distinct(buy_bag, log.buy[buy_pos], b, n_items)

    # the user's purchases before the session (distinct items)
    hist = histories if histories is not None else _own_histories(log)
    user = log.user[session].astype(np.int64)
    user_idx, user_offsets = _purchases_before(hist, user, log.start[session], b, n_items)

    return {
        "pages": _long(pages),
        "dwell": _float(dwell),
        "hist_idx": _long(log.page[hist_pos]),
        "hist_offsets": _long(hist_offsets),
        "hist_weight": _float(hist_weight),
        "user_idx": _long(user_idx),
        "user_offsets": _long(user_offsets),
        "viewed_idx": _long(viewed_idx),
        "viewed_offsets": _long(viewed_offsets),
        "viewed_weight": _float(views),
        "target_idx": _long(target_idx),
        "target_offsets": _long(target_offsets),
    }


def _purchases_before(
    hist: UserHistories, user: IntArray, start: IntArray, n_bags: int, n_items: int
) -> tuple[IntArray, IntArray]:
    """Distinct items each user bought strictly before ``start`` (users < 0: none)."""
    known = (user >= 0) & (user < hist.n_users)
    if not known.any() or len(hist.item) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(n_bags, dtype=np.int64)
    u = np.where(known, user, 0)
    first = hist.ptr[u]
    t0, span = hist.t0, hist.span
    query = u * span + np.clip(np.asarray(start, dtype=np.int64) - t0, 0, span - 1)
    count = np.where(known, np.searchsorted(hist.key, query, side="left") - first, 0)
    pos, _ = _ranges(first, count)
    bag = np.repeat(np.arange(n_bags, dtype=np.int64), count)
    idx, offsets, _ = _distinct(bag, hist.item[pos], n_bags, n_items)
    return idx, offsets


def purchase_batch(examples: CustomerExamples, rows: IntArray) -> Batch:
    """The predictor batch of customers ``rows`` of ``examples``: inputs X (with ages in days)
    and targets Y (see the module docstring)."""
    rows = np.asarray(rows, dtype=np.int64)
    x_start = examples.input_ptr[rows]
    x_pos, x_offsets = _ranges(x_start, examples.input_ptr[rows + 1] - x_start)
    y_start = examples.target_ptr[rows]
    y_pos, y_offsets = _ranges(y_start, examples.target_ptr[rows + 1] - y_start)
    return {
        "x_idx": _long(examples.input_item[x_pos]),
        "x_offsets": _long(x_offsets),
        "x_age": _float(examples.input_age_days[x_pos]),
        "y_idx": _long(examples.target_item[y_pos]),
        "y_offsets": _long(y_offsets),
    }
