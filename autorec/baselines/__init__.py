"""Reference recommenders (non-neural baselines) and their registry.

``make_baseline(name, **params)`` builds one by name: ``popularity``, ``itemknn``, ``als``,
``ease``, ``session-views``, ``gru``, ``gru-copy``. Every baseline implements both ranker
protocols of :mod:`autorec.evaluation` (``session-views``, ``gru`` and ``gru-copy`` only the
session one).
"""

from __future__ import annotations

from autorec.baselines._als import ALS
from autorec.baselines._base import Baseline, popularity_order, prefix_views
from autorec.baselines._compare import (
    QUICK_BASELINES,
    baseline_names,
    baseline_scores,
    compare,
    comparison_lines,
    primary_metrics,
    read_comparison,
)
from autorec.baselines._ease import EASE
from autorec.baselines._gru import GRUCopySession, GRUSession
from autorec.baselines._itemknn import ItemKNN
from autorec.baselines._popularity import Popularity
from autorec.baselines._session_views import SessionViews
from autorec.errors import AutorecError

__all__ = [
    "ALS",
    "BASELINES",
    "EASE",
    "QUICK_BASELINES",
    "Baseline",
    "GRUCopySession",
    "GRUSession",
    "ItemKNN",
    "Popularity",
    "SessionViews",
    "baseline_names",
    "baseline_scores",
    "compare",
    "comparison_lines",
    "make_baseline",
    "popularity_order",
    "prefix_views",
    "primary_metrics",
    "read_comparison",
]

#: name -> class, in the order the CLI lists them.
BASELINES: dict[str, type[Baseline]] = {
    "popularity": Popularity,
    "itemknn": ItemKNN,
    "als": ALS,
    "ease": EASE,
    "session-views": SessionViews,
    "gru": GRUSession,
    "gru-copy": GRUCopySession,
}


def make_baseline(name: str, **params: object) -> Baseline:
    """A new, unfitted baseline ``name`` with hyper-parameters ``params``."""
    cls = BASELINES.get(name)
    if cls is None:
        raise AutorecError(
            "baseline",
            f"unknown baseline {name!r}",
            f"use one of {', '.join(BASELINES)}",
        )
    try:
        return cls(**params)
    except TypeError as err:
        raise AutorecError(
            f"baseline {name}",
            f"bad parameters {params!r} ({err})",
            "see the baseline's docstring for its hyper-parameters",
        ) from err
    except ValueError as err:
        raise AutorecError(f"baseline {name}", str(err), "pass a valid value") from err
