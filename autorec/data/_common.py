"""Small vectorised helpers shared by the readers, the session layer and the protocols."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import numpy.typing as npt
import pandas as pd

from autorec.data.types import IdMap, IntArray
from autorec.errors import AutorecError

__all__ = [
    "NON_ITEM_PAGE_PREFIX",
    "csr_gather",
    "encode_ids",
    "format_time",
    "parse_date",
    "ptr_from_sorted",
    "to_unix",
]

#: A viewed id that starts with this prefix is a page that shows no item (a category,
#: search or home page); every other viewed id is the product page of the item with that
#: id. Generic event files can use it too (``item_id`` = ``page:shoes`` on a view row).
NON_ITEM_PAGE_PREFIX = "page:"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def encode_ids(ids: IdMap, values: object) -> IntArray:
    """Vectorised :meth:`IdMap.encode`: indices of ``values`` in ``ids`` (-1 when absent).

    ``IdMap.raw`` is sorted (``IdMap.from_values``), so a binary search replaces the
    per-value dictionary look-up; missing values (NA) map to -1.
    """
    series = pd.Series(values, dtype="string")
    missing = series.isna().to_numpy()
    vals = series.fillna("").to_numpy(dtype=np.str_)
    raw = ids.raw
    if len(raw) == 0:
        return np.full(len(vals), -1, dtype=np.int64)
    pos = np.searchsorted(raw, vals).astype(np.int64)
    pos_c = np.minimum(pos, len(raw) - 1)
    ok = (raw[pos_c] == vals) & ~missing
    return np.where(ok, pos_c, -1).astype(np.int64)


def ptr_from_sorted(group: IntArray, n_groups: int) -> IntArray:
    """CSR pointer (length ``n_groups + 1``) for rows sorted by ``group`` in ``0..n-1``."""
    counts = np.bincount(group, minlength=n_groups).astype(np.int64)
    ptr = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr


def csr_gather(ptr: IntArray, rows: IntArray) -> tuple[IntArray, IntArray]:
    """Select CSR rows ``rows`` (in that order): returns (new ptr, positions in the old data)."""
    rows = np.asarray(rows, dtype=np.int64)
    starts = ptr[rows]
    lens = ptr[rows + 1] - starts
    new_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lens, out=new_ptr[1:])
    total = int(new_ptr[-1])
    offsets = np.repeat(starts - new_ptr[:-1], lens)
    positions = np.arange(total, dtype=np.int64) + offsets
    return new_ptr, positions


def to_unix(moment: datetime) -> int:
    """Unix seconds of an aware or naive (taken as UTC) datetime."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int((moment - _EPOCH).total_seconds())


def format_time(seconds: int | np.integer[npt.NBitBase]) -> str:
    """ISO-8601 UTC text of unix seconds, e.g. ``2014-04-02T11:11:12Z``."""
    return datetime.fromtimestamp(int(seconds), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(text: str, where: str) -> datetime:
    """Parse one ISO-8601 date or date-time (naive = UTC) into an aware UTC datetime."""
    value = text.strip()
    try:
        stamp = pd.to_datetime(value, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        stamp = pd.NaT
    if pd.isna(stamp) or not value:
        raise AutorecError(
            where,
            f"cannot parse the date {text!r}",
            "write dates as ISO-8601, e.g. 2014-06-01 or 2014-06-01T12:00:00",
        )
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    result: datetime = stamp.to_pydatetime()
    return result
