"""EASE: embarrassingly shallow auto-encoder (Steck 2019, "Embarrassingly Shallow Autoencoders
for Sparse Data", WWW), closed form, with its L2 weight λ chosen on the validation protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, TypeVar

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
    IntArray,
    PurchaseData,
    PurchaseLog,
    PurchaseProtocol,
    SessionData,
    SessionLog,
    SessionSamples,
)

__all__ = ["DEFAULT_LAMBDAS", "EASE", "ease_weights", "ridge_weights"]

#: λ grid searched when ``lam`` is not given (Steck reports the best λ in the hundreds for
#: MovieLens-20M; small data sets want less shrinkage, so the grid spans 1..5000).
DEFAULT_LAMBDAS: tuple[float, ...] = (1.0, 5.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0)

_E = TypeVar("_E", bound="EASE")


def ease_weights(gram: np.ndarray, lam: float) -> np.ndarray:
    """Steck's closed form: ``P = (G + λI)^-1``, ``B = I - P / diag(P)`` (column-wise), i.e.
    ``B_ij = -P_ij / P_jj`` and ``B_jj = 0`` (an item may not predict itself)."""
    p = np.linalg.inv(gram + lam * np.eye(gram.shape[0]))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


def ridge_weights(gram: np.ndarray, cross: np.ndarray, lam: float) -> np.ndarray:
    """``(G + λI)^-1 C``: the least-squares map from inputs to targets with an L2 weight λ
    (no zero-diagonal constraint: for sessions, viewing item i is evidence for buying i)."""
    return np.linalg.solve(gram + lam * np.eye(gram.shape[0]), cross)


class EASE(Baseline):
    """Linear item-to-item model in closed form (Steck 2019).

    * Purchase-history protocol: ``X`` = binary customers x catalogue matrix of purchases in
      ``[dx, dyz)`` (as itemknn / ALS see it); ``B = argmin ||X - XB||² + λ||B||²`` subject to
      ``diag(B) = 0``, solved exactly (:func:`ease_weights`). A customer scores ``x B`` from
      their XY inputs (excluded from the list).
    * Session protocol: the same least squares from the *viewed* items of a training session
      (binary) to the items it *bought*, ``B = (VᵀV + λI)^-1 VᵀY`` (:func:`ridge_weights`),
      without the zero diagonal (viewing an item is the strongest evidence of buying it). The
      input side is limited to the ``max_items`` most viewed training items and the output
      side to items bought in training, which bounds the dense ``max_items²`` Gram matrix.

    ``lam=None`` (default) chooses λ from :data:`DEFAULT_LAMBDAS` (or ``lambdas``) on the
    validation protocol when fitted with :meth:`fit`: each λ is fitted on the validation
    protocol's own training data and scored on its held-out targets (purchases: Precision@k
    of the validation protocol's XY -> Z customers; sessions: top-1 accuracy of the
    validation prefixes, fitted on the training sessions), the best one (the smallest on
    ties) is kept, and the model is refitted with it. The test window is never read. The
    scores of the grid are kept in :meth:`describe`.

    Ties (items with equal score, e.g. no evidence) fall back to popularity.
    """

    name: ClassVar[str] = "ease"

    def __init__(
        self,
        lam: float | None = None,
        lambdas: Sequence[float] = DEFAULT_LAMBDAS,
        k: int = 10,
        max_items: int = 3000,
    ) -> None:
        super().__init__()
        grid = tuple(float(x) for x in lambdas)
        if lam is not None and lam <= 0:
            raise ValueError(f"lam must be > 0, got {lam}")
        if not grid or min(grid) <= 0:
            raise ValueError(f"lambdas must be a non-empty list of numbers > 0, got {lambdas}")
        if k < 1 or max_items < 1:
            raise ValueError("k and max_items must be >= 1")
        self.lam = None if lam is None else float(lam)
        self.lambdas = grid
        self.k = int(k)
        self.max_items = int(max_items)
        self.selection: dict[str, float] = {}
        self._b: np.ndarray | None = None
        self._in_cols: IntArray | None = None  # sessions: item index of each input row of B
        self._out_cols: IntArray | None = None  # sessions: item index of each output column

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"name": self.name, "lam": self.lam, "k": self.k}
        if self.selection:
            out["validation"] = dict(self.selection)
        return out

    # -- λ on the validation protocol -------------------------------------------------------
    def fit(self: _E, data: SessionData | PurchaseData, *, validation: bool = False) -> _E:
        if self.lam is None:
            self.lam = self._choose_lambda(data)
        return super().fit(data, validation=validation)

    def _choose_lambda(self, data: SessionData | PurchaseData) -> float:
        from autorec.families import family_of

        family = family_of(data)
        # the family's fitness accuracy on its validation part: top-1 of the validation
        # sessions; precision@k of the month-shifted validation protocol
        metric = family.default_accuracy(self.k)
        scores: dict[str, float] = {}
        for lam in self.lambdas:
            probe = EASE(lam=lam, k=self.k, max_items=self.max_items)
            family.fit_baseline(probe, data, validation=True)
            m = family.evaluate(probe, data, k=self.k, part="valid", ks=(1,))
            scores[f"{lam:g}"] = m[metric]
        self.selection = scores
        best = max(scores.values())
        return next(lam for lam in self.lambdas if scores[f"{lam:g}"] == best)

    def _lam(self) -> float:
        # fit_purchases / fit_sessions called directly without a λ: the middle of the grid
        return self.lam if self.lam is not None else self.lambdas[len(self.lambdas) // 2]

    # -- fitting ----------------------------------------------------------------------------
    def _fit_purchases(self, log: PurchaseLog, protocol: PurchaseProtocol) -> None:
        x = protocol_window_matrix(log, protocol)
        gram = np.asarray((x.T @ x).toarray(), dtype=np.float64)
        self._b = ease_weights(gram, self._lam())

    def _fit_sessions(self, train: SessionLog, history: tuple[SessionLog, ...]) -> None:
        n_items = len(train.items)
        viewed = viewed_matrix(train)
        bought = csr_rows(train.buy_ptr, train.buy, n_items)
        n_view = np.asarray(viewed.sum(axis=0)).ravel()
        # the max_items most viewed items (ties by index), in index order
        order = np.lexsort((np.arange(n_items), -n_view))
        in_cols = np.sort(order[: min(self.max_items, int((n_view > 0).sum()))])
        out_cols = np.flatnonzero(np.asarray(bought.sum(axis=0)).ravel() > 0)
        v = viewed[:, in_cols]
        gram = np.asarray((v.T @ v).toarray(), dtype=np.float64)
        cross = np.asarray((v.T @ bought[:, out_cols]).toarray(), dtype=np.float64)
        self._b = ridge_weights(gram, cross, self._lam())
        self._in_cols, self._out_cols = in_cols.astype(np.int64), out_cols.astype(np.int64)

    # -- scoring ----------------------------------------------------------------------------
    def _weights(self) -> np.ndarray:
        if self._b is None:
            raise RuntimeError("EASE is not fitted")
        return self._b

    def _score_customers(self, examples: CustomerExamples) -> np.ndarray:
        n_items, _ = self._require("purchases")
        x = csr_rows(examples.input_ptr, examples.input_item, n_items)
        return np.asarray(x @ self._weights(), dtype=np.float64)

    def _score_sessions(self, log: SessionLog, samples: SessionSamples) -> np.ndarray:
        n_items, _ = self._require("sessions")
        b = self._weights()
        assert self._in_cols is not None and self._out_cols is not None
        views = prefix_views(log, samples)
        pos = np.full(n_items, -1, dtype=np.int64)
        pos[self._in_cols] = np.arange(self._in_cols.size)
        col = pos[views.item]
        ok = col >= 0
        x = sp.csr_matrix(
            (np.ones(int(ok.sum())), (views.row[ok], col[ok])),
            shape=(len(samples.session), self._in_cols.size),
        )
        x.sum_duplicates()
        x.data[:] = 1.0
        # an item never bought in training has no output column: below every fitted score
        scores = np.full((len(samples.session), n_items), -np.inf, dtype=np.float64)
        scores[:, self._out_cols] = x @ b
        return scores
