"""Item-based collaborative filtering on cosine-normalised co-occurrence (Sarwar et al. 2001;
the "CF" rows the DRNN and soft-split papers compare against)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from autorec.baselines._base import (
    Baseline,
    csr_rows,
    prefix_views,
    protocol_window_matrix,
    viewed_matrix,
)
from autorec.data.types import (
    CustomerExamples,
    PurchaseLog,
    PurchaseProtocol,
    SessionLog,
    SessionSamples,
)

__all__ = ["ItemKNN"]


def _cosine(co: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray, shrink: float) -> sp.csr_matrix:
    """``co[i, j] / (sqrt(rows[i] * cols[j]) + shrink)`` on the stored entries."""
    coo = co.tocoo()
    denom = np.sqrt(rows[coo.row] * cols[coo.col]) + shrink
    data = np.divide(coo.data, denom, out=np.zeros_like(coo.data), where=denom > 0)
    return sp.csr_matrix((data, (coo.row, coo.col)), shape=co.shape)


class ItemKNN(Baseline):
    """Item co-occurrence CF with cosine normalisation.

    * Purchase-history protocol: ``A`` = binary customers x catalogue matrix of purchases in
      ``[dx, dyz)`` (every customer of the log, not only the protocol's); similarity
      ``s(i, j) = |U_i ∩ U_j| / (sqrt(|U_i| |U_j|) + shrink)`` with ``U_i`` the buyers of
      ``i``, diagonal zeroed. A customer's score for ``j`` is ``Σ_{i ∈ XY} s(i, j)`` over their
      distinct input items; inputs are excluded from the list.
    * Session protocol: learnt from the training sessions between *viewed* and *bought* items:
      ``s(i, j) = |V_i ∩ B_j| / (sqrt(|V_i| |B_j|) + shrink)``, ``V_i`` = training sessions
      that viewed item ``i``'s page, ``B_j`` = those that bought ``j`` (the diagonal is kept:
      viewing ``i`` and buying ``i`` is the strongest signal). A prefix scores
      ``Σ_{i viewed in the prefix} s(i, j)`` over its distinct viewed items.

    Items with equal score (e.g. no co-occurrence at all) fall back to popularity.

    Hyper-parameters: ``shrink`` (>= 0, default 0: plain cosine) damps similarities resting
    on few co-occurrences. No neighbourhood truncation (every co-occurring item counts).
    """

    name: ClassVar[str] = "itemknn"

    def __init__(self, shrink: float = 0.0) -> None:
        super().__init__()
        if shrink < 0:
            raise ValueError(f"shrink must be >= 0, got {shrink}")
        self.shrink = float(shrink)
        self._sim: sp.csr_matrix | None = None

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "shrink": self.shrink}

    def _fit_sessions(self, train: SessionLog, history: tuple[SessionLog, ...]) -> None:
        n_items = len(train.items)
        viewed = viewed_matrix(train)
        bought = csr_rows(train.buy_ptr, train.buy, n_items)
        co = (viewed.T @ bought).tocsr()
        nv = np.asarray(viewed.sum(axis=0)).ravel()
        nb = np.asarray(bought.sum(axis=0)).ravel()
        self._sim = _cosine(co, nv, nb, self.shrink)

    def _fit_purchases(self, log: PurchaseLog, protocol: PurchaseProtocol) -> None:
        a = protocol_window_matrix(log, protocol)
        co = (a.T @ a).tocsr()
        co.setdiag(0.0)
        co.eliminate_zeros()
        deg = np.asarray(a.sum(axis=0)).ravel()
        self._sim = _cosine(co, deg, deg, self.shrink)

    def _similarity(self) -> sp.csr_matrix:
        if self._sim is None:
            raise RuntimeError("ItemKNN is not fitted")
        return self._sim

    def _score_sessions(self, log: SessionLog, samples: SessionSamples) -> np.ndarray:
        n_items, _ = self._require("sessions")
        views = prefix_views(log, samples)
        x = sp.csr_matrix(
            (np.ones(views.item.size), (views.row, views.item)),
            shape=(len(samples.session), n_items),
        )
        x.sum_duplicates()
        x.data[:] = 1.0
        return np.asarray((x @ self._similarity()).toarray(), dtype=np.float64)

    def _score_customers(self, examples: CustomerExamples) -> np.ndarray:
        n_items, _ = self._require("purchases")
        x = csr_rows(examples.input_ptr, examples.input_item, n_items)
        return np.asarray((x @ self._similarity()).toarray(), dtype=np.float64)
