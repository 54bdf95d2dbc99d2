"""Evaluate a ranker on the session or purchase-history protocol
(docs/design.md#data-formats-and-evaluation-protocols), in bounded-memory batches.

A ranker is anything with ``topk_sessions`` (:class:`SessionRanker`) or ``topk_customers``
(:class:`CustomerRanker`): the baselines in :mod:`autorec.baselines`, and trained networks.
:func:`topk_excluding` is the shared vectorised top-K with exclusions and deterministic ties.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import torch

from autorec.data.types import CustomerExamples, IntArray, SessionLog, SessionSamples
from autorec.metrics import hit_matrix, path_compression_ratio, pcc_at_k, precision_at_k

__all__ = [
    "CustomerRanker",
    "SessionRanker",
    "evaluate_customers",
    "evaluate_sessions",
    "iter_customer_batches",
    "iter_sample_batches",
    "mean_se",
    "paired_session_difference",
    "slice_examples",
    "slice_samples",
    "topk_excluding",
]

#: Default number of rows handed to a ranker at once (samples or customers).
DEFAULT_BATCH = 2048


@runtime_checkable
class SessionRanker(Protocol):
    """Ranks items for session prefix samples (DRNN paper, Sec. III.E / V)."""

    def topk_sessions(self, log: SessionLog, samples: SessionSamples, k: int) -> IntArray:
        """``[n_samples, k]`` item indices (``log.items``), best first; ``-1`` pads."""
        ...


@runtime_checkable
class CustomerRanker(Protocol):
    """Ranks catalogue items for customers (soft-split paper, Appendix A)."""

    def topk_customers(self, examples: CustomerExamples, k: int) -> IntArray:
        """``[n_customers, k]`` catalogue indices, best first, inputs (XY) excluded; ``-1``
        pads when fewer than ``k`` items are eligible."""
        ...


def topk_excluding(
    scores: torch.Tensor,
    exclude_idx: torch.Tensor | npt.ArrayLike,
    exclude_offsets: torch.Tensor | npt.ArrayLike,
    k: int,
) -> torch.Tensor:
    """Top ``k`` column indices per row of ``scores`` ``[B, n]``, excluding some items.

    Row ``b`` excludes ``exclude_idx[exclude_offsets[b]:exclude_offsets[b+1]]`` (the last row
    runs to the end of ``exclude_idx``; ``nn.EmbeddingBag`` offsets convention, length ``B``).
    Vectorised: excluded entries are scattered to ``-inf`` (eligible NaN and ``-inf`` scores
    are first mapped to the lowest finite value, so an eligible item always outranks an
    excluded one), then the top ``k`` are taken.

    Ties are broken deterministically by the lower item index (``torch.topk`` alone does not
    promise that): the ``k``-th largest value is found with ``topk``, every item above it is
    kept, and of the items equal to it the lowest indices fill the remaining slots (a second
    ``topk`` over a descending index key); the ``k`` kept items are then ordered by a stable
    sort (score descending, index ascending). No cumulative sums or full sorts over the
    catalogue.

    Returns a ``torch.long`` tensor ``[B, k]`` on the device of ``scores``; a slot is ``-1``
    when a row has fewer than ``k`` eligible items (also when ``k > n``).
    """
    if scores.dim() != 2:
        raise ValueError(f"scores must be [B, n], got shape {tuple(scores.shape)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n_rows, n = scores.shape
    device = scores.device
    idx = torch.as_tensor(exclude_idx, dtype=torch.long, device=device).reshape(-1)
    off = torch.as_tensor(exclude_offsets, dtype=torch.long, device=device).reshape(-1)
    if off.numel() != n_rows:
        raise ValueError(f"exclude_offsets needs one offset per row ({n_rows}), got {off.numel()}")
    if n_rows == 0:
        return torch.empty((0, k), dtype=torch.long, device=device)
    dtype = scores.dtype if scores.is_floating_point() else torch.float64
    lowest = torch.finfo(dtype).min
    # a fresh tensor (the caller's scores stay untouched); NaN and -inf -> lowest finite
    work = torch.nan_to_num(scores.to(dtype), nan=lowest, neginf=lowest)
    if work.data_ptr() == scores.data_ptr():
        work = work.clone()
    excluded = torch.zeros((n_rows, n), dtype=torch.bool, device=device)
    if idx.numel():
        counts = torch.diff(off, append=torch.tensor([idx.numel()], device=device))
        rows = torch.repeat_interleave(torch.arange(n_rows, device=device), counts)
        excluded[rows, idx] = True
        work.masked_fill_(excluded, float("-inf"))
    k_eff = min(k, n)
    top_vals = torch.topk(work, k_eff, dim=1).values
    kth = top_vals[:, -1:]  # [B,1] the k-th largest value
    above = work > kth  # all of them are among the top k
    need = k_eff - (top_vals > kth).sum(dim=1, keepdim=True)  # slots left for ties at kth
    # the `need` lowest indices among the items equal to kth: topk of a descending index key
    rank_key = torch.arange(n, 0, -1, device=device, dtype=torch.int64)  # n - index
    tie_key = torch.where(work == kth, rank_key, torch.zeros((), dtype=torch.int64, device=device))
    tie_idx = torch.topk(tie_key, k_eff, dim=1).indices  # ascending index among ties first
    take = torch.arange(k_eff, device=device).unsqueeze(0) < need
    keep = above | torch.zeros_like(above).scatter_(1, tie_idx, take)
    cols = torch.nonzero(keep, as_tuple=False)[:, 1].reshape(n_rows, k_eff)  # ascending index
    vals = torch.gather(work, 1, cols)
    order = torch.sort(vals, dim=1, descending=True, stable=True).indices
    top = torch.gather(cols, 1, order)
    top = top.masked_fill(torch.gather(excluded, 1, top), -1)
    if k_eff < k:
        pad = torch.full((n_rows, k - k_eff), -1, dtype=torch.long, device=device)
        top = torch.cat([top, pad], dim=1)
    return top


def slice_samples(samples: SessionSamples, start: int, stop: int) -> SessionSamples:
    """Samples ``start:stop`` (still valid against the same :class:`SessionLog`)."""
    return SessionSamples(session=samples.session[start:stop], length=samples.length[start:stop])


def slice_examples(examples: CustomerExamples, start: int, stop: int) -> CustomerExamples:
    """Customers ``start:stop`` with their CSR pointers rebased to 0."""
    ip, tp = examples.input_ptr, examples.target_ptr
    i0, i1 = int(ip[start]), int(ip[stop])
    t0, t1 = int(tp[start]), int(tp[stop])
    return CustomerExamples(
        customers=examples.customers[start:stop],
        input_ptr=ip[start : stop + 1] - i0,
        input_item=examples.input_item[i0:i1],
        input_age_days=examples.input_age_days[i0:i1],
        target_ptr=tp[start : stop + 1] - t0,
        target_item=examples.target_item[t0:t1],
    )


def iter_sample_batches(
    samples: SessionSamples, batch_size: int = DEFAULT_BATCH
) -> Iterator[SessionSamples]:
    n = len(samples.session)
    for start in range(0, n, max(1, batch_size)):
        yield slice_samples(samples, start, min(n, start + batch_size))


def iter_customer_batches(
    examples: CustomerExamples, batch_size: int = DEFAULT_BATCH
) -> Iterator[CustomerExamples]:
    n = examples.n_customers
    for start in range(0, n, max(1, batch_size)):
        yield slice_examples(examples, start, min(n, start + batch_size))


def mean_se(values: npt.ArrayLike, cluster: npt.ArrayLike | None = None) -> float:
    """Standard error of the mean of ``values``; with ``cluster`` (one group id per value),
    the cluster-robust one (the prefix samples of one session are not independent draws):
    ``sqrt(Σ_g (Σ_{i∈g} (v_i - m))²) / n``. Without clusters it is the usual
    ``sqrt(Σ (v_i - m)² / (n (n - 1)))``. 0 for fewer than two values."""
    v = np.asarray(values, dtype=np.float64).ravel()
    n = v.size
    if n < 2:
        return 0.0
    dev = v - v.mean()
    if cluster is None:
        return float(np.sqrt((dev**2).sum() / (n * (n - 1))))
    _, group = np.unique(np.asarray(cluster).ravel(), return_inverse=True)
    sums = np.bincount(group, weights=dev)
    return float(np.sqrt((sums**2).sum()) / n)


def _check_topk(recs: IntArray, rows: int, k: int, what: str) -> IntArray:
    arr = np.asarray(recs, dtype=np.int64)
    if arr.shape != (rows, k):
        raise ValueError(f"{what} returned shape {arr.shape}, expected ({rows}, {k})")
    return arr


def evaluate_sessions(
    ranker: SessionRanker,
    log: SessionLog,
    samples: SessionSamples,
    ks: Sequence[int] = (1, 10),
    *,
    batch_size: int = DEFAULT_BATCH,
    stderr: bool = False,
) -> dict[str, float]:
    """Session protocol (DRNN paper Sec. V; docs/design.md#session-protocol): top-k accuracy
    for each ``k`` in ``ks`` and the path compression ratio (Table II), over every prefix sample.

    ``stderr`` adds ``top{k}_se``, each accuracy's standard error clustered by session
    (:func:`mean_se`).

    Returns ``{"top1": .., "top10": .., "path_compression": .., "n_samples": ..}`` (one
    ``top{k}`` per ``k``; ``path_compression`` is NaN when no (session, bought item) pair has
    a page view before its purchase). The ranker sees ``batch_size`` samples at a time; only
    the ``[n_samples, max(ks)]`` recommendation array is kept.
    """
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")
    n = len(samples.session)
    recs, cum = _session_hits(ranker, log, samples, ks[-1], batch_size)
    out: dict[str, float] = {}
    for k in ks:
        out[f"top{k}"] = float(cum[:, k - 1].mean()) if n else 0.0
        if stderr:
            out[f"top{k}_se"] = mean_se(cum[:, k - 1], samples.session)
    out["path_compression"] = path_compression_ratio(recs[:, 0], log, samples)
    out["n_samples"] = float(n)
    return out


def _session_hits(
    ranker: SessionRanker, log: SessionLog, samples: SessionSamples, k: int, batch_size: int
) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """The ``[n, k]`` recommendations and, per sample and cut-off j, whether its top j+1
    holds an item the session buys."""
    parts = [
        _check_topk(ranker.topk_sessions(log, batch, k), len(batch.session), k, "topk_sessions")
        for batch in iter_sample_batches(samples, batch_size)
    ]
    recs = np.concatenate(parts) if parts else np.zeros((0, k), dtype=np.int64)
    hits = hit_matrix(recs, log.buy_ptr, log.buy, row_group=samples.session)
    cum = np.logical_or.accumulate(hits, axis=1) if len(recs) else hits
    return recs, cum


def paired_session_difference(
    a: SessionRanker,
    b: SessionRanker,
    log: SessionLog,
    samples: SessionSamples,
    k: int = 1,
    *,
    batch_size: int = DEFAULT_BATCH,
) -> dict[str, float]:
    """Top-``k`` accuracy of ranker ``a`` minus ranker ``b`` on the same prefix samples, with
    the standard error of that difference clustered by session (:func:`mean_se` of the
    per-sample hit differences). Pairing removes what both rankers get right or wrong on
    the same prefixes, so the difference's error is smaller than either accuracy's; with
    ``se`` > 0 the difference is ``diff / se`` standard errors from zero.

    Returns ``{"a", "b", "diff", "se", "n_samples", "n_sessions"}``."""
    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    hit_a = _session_hits(a, log, samples, k, batch_size)[1][:, k - 1].astype(np.float64)
    hit_b = _session_hits(b, log, samples, k, batch_size)[1][:, k - 1].astype(np.float64)
    n = len(samples.session)
    return {
        "a": float(hit_a.mean()) if n else 0.0,
        "b": float(hit_b.mean()) if n else 0.0,
        "diff": float((hit_a - hit_b).mean()) if n else 0.0,
        "se": mean_se(hit_a - hit_b, samples.session),
        "n_samples": float(n),
        "n_sessions": float(len(np.unique(samples.session))),
    }


def evaluate_customers(
    ranker: CustomerRanker,
    examples: CustomerExamples,
    n_catalogue: int,
    k: int = 10,
    *,
    batch_size: int = DEFAULT_BATCH,
    stderr: bool = False,
) -> dict[str, float]:
    """Purchase-history protocol (soft-split paper eq. 1-2, Appendix A;
    docs/design.md#purchase-history-protocol).

    Returns ``{"precision@K": .., "pcc@K": .., "pcc@K_count": .., "n_customers": ..}``;
    ``stderr`` adds ``precision@K_se``, the standard error of the mean of the customers'
    precisions. The ranker sees ``batch_size`` customers at a time.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    parts = [
        _check_topk(ranker.topk_customers(batch, k), batch.n_customers, k, "topk_customers")
        for batch in iter_customer_batches(examples, batch_size)
    ]
    recs = np.concatenate(parts) if parts else np.zeros((0, k), dtype=np.int64)
    precision = precision_at_k(recs, examples.target_ptr, examples.target_item)
    pcc, count = pcc_at_k(recs, examples.target_ptr, examples.target_item, n_catalogue)
    out = {
        f"precision@{k}": precision,
        f"pcc@{k}": pcc,
        f"pcc@{k}_count": float(count),
        "n_customers": float(examples.n_customers),
    }
    if stderr:
        hits = hit_matrix(recs, examples.target_ptr, examples.target_item)
        out[f"precision@{k}_se"] = mean_se(hits.sum(axis=1) / k)
    return out
