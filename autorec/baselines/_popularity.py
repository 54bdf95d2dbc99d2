"""Popularity baseline (soft-split paper, Appendix A;
docs/design.md#popularity-baseline)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from autorec.baselines._base import Baseline
from autorec.data.types import CustomerExamples, SessionLog, SessionSamples

__all__ = ["Popularity"]


class Popularity(Baseline):
    """Recommend the most bought items to everyone.

    * Purchase-history protocol: items ranked by their purchase count in ``[dx, dyz)``
      (:attr:`PurchaseProtocol.popularity`), ties by item id (the lower index), excluding the
      customer's own XY items -- exactly
      docs/design.md#popularity-baseline.
    * Session protocol: items ranked by how often they were bought in the training sessions,
      ties by item id; the same list for every prefix.

    No hyper-parameters.
    """

    name: ClassVar[str] = "popularity"

    def _score_sessions(self, log: SessionLog, samples: SessionSamples) -> np.ndarray:
        n_items, _ = self._require("sessions")
        return np.zeros((len(samples.session), n_items), dtype=np.float64)

    def _score_customers(self, examples: CustomerExamples) -> np.ndarray:
        n_items, _ = self._require("purchases")
        return np.zeros((examples.n_customers, n_items), dtype=np.float64)
