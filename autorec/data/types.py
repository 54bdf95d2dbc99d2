"""The data contract shared by readers, protocols, metrics, baselines and models.

Everything downstream of the readers works on integer indices in compact numpy arrays
(CSR layout for variable-length lists), never on per-row Python objects, so training and
evaluation batch without Python loops per sample.

Layers:

1. :class:`EventLog` -- a normalised event table read from any supported source.
2. :class:`SessionLog` -- page-view sessions with the items bought in each (DRNN paper).
   :class:`PurchaseLog` -- dated purchases per customer (soft-split paper).
3. Protocols -- :class:`SessionSplit` + :class:`SessionSamples` (session protocol),
   :class:`PurchaseProtocol` of :class:`CustomerExamples` (purchase-history protocol).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "EVENT_COLUMNS",
    "CustomerExamples",
    "EventLog",
    "IdMap",
    "IntArray",
    "PurchaseData",
    "PurchaseLog",
    "PurchaseProtocol",
    "SessionData",
    "SessionLog",
    "SessionSamples",
    "SessionSplit",
    "SplitDates",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]

#: Columns of :attr:`EventLog.frame`, in order. ``timestamp`` is int64 unix seconds (UTC);
#: ``event`` is ``"view"`` or ``"buy"``; ids are strings; ``user_id`` / ``session_id`` are
#: ``pd.NA`` where the source has none; ``rating`` / ``dwell`` are float (NaN when absent).
EVENT_COLUMNS = ("user_id", "session_id", "item_id", "timestamp", "event", "rating", "dwell")


@dataclass(frozen=True)
class IdMap:
    """Bijection between raw string ids and dense indices ``0..n-1``.

    ``raw[i]`` is the raw id of index ``i``. Build with :meth:`from_values` (sorted, so the
    mapping is deterministic whatever the row order).
    """

    raw: npt.NDArray[np.str_]
    _lookup: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_lookup", {str(v): i for i, v in enumerate(self.raw)})

    @classmethod
    def from_values(cls, values: object) -> IdMap:
        uniq = pd.unique(pd.Series(values, dtype="string").dropna())
        return cls(np.array(sorted(str(v) for v in uniq), dtype=np.str_))

    def __len__(self) -> int:
        return len(self.raw)

    def encode(self, values: object) -> IntArray:
        """Indices of ``values``; -1 for ids this map does not hold."""
        series = pd.Series(values, dtype="string")
        return np.fromiter(
            (self._lookup.get(str(v), -1) if v is not pd.NA else -1 for v in series),
            dtype=np.int64,
            count=len(series),
        )

    def decode(self, index: IntArray) -> npt.NDArray[np.str_]:
        return self.raw[np.asarray(index, dtype=np.int64)]


@dataclass(frozen=True)
class EventLog:
    """A normalised event table (columns :data:`EVENT_COLUMNS`) and where it came from."""

    frame: pd.DataFrame
    source: str
    kind: Literal["sessions", "purchases"]
    """``sessions`` when the log has page views (the session protocol applies), else
    ``purchases`` (the purchase-history protocol applies)."""


@dataclass(frozen=True)
class SessionLog:
    """Browsing sessions in CSR layout (DRNN paper, Section III;
    docs/design.md#session-protocol).

    Session ``s`` viewed pages ``page[page_ptr[s]:page_ptr[s+1]]`` in time order, with dwell
    times ``dwell[...]`` (θ: seconds to the next view in the session; the last view of a
    session has no next view, see the reader's docstring for the value used), and bought
    items ``buy[buy_ptr[s]:buy_ptr[s+1]]`` at ``buy_time[...]``.

    ``pages`` / ``items`` / ``users`` are shared by every subset of one dataset, so indices
    mean the same thing in train, validation and test. ``page_item[p]`` is the item index
    that page ``p`` shows (a product page) or -1 (a category or other page); the model's
    "viewed items" path and the ``session-views`` baseline use it.
    """

    session_ids: npt.NDArray[np.str_]
    user: IntArray  # per session; -1 when the source has no user ids
    start: IntArray  # per session: unix seconds of its first page view
    page_ptr: IntArray  # len S+1
    page: IntArray
    view_time: IntArray  # unix seconds of each page view
    dwell: FloatArray
    buy_ptr: IntArray  # len S+1
    buy: IntArray
    buy_time: IntArray
    pages: IdMap
    items: IdMap
    users: IdMap
    page_item: IntArray  # len(pages)

    @property
    def n_sessions(self) -> int:
        return len(self.session_ids)


@dataclass(frozen=True)
class SessionSamples:
    """Shortened-path samples (DRNN paper, Section III.E;
    docs/design.md#session-protocol).

    Sample ``i`` is the prefix ``p_0..p_{length[i]-1}`` of session ``session[i]`` of the log
    it was built from; its target is the set of items bought in that session. Samples are
    ordered by session, then prefix length (path compression ratio relies on that).
    """

    session: IntArray
    length: IntArray


@dataclass(frozen=True)
class SessionSplit:
    """The session protocol: a session belongs to the period of its first page view."""

    train: SessionLog
    valid: SessionLog
    test: SessionLog
    val_start: datetime
    test_start: datetime


@dataclass(frozen=True)
class SessionData:
    """Everything a session-family trainer or baseline needs from one dataset."""

    split: SessionSplit
    train_samples: SessionSamples
    valid_samples: SessionSamples
    test_samples: SessionSamples
    source: str


@dataclass(frozen=True)
class PurchaseLog:
    """Dated purchases: customer ``user[i]`` bought ``item[i]`` at ``time[i]`` (unix s)."""

    user: IntArray
    item: IntArray
    time: IntArray
    users: IdMap
    items: IdMap


@dataclass(frozen=True)
class SplitDates:
    """Half-open windows X=[dx,dxy), Y=[dxy,dyz), XY=[dx,dyz), Z=[dyz,dz)."""

    dx: datetime
    dxy: datetime
    dyz: datetime
    dz: datetime


@dataclass(frozen=True)
class CustomerExamples:
    """Inputs → targets for a set of customers, in CSR layout over *catalogue* indices.

    Customer ``c`` (``customers[c]`` indexes :attr:`PurchaseLog.users`) has input purchases
    ``input_item[input_ptr[c]:input_ptr[c+1]]`` with ages ``input_age_days`` (days between
    the purchase and the end of the input window, for time decay, soft-split eq. 4-5) and
    targets ``target_item[target_ptr[c]:target_ptr[c+1]]`` (deduplicated).
    """

    customers: IntArray
    input_ptr: IntArray
    input_item: IntArray
    input_age_days: FloatArray
    target_ptr: IntArray
    target_item: IntArray

    @property
    def n_customers(self) -> int:
        return len(self.customers)


@dataclass(frozen=True)
class PurchaseProtocol:
    """The purchase-history protocol (soft-split paper, Appendix A;
    docs/design.md#purchase-history-protocol).

    ``catalogue[j]`` is the :attr:`PurchaseLog.items` index of catalogue item ``j`` (products
    bought in [dx, dyz), optionally clipped to the P most bought). ``train`` is X → Y,
    ``test`` is XY → Z. ``popularity[j]`` counts purchases of catalogue item ``j`` in
    [dx, dyz) (the popularity baseline ranks by it, ties by item id).
    """

    dates: SplitDates
    catalogue: IntArray
    train: CustomerExamples
    test: CustomerExamples
    popularity: IntArray

    @property
    def n_items(self) -> int:
        return len(self.catalogue)


@dataclass(frozen=True)
class PurchaseData:
    """The protocol on the requested dates, and the validation protocol shifted one month
    back (used for early stopping and the search's fitness, so the test window Z is never
    seen while tuning)."""

    protocol: PurchaseProtocol
    validation: PurchaseProtocol
    log: PurchaseLog
    source: str
