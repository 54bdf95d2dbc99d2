"""The small abstract base of every baseline, and vectorised helpers they share.

A baseline is fitted once per protocol and then ranks like any model:

* session protocol: :meth:`Baseline.fit_sessions` on the training :class:`SessionLog`, then
  :meth:`Baseline.topk_sessions` (the :class:`~autorec.evaluation.SessionRanker` protocol);
* purchase-history protocol: :meth:`Baseline.fit_purchases` on the :class:`PurchaseLog` and a
  :class:`PurchaseProtocol` (only purchases in ``[dx, dyz)`` are used, never the window Z),
  then :meth:`Baseline.topk_customers` (the :class:`~autorec.evaluation.CustomerRanker`
  protocol; the customer's XY inputs are excluded).

Subclasses only turn a batch into a dense ``float64`` score matrix (:meth:`_score_sessions`,
:meth:`_score_customers`); the base ranks it with :func:`~autorec.evaluation.topk_excluding`
in *popularity order*: the item axis is permuted so that column ``j`` is the ``j``-th most
popular item, hence every tie (including "no evidence at all", all-zero scores) falls back to
popularity, exactly and without epsilon tricks. Batches are cut so a score matrix holds at most
:attr:`Baseline.max_cells` cells, which bounds memory for large catalogues.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import numpy as np
import scipy.sparse as sp
import torch

from autorec.data.types import (
    CustomerExamples,
    IntArray,
    PurchaseData,
    PurchaseLog,
    PurchaseProtocol,
    SessionData,
    SessionLog,
    SessionSamples,
)
from autorec.errors import AutorecError
from autorec.evaluation import slice_examples, slice_samples, topk_excluding

__all__ = [
    "Baseline",
    "PrefixViews",
    "popularity_order",
    "prefix_views",
    "protocol_window_matrix",
    "session_buy_counts",
    "viewed_matrix",
]

_B = TypeVar("_B", bound="Baseline")


def popularity_order(counts: IntArray) -> IntArray:
    """Item indices by ``counts`` descending, ties by the lower index (= item id order: an
    :class:`~autorec.data.types.IdMap` sorts raw ids, and a catalogue lists items by index)."""
    c = np.asarray(counts, dtype=np.int64)
    return np.lexsort((np.arange(c.size), -c)).astype(np.int64)


def session_buy_counts(log: SessionLog) -> IntArray:
    """Purchases of each item (``log.items``) over the sessions of ``log``."""
    return np.bincount(log.buy, minlength=len(log.items)).astype(np.int64)


@dataclass(frozen=True)
class PrefixViews:
    """Product-page views inside each sample's prefix, one entry per view (in view order).

    ``row[e]`` is the sample (0..n-1), ``item[e]`` the viewed item, ``position[e]`` the 1-based
    position of that page in the prefix.
    """

    row: IntArray
    item: IntArray
    position: IntArray


def prefix_views(log: SessionLog, samples: SessionSamples) -> PrefixViews:
    """The items of product pages viewed in each prefix ``p_0..p_{length-1}`` (vectorised)."""
    length = np.asarray(samples.length, dtype=np.int64)
    n = length.size
    total = int(length.sum())
    row = np.repeat(np.arange(n, dtype=np.int64), length)
    start = np.repeat(log.page_ptr[samples.session], length)
    local = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(length) - length, length)
    item = log.page_item[log.page[start + local]]
    keep = item >= 0
    return PrefixViews(row=row[keep], item=item[keep], position=local[keep] + 1)


def protocol_window_matrix(log: PurchaseLog, protocol: PurchaseProtocol) -> sp.csr_matrix:
    """Binary customers x catalogue matrix of purchases in ``[dx, dyz)`` (never Z).

    Rows are :attr:`PurchaseLog.users` indices; purchases of items outside the catalogue are
    dropped.
    """
    lo = int(protocol.dates.dx.timestamp())
    hi = int(protocol.dates.dyz.timestamp())
    inv = np.full(len(log.items), -1, dtype=np.int64)
    inv[protocol.catalogue] = np.arange(protocol.n_items, dtype=np.int64)
    in_window = (log.time >= lo) & (log.time < hi)
    col = inv[log.item[in_window]]
    row = log.user[in_window]
    ok = col >= 0
    mat = sp.csr_matrix(
        (np.ones(int(ok.sum()), dtype=np.float64), (row[ok], col[ok])),
        shape=(len(log.users), protocol.n_items),
    )
    mat.sum_duplicates()
    mat.data[:] = 1.0
    return mat


def csr_rows(ptr: IntArray, idx: IntArray, n_cols: int, *, binary: bool = True) -> sp.csr_matrix:
    """A CSR matrix from (ptr, column indices); duplicates summed, or set to 1 if binary."""
    data = np.ones(len(idx), dtype=np.float64)
    mat = sp.csr_matrix((data, np.asarray(idx), np.asarray(ptr)), shape=(len(ptr) - 1, n_cols))
    mat.sum_duplicates()
    if binary:
        mat.data[:] = 1.0
    return mat


def viewed_matrix(log: SessionLog) -> sp.csr_matrix:
    """Sessions x items, 1 where the session viewed the item (pages of no item skipped)."""
    page_items = log.page_item[log.page]
    rows = np.repeat(np.arange(log.n_sessions), np.diff(log.page_ptr))
    keep = page_items >= 0
    viewed = sp.csr_matrix(
        (np.ones(int(keep.sum())), (rows[keep], page_items[keep])),
        shape=(log.n_sessions, len(log.items)),
    )
    viewed.sum_duplicates()
    viewed.data[:] = 1.0
    return viewed


class Baseline(ABC):
    """A non-neural reference ranker (see the module docstring for the life cycle)."""

    name: ClassVar[str] = "baseline"
    supports_sessions: ClassVar[bool] = True
    supports_purchases: ClassVar[bool] = True
    #: Largest score matrix built at once (rows x items); 2**23 float64 cells = 64 MiB.
    max_cells: int = 2**23

    def __init__(self) -> None:
        self._n_items: int | None = None
        self._order: IntArray | None = None  # popularity order over the ranked axis
        self._kind: str | None = None

    # -- fitting ---------------------------------------------------------------------------
    def fit(self: _B, data: SessionData | PurchaseData, *, validation: bool = False) -> _B:
        """Fit on a loaded data set: the training sessions, or the purchase protocol (the
        validation protocol when ``validation``)."""
        from autorec.families import family_of

        fitted: _B = family_of(data).fit_baseline(self, data, validation=validation)
        return fitted

    def fit_sessions(self: _B, train: SessionLog, history: tuple[SessionLog, ...] = ()) -> _B:
        """Fit on training sessions. ``history`` holds further logs whose purchases may serve
        as a user's *history* (never as training targets); most baselines ignore it."""
        if not self.supports_sessions:
            raise AutorecError(
                f"baseline {self.name}",
                "needs page views but the data has purchase histories only",
                "use popularity, itemknn or als on purchase data",
            )
        self._n_items = len(train.items)
        self._order = popularity_order(session_buy_counts(train))
        self._kind = "sessions"
        self._fit_sessions(train, history)
        return self

    def fit_purchases(self: _B, log: PurchaseLog, protocol: PurchaseProtocol) -> _B:
        """Fit on the purchases in ``[dx, dyz)`` of ``protocol`` (catalogue indices)."""
        if not self.supports_purchases:
            raise AutorecError(
                f"baseline {self.name}",
                "needs page views (session data) but the data has purchase histories only",
                "use popularity, itemknn or als on purchase data, or pass session data",
            )
        self._n_items = protocol.n_items
        self._order = popularity_order(protocol.popularity)
        self._kind = "purchases"
        self._fit_purchases(log, protocol)
        return self

    def _fit_sessions(self, train: SessionLog, history: tuple[SessionLog, ...]) -> None:
        """Hook: learn from training sessions (the popularity order is already set)."""
        return None

    def _fit_purchases(self, log: PurchaseLog, protocol: PurchaseProtocol) -> None:
        """Hook: learn from the purchase window (the popularity order is already set)."""
        return None

    # -- scoring hooks ---------------------------------------------------------------------
    @abstractmethod
    def _score_sessions(self, log: SessionLog, samples: SessionSamples) -> np.ndarray:
        """Dense ``[n_samples, n_items]`` float64 scores (higher is better)."""

    @abstractmethod
    def _score_customers(self, examples: CustomerExamples) -> np.ndarray:
        """Dense ``[n_customers, n_catalogue]`` float64 scores (higher is better)."""

    # -- ranking ---------------------------------------------------------------------------
    def _require(self, kind: str) -> tuple[int, IntArray]:
        if self._kind != kind or self._n_items is None or self._order is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted for {kind}")
        return self._n_items, self._order

    def _rows_per_batch(self, n_items: int) -> int:
        return max(1, self.max_cells // max(1, n_items))

    def _rank(self, scores: np.ndarray, excl_idx: IntArray, excl_off: IntArray, k: int) -> IntArray:
        _, order = self._require(self._kind or "")
        inv = np.empty_like(order)
        inv[order] = np.arange(order.size, dtype=np.int64)
        perm = torch.from_numpy(np.ascontiguousarray(scores[:, order], dtype=np.float64))
        top = topk_excluding(perm, torch.from_numpy(inv[excl_idx]), torch.from_numpy(excl_off), k)
        top_np = top.numpy()
        return np.where(top_np >= 0, order[np.maximum(top_np, 0)], -1).astype(np.int64)

    def topk_sessions(self, log: SessionLog, samples: SessionSamples, k: int) -> IntArray:
        """Top ``k`` items (``log.items`` indices) per prefix sample; nothing is excluded (a
        session's bought items are typically among its viewed ones)."""
        n_items, _ = self._require("sessions")
        if len(log.items) != n_items:
            raise ValueError("the log's item map differs from the one the baseline was fit on")
        n = len(samples.session)
        step = self._rows_per_batch(n_items)
        parts: list[IntArray] = []
        for start in range(0, n, step):
            batch = slice_samples(samples, start, min(n, start + step))
            b = len(batch.session)
            scores = self._score_sessions(log, batch)
            parts.append(self._rank(scores, np.zeros(0, np.int64), np.zeros(b, np.int64), k))
        return np.concatenate(parts) if parts else np.zeros((0, k), dtype=np.int64)

    def customer_scores(self, examples: CustomerExamples) -> np.ndarray:
        """Dense ``[n_customers, n_catalogue]`` float64 scores in catalogue order (higher is
        better; what :meth:`topk_customers` ranks), for blending with another ranker."""
        self._require("purchases")
        return self._score_customers(examples)

    def topk_customers(self, examples: CustomerExamples, k: int) -> IntArray:
        """Top ``k`` catalogue indices per customer, their XY inputs excluded."""
        n_items, _ = self._require("purchases")
        n = examples.n_customers
        step = self._rows_per_batch(n_items)
        parts: list[IntArray] = []
        for start in range(0, n, step):
            batch = slice_examples(examples, start, min(n, start + step))
            scores = self._score_customers(batch)
            parts.append(self._rank(scores, batch.input_item, batch.input_ptr[:-1], k))
        return np.concatenate(parts) if parts else np.zeros((0, k), dtype=np.int64)

    def describe(self) -> dict[str, object]:
        """The baseline's name and hyper-parameters (for reports)."""
        return {"name": self.name}
