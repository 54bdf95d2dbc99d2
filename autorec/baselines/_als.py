"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008) through the ``implicit`` library: the DRNN
paper's "ALS without History" / "ALS with History" rows (Sec. V, Table II, Fig. 8) and the
standard matrix-factorisation CF for purchase histories."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from autorec.baselines._base import (
    Baseline,
    csr_rows,
    prefix_views,
    protocol_window_matrix,
)
from autorec.data.types import (
    CustomerExamples,
    IntArray,
    PurchaseLog,
    PurchaseProtocol,
    SessionLog,
    SessionSamples,
)
from autorec.errors import AutorecError

__all__ = ["ALS"]


def _limit_blas() -> Any:
    """A context manager limiting BLAS to one thread (implicit's advice; also deterministic)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


class ALS(Baseline):
    """Implicit ALS (``implicit.cpu.als.AlternatingLeastSquares``), confidence ``1 + alpha*r``.

    * Session protocol: one row per training session, its entries the view counts of the
      items whose product pages it viewed plus ``buy_weight`` per purchase. A prefix sample is
      *folded in* (``recalculate_user``: the least-squares user vector for fixed item factors)
      from the items viewed in the prefix -- the paper's "ALS without History", which "only uses
      the accessed pages in current session". With ``history=True`` (needs user ids) the row
      also holds, with weight ``history_weight``, the items the session's user bought before
      the session started (training, validation and earlier sessions of the evaluated log) --
      "ALS with History". We use earlier *purchases* as the history, as the DRNN FNN branch
      does; the paper's wording ("access history") is ambiguous.
    * Purchase-history protocol: rows = customers, binary purchases in ``[dx, dyz)`` over the
      catalogue; a test customer is folded in from their XY inputs (excluded from the list).

    A prefix or customer without any known item gets a zero vector, i.e. all-equal scores, and
    falls back to popularity. Deterministic: a fixed ``seed`` for the factor initialisation and
    ``threads`` worker threads (default 1) with BLAS limited to one thread.

    Hyper-parameters: ``factors`` (64), ``regularization`` (0.05), ``alpha`` (10.0, confidence
    scale), ``iterations`` (15), ``buy_weight`` (1.0), ``history`` (False),
    ``history_weight`` (1.0), ``seed`` (0), ``threads`` (1).
    """

    name: ClassVar[str] = "als"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 10.0,
        iterations: int = 15,
        buy_weight: float = 1.0,
        history: bool = False,
        history_weight: float = 1.0,
        seed: int = 0,
        threads: int = 1,
    ) -> None:
        super().__init__()
        if factors < 1 or iterations < 1 or threads < 1:
            raise ValueError("factors, iterations and threads must be >= 1")
        if regularization < 0 or alpha <= 0 or buy_weight < 0 or history_weight < 0:
            raise ValueError("regularization, buy_weight, history_weight >= 0 and alpha > 0")
        self.factors = int(factors)
        self.regularization = float(regularization)
        self.alpha = float(alpha)
        self.iterations = int(iterations)
        self.buy_weight = float(buy_weight)
        self.history = bool(history)
        self.history_weight = float(history_weight)
        self.seed = int(seed)
        self.threads = int(threads)
        self._model: Any = None
        # history purchases (user, time, item) sorted by (user, time), from fitted logs
        self._hist: tuple[IntArray, IntArray, IntArray] | None = None

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "factors": self.factors,
            "regularization": self.regularization,
            "alpha": self.alpha,
            "iterations": self.iterations,
            "buy_weight": self.buy_weight,
            "history": self.history,
            "history_weight": self.history_weight,
            "seed": self.seed,
            "threads": self.threads,
        }

    # -- fitting ---------------------------------------------------------------------------
    def _train(self, user_items: sp.csr_matrix) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        with _limit_blas(), warnings.catch_warnings():
            # implicit warns about OpenBLAS threads on construction; BLAS is limited here
            warnings.simplefilter("ignore", RuntimeWarning)
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                num_threads=self.threads,
                random_state=np.random.default_rng(self.seed),
            )
            model.fit(user_items.astype(np.float32).tocsr(), show_progress=False)
        self._model = model

    def _fit_sessions(self, train: SessionLog, history: tuple[SessionLog, ...]) -> None:
        n_items = len(train.items)
        page_items = train.page_item[train.page]
        v_row = np.repeat(np.arange(train.n_sessions), np.diff(train.page_ptr))
        keep = page_items >= 0
        b_row = np.repeat(np.arange(train.n_sessions), np.diff(train.buy_ptr))
        rows = np.concatenate([v_row[keep], b_row])
        cols = np.concatenate([page_items[keep], train.buy])
        vals = np.concatenate([np.ones(int(keep.sum())), np.full(train.buy.size, self.buy_weight)])
        mat = sp.csr_matrix((vals, (rows, cols)), shape=(train.n_sessions, n_items))
        mat.sum_duplicates()
        self._train(mat)
        if self.history:
            logs = (train, *history)
            if not any(bool((lg.user >= 0).any()) for lg in logs):
                raise AutorecError(
                    "baseline als (history=true)",
                    "the sessions carry no user ids, so there is no purchase history",
                    "set history=false, or pass data with a user_id column",
                )
            self._hist = _history_buys(logs)

    def _fit_purchases(self, log: PurchaseLog, protocol: PurchaseProtocol) -> None:
        if self.history:
            raise AutorecError(
                "baseline als (history=true)",
                "history applies to session data only (purchase histories are the input)",
                "set history=false on purchase data",
            )
        self._train(protocol_window_matrix(log, protocol))

    # -- scoring ---------------------------------------------------------------------------
    def _scores(self, rows: sp.csr_matrix) -> np.ndarray:
        if self._model is None:
            raise RuntimeError("ALS is not fitted")
        with _limit_blas():
            user = self._model.recalculate_user(
                np.arange(rows.shape[0]), rows.astype(np.float32).tocsr()
            )
        item = np.asarray(self._model.item_factors, dtype=np.float64)
        return np.asarray(user, dtype=np.float64) @ item.T

    def _score_sessions(self, log: SessionLog, samples: SessionSamples) -> np.ndarray:
        n_items, _ = self._require("sessions")
        n = len(samples.session)
        views = prefix_views(log, samples)
        rows, cols = [views.row], [views.item]
        vals = [np.ones(views.item.size)]
        if self.history and self._hist is not None:
            h_row, h_item = _history_for(self._hist, log, samples)
            rows.append(h_row)
            cols.append(h_item)
            vals.append(np.full(h_item.size, self.history_weight))
        x = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n, n_items),
        )
        x.sum_duplicates()
        return self._scores(x)

    def _score_customers(self, examples: CustomerExamples) -> np.ndarray:
        n_items, _ = self._require("purchases")
        return self._scores(csr_rows(examples.input_ptr, examples.input_item, n_items))


def _buys_of(log: SessionLog) -> tuple[IntArray, IntArray, IntArray]:
    user = np.repeat(log.user, np.diff(log.buy_ptr))
    keep = user >= 0
    return user[keep], log.buy_time[keep], log.buy[keep]


def _history_buys(logs: tuple[SessionLog, ...]) -> tuple[IntArray, IntArray, IntArray]:
    parts = [_buys_of(lg) for lg in logs]
    user = np.concatenate([p[0] for p in parts]).astype(np.int64)
    time = np.concatenate([p[1] for p in parts]).astype(np.int64)
    item = np.concatenate([p[2] for p in parts]).astype(np.int64)
    order = np.lexsort((item, time, user))
    return user[order], time[order], item[order]


def _history_for(
    fitted: tuple[IntArray, IntArray, IntArray], log: SessionLog, samples: SessionSamples
) -> tuple[IntArray, IntArray]:
    """(sample row, item) of every purchase of the sample's user before its session started,
    from the fitted logs and the evaluated log (deduplicated by (user, time, item))."""
    cur = _buys_of(log)
    user = np.concatenate([fitted[0], cur[0]])
    time = np.concatenate([fitted[1], cur[1]])
    item = np.concatenate([fitted[2], cur[2]])
    if user.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    t0 = int(min(time.min(), log.start.min(initial=time.min())))
    span = int(max(time.max(), log.start.max(initial=time.max()))) - t0 + 2
    key = np.unique(np.stack([user * span + (time - t0), item], axis=1), axis=0)
    b_key, b_item = key[:, 0], key[:, 1]
    s_user = log.user[samples.session]
    s_start = log.start[samples.session]
    lo = np.searchsorted(b_key, s_user * span, side="left")
    hi = np.searchsorted(b_key, s_user * span + (s_start - t0), side="left")
    cnt = np.where(s_user >= 0, hi - lo, 0)
    row = np.repeat(np.arange(len(samples.session), dtype=np.int64), cnt)
    local = np.arange(int(cnt.sum()), dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    idx = np.repeat(lo, cnt) + local
    return row, b_item[idx].astype(np.int64)
