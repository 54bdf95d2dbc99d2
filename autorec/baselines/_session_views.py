"""The ``session-views`` baseline: a session's own viewed items, then popularity."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from autorec.baselines._base import Baseline, prefix_views
from autorec.data.types import CustomerExamples, SessionLog, SessionSamples

__all__ = ["SessionViews"]


class SessionViews(Baseline):
    """Rank the items of the product pages viewed in the prefix by view count, ties by the
    most recent view, then every other item by popularity (purchases in the training
    sessions, ties by item id).

    Session protocol only (a purchase history has no page views): fitting it on purchase data
    raises :class:`~autorec.errors.AutorecError`. No hyper-parameters.

    Scores are exact integers in float64: a viewed item scores
    ``1 + count * (L + 1) + last_position`` (``L`` = the longest prefix of the batch,
    ``last_position`` in ``1..L``), so count dominates and, within a count, the later view wins;
    unviewed items score 0 and fall back to the popularity order.
    """

    name: ClassVar[str] = "session-views"
    supports_purchases: ClassVar[bool] = False

    def _score_sessions(self, log: SessionLog, samples: SessionSamples) -> np.ndarray:
        n_items, _ = self._require("sessions")
        n = len(samples.session)
        views = prefix_views(log, samples)
        count = np.zeros((n, n_items), dtype=np.float64)
        last = np.zeros((n, n_items), dtype=np.float64)
        np.add.at(count, (views.row, views.item), 1.0)
        np.maximum.at(last, (views.row, views.item), views.position.astype(np.float64))
        span = float(samples.length.max(initial=0)) + 1.0
        return np.where(count > 0, 1.0 + count * span + last, 0.0)

    def _score_customers(self, examples: CustomerExamples) -> np.ndarray:
        raise RuntimeError("session-views ranks sessions only")
