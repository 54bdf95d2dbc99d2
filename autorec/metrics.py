"""Recommendation metrics exactly as
docs/design.md#data-formats-and-evaluation-protocols defines.

All functions are vectorised numpy over compact arrays; none loops over customers or samples in
Python.

Recommendation lists are ``[n_rows, K]`` integer arrays of item indices, best first. A slot
holding ``-1`` means "no recommendation" (fewer eligible items than ``K``) and never hits.
Targets are given in CSR layout (``ptr``, ``item``) over *groups*; ``row_group[r]`` says which
target group row ``r`` is scored against (customer ``c`` -> group ``c``; a session prefix
sample -> the group of its session), so per-sample targets are never copied.

Purchase-history protocol (soft-split paper, Sec. 2 "Metrics", eq. 1-2):

* :func:`precision_at_k` -- eq. 1, mean over customers of ``|Rec_c ∩ T_c| / K``.
* :func:`pcc_at_k` -- eq. 2, ``|∪_c (Rec_c ∩ T_c)| / P`` with ``P`` the catalogue size
  (the count ``|∪_c (Rec_c ∩ T_c)|`` is returned too).

Session protocol (DRNN paper, Sec. V):

* :func:`topk_accuracy` -- ``g(S) / |S|`` (Sec. V.B, "FNN Top-K"), the share of prefix samples
  whose top ``k`` holds an item bought in the sample's session.
* :func:`path_compression_ratio` -- Table II, mean of ``L2 / L1`` over (session, bought item).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from autorec.data.types import IntArray, SessionLog, SessionSamples

__all__ = [
    "PathCompression",
    "hit_matrix",
    "path_compression",
    "path_compression_ratio",
    "pcc_at_k",
    "precision_at_k",
    "topk_accuracy",
]

BoolArray = npt.NDArray[np.bool_]


def _as_recs(recs: npt.ArrayLike, k: int | None) -> IntArray:
    arr = np.asarray(recs, dtype=np.int64)
    if arr.ndim != 2:
        raise ValueError(f"recommendations must be a 2-d [rows, K] array, got shape {arr.shape}")
    if k is not None:
        if k < 1 or k > arr.shape[1]:
            raise ValueError(f"k={k} must be in 1..{arr.shape[1]} (the columns of recs)")
        arr = arr[:, :k]
    return arr


def hit_matrix(
    recs: npt.ArrayLike,
    target_ptr: npt.ArrayLike,
    target_item: npt.ArrayLike,
    row_group: npt.ArrayLike | None = None,
) -> BoolArray:
    """``hits[r, j]`` -- is ``recs[r, j]`` one of the targets of row ``r``?

    ``row_group`` maps rows to target groups (default: row ``r`` -> group ``r``). Set
    semantics: ``-1`` slots never hit, and a repeated recommendation of the same item in a row
    hits only at its first position (so ``|Rec ∩ T|`` is a set size, as in eq. 1-2).
    """
    rec = _as_recs(recs, None)
    ptr = np.asarray(target_ptr, dtype=np.int64)
    titem = np.asarray(target_item, dtype=np.int64)
    n_rows, k = rec.shape
    group = (
        np.arange(n_rows, dtype=np.int64)
        if row_group is None
        else np.asarray(row_group, dtype=np.int64)
    )
    if group.shape != (n_rows,):
        raise ValueError(f"row_group must have one entry per row ({n_rows}), got {group.shape}")
    if n_rows == 0 or k == 0:
        return np.zeros((n_rows, k), dtype=bool)
    width = int(max(rec.max(initial=-1), titem.max(initial=-1))) + 2  # items -1.. shifted by 1
    t_group = np.repeat(np.arange(len(ptr) - 1, dtype=np.int64), np.diff(ptr))
    t_key = t_group * width + (titem + 1)
    r_key = np.repeat(group, k) * width + (rec.reshape(-1) + 1)
    hits = np.isin(r_key, t_key) & (rec.reshape(-1) >= 0)
    # keep only the first occurrence of an item within a row (set semantics)
    row_key = np.repeat(np.arange(n_rows, dtype=np.int64), k) * width + (rec.reshape(-1) + 1)
    _, first = np.unique(row_key, return_index=True)
    is_first = np.zeros(n_rows * k, dtype=bool)
    is_first[first] = True
    return (hits & is_first).reshape(n_rows, k)


def precision_at_k(
    recs: npt.ArrayLike,
    target_ptr: npt.ArrayLike,
    target_item: npt.ArrayLike,
    k: int | None = None,
) -> float:
    """Precision@K, soft-split paper eq. 1: ``(1/C) Σ_c |Rec_c ∩ T_c| / K``.

    ``recs[c]`` is customer ``c``'s top-K list (K = ``k`` or the number of columns) and
    ``T_c = target_item[target_ptr[c]:target_ptr[c+1]]`` their purchases in the evaluation
    window Z. The denominator is always ``K``, also when fewer than ``K`` items could be
    recommended (``-1`` slots). Returns 0.0 for zero customers.
    """
    rec = _as_recs(recs, k)
    if rec.shape[0] == 0:
        return 0.0
    hits = hit_matrix(rec, target_ptr, target_item)
    return float(hits.sum(axis=1).mean() / rec.shape[1])


def pcc_at_k(
    recs: npt.ArrayLike,
    target_ptr: npt.ArrayLike,
    target_item: npt.ArrayLike,
    n_catalogue: int,
    k: int | None = None,
) -> tuple[float, int]:
    """Product Converted Coverage@K, soft-split paper eq. 2: ``|∪_c (Rec_c ∩ T_c)| / P``.

    The paper's typesetting of eq. 2 lost the fraction bar (``1/P`` precedes the union);
    docs/design.md#metrics fixes the reading: the number of distinct catalogue items that were
    both recommended in some customer's top K and bought by that customer, divided by the
    catalogue size ``P``.
    Returns ``(fraction, count)``.
    """
    if n_catalogue < 1:
        raise ValueError(f"n_catalogue must be >= 1, got {n_catalogue}")
    rec = _as_recs(recs, k)
    hits = hit_matrix(rec, target_ptr, target_item)
    count = int(np.unique(rec[hits]).size)
    return count / n_catalogue, count


def _sample_hits(recs: IntArray, log: SessionLog, samples: SessionSamples) -> BoolArray:
    return hit_matrix(recs, log.buy_ptr, log.buy, row_group=samples.session)


def topk_accuracy(
    recs: npt.ArrayLike, log: SessionLog, samples: SessionSamples, k: int | None = None
) -> float:
    """Top-k accuracy, DRNN paper Sec. V.B: ``g(S)/|S|``, the share of samples whose top ``k``
    holds (at least) one item bought in the sample's session.

    ``recs[i]`` ranks items for prefix sample ``i`` (session ``samples.session[i]`` of ``log``).
    Returns 0.0 for zero samples.
    """
    rec = _as_recs(recs, k)
    if rec.shape[0] == 0:
        return 0.0
    return float(_sample_hits(rec, log, samples).any(axis=1).mean())


@dataclass(frozen=True)
class PathCompression:
    """Per (session, bought item) pair: ``L1``, ``L2`` and the ratio's mean."""

    session: IntArray
    item: IntArray
    l1: IntArray
    l2: IntArray
    ratio: float
    """Mean of ``l2 / l1`` over the pairs; NaN when there is no pair."""


def path_compression(
    top1: npt.ArrayLike, log: SessionLog, samples: SessionSamples
) -> PathCompression:
    """Path compression ratio, DRNN paper Sec. V.D, Table II; see :func:`path_compression_ratio`."""
    top = np.asarray(top1, dtype=np.int64).reshape(-1)
    s_of = np.asarray(samples.session, dtype=np.int64)
    length = np.asarray(samples.length, dtype=np.int64)
    if top.shape != s_of.shape:
        raise ValueError(f"top1 has {top.size} entries but there are {s_of.size} samples")
    empty = np.zeros(0, dtype=np.int64)
    sessions = np.unique(s_of)
    if sessions.size == 0:
        return PathCompression(empty, empty, empty, empty, float("nan"))

    # (session, bought item) pairs of the evaluated sessions, first purchase time of each item
    n_buy = np.diff(log.buy_ptr)
    b_sess = np.repeat(np.arange(log.n_sessions, dtype=np.int64), n_buy)
    keep = np.isin(b_sess, sessions)
    b_sess, b_item, b_time = b_sess[keep], log.buy[keep], log.buy_time[keep]
    order = np.lexsort((b_time, b_item, b_sess))
    b_sess, b_item, b_time = b_sess[order], b_item[order], b_time[order]
    first = np.ones(b_sess.size, dtype=bool)
    first[1:] = (b_sess[1:] != b_sess[:-1]) | (b_item[1:] != b_item[:-1])
    p_sess, p_item, p_time = b_sess[first], b_item[first], b_time[first]

    # L1: page views of the session at or before the purchase time (views are in time order)
    n_view = np.diff(log.page_ptr)
    v_sess = np.repeat(np.arange(log.n_sessions, dtype=np.int64), n_view)
    if log.view_time.size:
        t0 = int(min(log.view_time.min(), p_time.min(initial=log.view_time.min())))
        t1 = int(max(log.view_time.max(), p_time.max(initial=log.view_time.max())))
    else:
        t0 = t1 = 0
    span = t1 - t0 + 1
    if log.n_sessions * span >= 2**62:
        raise ValueError("timestamps span too wide to build session/time keys")
    v_key = v_sess * span + (log.view_time - t0)
    p_key = p_sess * span + (p_time - t0)
    l1 = np.searchsorted(v_key, p_key, side="right") - log.page_ptr[p_sess]
    valid = l1 > 0
    p_sess, p_item, l1 = p_sess[valid], p_item[valid], l1[valid]
    if p_sess.size == 0:
        return PathCompression(empty, empty, empty, empty, float("nan"))

    # L2: the shortest sampled prefix of length <= L1 whose top-1 is the item; else L1
    width = int(max(p_item.max(), top.max(initial=-1))) + 2
    pair_key = p_sess * width + (p_item + 1)  # sorted: pairs are sorted by (session, item)
    s_key = s_of * width + (top + 1)
    pos = np.searchsorted(pair_key, s_key)
    pos_c = np.minimum(pos, pair_key.size - 1)
    match = (pair_key[pos_c] == s_key) & (top >= 0)
    match &= length <= l1[pos_c]
    l2 = l1.copy()
    np.minimum.at(l2, pos_c[match], length[match])
    ratio = float(np.mean(l2 / l1))
    return PathCompression(p_sess, p_item, l1, l2, ratio)


def path_compression_ratio(top1: npt.ArrayLike, log: SessionLog, samples: SessionSamples) -> float:
    """Path compression ratio ``L2 / L1`` (DRNN paper Sec. V.D, Table II), averaged over every
    (session, bought item ``t``) pair of the sessions that have samples.

    ``top1[i]`` is the top-1 item for prefix sample ``i``. Following
    docs/design.md#session-protocol:

    * ``L1`` = page views of the session before ``t`` was bought. We count views whose
      timestamp is ``<=`` the purchase time (a view logged in the same second as the purchase
      preceded it: a bought item is viewed first).
    * ``L2`` = the first (shortest) prefix length whose top-1 is ``t``, only among prefixes of
      length ``<= L1`` (a prediction after the purchase compresses nothing); ``L1`` if never,
      so ``0 < L2/L1 <= 1``. Only prefixes present in ``samples`` are considered.

    Edge cases (the paper is silent; our reading):

    * an item bought several times in a session is one pair, at its *first* purchase;
    * a pair with ``L1 = 0`` (bought before any page view was logged) has no defined ratio
      and is left out;
    * no pair at all -> NaN.
    """
    return path_compression(top1, log, samples).ratio
