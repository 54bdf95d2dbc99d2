"""Sessions (DRNN paper, Section III.A and III.E; docs/design.md#session-protocol).

Grouping
    Rows with a ``session_id`` keep it (YOOCHOOSE; the inactivity timeout does not split a
    given session id). Rows without one but with a ``user_id`` are cut into sessions per
    user by the inactivity timeout T (paper Section II: "if no new log document is received
    for u_i until t_0 + T"; T = 30 min default): a new session starts when the gap to the
    user's previous event (view *or* buy) exceeds T. Such sessions are named
    ``"<user_id>#<k>"`` (k-th session of the user). Buys are therefore attached to the user's
    session active at the time of the buy; a buy with a session id joins that session.
    Sessions without any page view are dropped (nothing to predict from).

Pages and items
    A viewed id is a page. Ids starting with :data:`NON_ITEM_PAGE_PREFIX` (``"page:"``) are
    pages showing no item (category, search, home pages; the synthetic data has them); every
    other viewed id is the product page of the item with the same id. ``items`` holds every
    product-page item and every bought item; ``page_item`` maps pages to items (-1 = none).

Dwell θ
    θ of a view = seconds until the next view of the same session
    (docs/design.md#session-protocol). The last view of a session has no next view: its θ
    is **0.0** (the DRNN batcher treats the last page of any prefix as unknown anyway
    and sets θ=0 there). A ``dwell`` column in the source, where present and not NaN,
    overrides the computed value.

Order
    Sessions are ordered by the time of their first page view (ties by session id); views and
    buys inside a session by time (ties in file order).
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd

from autorec.data._common import (
    NON_ITEM_PAGE_PREFIX,
    csr_gather,
    encode_ids,
    format_time,
    parse_date,
    ptr_from_sorted,
    to_unix,
)
from autorec.data.types import EventLog, IdMap, IntArray, SessionLog, SessionSamples, SessionSplit
from autorec.errors import AutorecError

__all__ = [
    "DEFAULT_SESSION_QUANTILES",
    "build_session_log",
    "default_session_split",
    "parse_session_split",
    "session_samples",
    "split_sessions",
    "subset_sessions",
]

#: Default session split: validation starts at the session start time at the 80% quantile,
#: test at the 90% quantile (about 80/10/10 % of sessions by first-view time).
DEFAULT_SESSION_QUANTILES = (0.8, 0.9)


def _session_keys(frame: pd.DataFrame, timeout_s: int, where: str) -> pd.Series:
    """Session key per row: the session id, else ``user#k`` from the inactivity timeout."""
    key = frame["session_id"].astype("string").copy()
    need = key.isna().to_numpy() & frame["user_id"].notna().to_numpy()
    orphan_views = key.isna().to_numpy() & ~need & (frame["event"] == "view").to_numpy()
    if orphan_views.any():
        raise AutorecError(
            f"{where}: columns session_id/user_id",
            f"{int(orphan_views.sum())} page views have neither a session id nor a user id",
            "add a session_id or user_id column so views can be grouped into sessions",
        )
    if need.any():
        sub = frame.loc[need, ["user_id", "timestamp"]]
        users = sub["user_id"].to_numpy(dtype=str)
        times = sub["timestamp"].to_numpy(dtype=np.int64)
        order = np.lexsort((times, users))  # stable: file order within equal times
        u_sorted, t_sorted = users[order], times[order]
        new_user = np.ones(len(order), dtype=bool)
        new_user[1:] = u_sorted[1:] != u_sorted[:-1]
        gap = np.zeros(len(order), dtype=np.int64)
        gap[1:] = t_sorted[1:] - t_sorted[:-1]
        new = new_user | (gap > timeout_s)
        number = np.cumsum(new) - 1
        first_of_user = np.maximum.accumulate(np.where(new_user, number, 0))
        ordinal = number - first_of_user
        names = pd.Series(u_sorted, dtype="string") + "#" + pd.Series(ordinal).astype("string")
        values = np.empty(len(order), dtype=object)
        values[order] = names.to_numpy(dtype=object)
        key[need] = values
    return key


def build_session_log(events: EventLog, *, session_timeout_s: int = 1800) -> SessionLog:
    """Group an event log's views and buys into sessions (see the module docstring)."""
    frame = events.frame
    where = events.source
    if not bool((frame["event"] == "view").any()):
        raise AutorecError(
            where,
            f"no page views (a {events.kind} log); the session protocol needs view events",
            "use a log with view events, or a purchase-history command",
        )
    if session_timeout_s <= 0:
        raise AutorecError(
            "--timeout",
            f"must be positive, got {session_timeout_s}",
            "give the inactivity timeout in seconds, e.g. 1800",
        )
    key = _session_keys(frame, session_timeout_s, where)
    has_key = key.notna().to_numpy()
    is_view = (frame["event"] == "view").to_numpy(dtype=bool) & has_key
    is_buy = (frame["event"] == "buy").to_numpy(dtype=bool) & has_key
    times = frame["timestamp"].to_numpy(dtype=np.int64)

    # Sessions: keys that have at least one view, ordered by first view time then key.
    view_keys = key[is_view].to_numpy(dtype=str)
    view_times = times[is_view]
    codes, uniq = pd.factorize(view_keys, sort=True)
    codes = np.asarray(codes, dtype=np.int64)
    n_sessions = len(uniq)
    start = np.full(n_sessions, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(start, codes, view_times)
    uniq_arr = np.asarray(uniq, dtype=str)
    session_order = np.lexsort((uniq_arr, start))  # by start, ties by key (already sorted)
    rank = np.empty(n_sessions, dtype=np.int64)
    rank[session_order] = np.arange(n_sessions, dtype=np.int64)
    session_ids = uniq_arr[session_order]
    start = start[session_order]
    view_session = rank[codes]

    # Id maps shared by every subset of this dataset.
    page_raw = frame["item_id"][is_view]
    pages = IdMap.from_values(page_raw)
    is_product_page = ~np.char.startswith(pages.raw.astype(str), NON_ITEM_PAGE_PREFIX)
    bought_raw = frame["item_id"][is_buy]
    items = IdMap.from_values(
        pd.concat([pd.Series(pages.raw[is_product_page], dtype="string"), bought_raw])
    )
    page_item = np.where(is_product_page, encode_ids(items, pages.raw), -1).astype(np.int64)
    users = IdMap.from_values(frame["user_id"])

    # Views in CSR order: by session, then time (stable: file order within equal times).
    v_order = np.lexsort((view_times, view_session))
    view_session_sorted = view_session[v_order]
    page = encode_ids(pages, page_raw.to_numpy()[v_order])
    view_time = view_times[v_order]
    page_ptr = ptr_from_sorted(view_session_sorted, n_sessions)
    computed = np.zeros(len(page), dtype=np.float64)
    same_next = np.zeros(len(page), dtype=bool)
    same_next[:-1] = view_session_sorted[1:] == view_session_sorted[:-1]
    computed[:-1] = np.where(same_next[:-1], view_time[1:] - view_time[:-1], 0.0)
    given = frame["dwell"].to_numpy(dtype=np.float64)[is_view][v_order]
    dwell = np.where(np.isnan(given), computed, given).astype(np.float32)

    # User per session: first non-missing user id among its views.
    view_user = encode_ids(users, frame["user_id"][is_view].to_numpy()[v_order])
    user = np.full(n_sessions, -1, dtype=np.int64)
    has_user = view_user >= 0
    first = np.full(n_sessions, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, view_session_sorted[has_user], np.flatnonzero(has_user))
    found = first < np.iinfo(np.int64).max
    user[found] = view_user[first[found]]

    # Buys attached to sessions that have views.
    buy_key = key[is_buy].to_numpy(dtype=str)
    buy_code = np.searchsorted(uniq_arr, buy_key)
    buy_code_c = np.minimum(buy_code, max(n_sessions - 1, 0))
    ok = (uniq_arr[buy_code_c] == buy_key) if n_sessions else np.zeros(len(buy_key), dtype=bool)
    buy_session = rank[buy_code_c[ok]]
    buy_items = encode_ids(items, frame["item_id"][is_buy].to_numpy()[ok])
    buy_times = times[is_buy][ok]
    b_order = np.lexsort((buy_times, buy_session))
    buy_ptr = ptr_from_sorted(buy_session[b_order], n_sessions)

    return SessionLog(
        session_ids=session_ids,
        user=user,
        start=start,
        page_ptr=page_ptr,
        page=page,
        view_time=view_time,
        dwell=dwell,
        buy_ptr=buy_ptr,
        buy=buy_items[b_order],
        buy_time=buy_times[b_order],
        pages=pages,
        items=items,
        users=users,
        page_item=page_item,
    )


def subset_sessions(log: SessionLog, sessions: IntArray) -> SessionLog:
    """The sessions ``sessions`` (indices, in that order) of ``log``; id maps are shared."""
    sessions = np.asarray(sessions, dtype=np.int64)
    page_ptr, pos = csr_gather(log.page_ptr, sessions)
    buy_ptr, bpos = csr_gather(log.buy_ptr, sessions)
    return SessionLog(
        session_ids=log.session_ids[sessions],
        user=log.user[sessions],
        start=log.start[sessions],
        page_ptr=page_ptr,
        page=log.page[pos],
        view_time=log.view_time[pos],
        dwell=log.dwell[pos],
        buy_ptr=buy_ptr,
        buy=log.buy[bpos],
        buy_time=log.buy_time[bpos],
        pages=log.pages,
        items=log.items,
        users=log.users,
        page_item=log.page_item,
    )


def session_samples(log: SessionLog) -> SessionSamples:
    """Every prefix ``p_0..p_j`` of each session with at least one purchase (DRNN paper,
    Section III.E: one session of n pages gives the shortened-path samples p0→I, p0p1→I, …).

    Ordered by session, then prefix length 1..n (vectorised, no per-session loop).
    """
    n_views = np.diff(log.page_ptr)
    n_buys = np.diff(log.buy_ptr)
    chosen = np.flatnonzero((n_buys > 0) & (n_views > 0)).astype(np.int64)
    lens = n_views[chosen]
    session = np.repeat(chosen, lens)
    ends = np.cumsum(lens)
    length = np.arange(len(session), dtype=np.int64) - np.repeat(ends - lens, lens) + 1
    return SessionSamples(session=session.astype(np.int64), length=length.astype(np.int64))


def parse_session_split(split: str) -> tuple[datetime, datetime]:
    """``"VAL_START,TEST_START"`` → two UTC datetimes, in order."""
    parts = [p for p in split.split(",")]
    if len(parts) != 2:
        raise AutorecError(
            "--split",
            f"expected VAL_START,TEST_START for session data, got {split!r}",
            "give two ISO dates, e.g. --split 2014-06-01,2014-06-16",
        )
    val_start, test_start = (parse_date(p, "--split") for p in parts)
    if not val_start < test_start:
        raise AutorecError(
            "--split",
            f"dates out of order: {parts[0].strip()} is not before {parts[1].strip()}",
            "give VAL_START before TEST_START",
        )
    return val_start, test_start


def default_session_split(log: SessionLog, where: str | None = None) -> tuple[datetime, datetime]:
    """Validation/test start at the 80 % / 90 % quantiles of session start times
    (``where``: the data file, named in errors)."""
    starts = np.sort(log.start)
    n = len(starts)
    if n < 3:
        raise AutorecError(
            where or _log_name(log),
            f"only {n} session(s) in {_log_name(log)}",
            "give a log with more sessions (validation and test need one each)",
        )
    cut = [starts[min(int(q * n), n - 1)] for q in DEFAULT_SESSION_QUANTILES]
    if cut[1] <= cut[0]:
        cut[1] = cut[0] + 1
    return (
        datetime.fromtimestamp(int(cut[0]), tz=timezone.utc),
        datetime.fromtimestamp(int(cut[1]), tz=timezone.utc),
    )


def _log_name(log: SessionLog) -> str:
    return f"session log of {log.n_sessions} sessions"


def split_sessions(
    log: SessionLog, val_start: datetime, test_start: datetime, *, where: str = "--split"
) -> SessionSplit:
    """Train / validation / test by the time of each session's first page view."""
    v, t = to_unix(val_start), to_unix(test_start)
    idx = np.arange(log.n_sessions, dtype=np.int64)
    train = idx[log.start < v]
    valid = idx[(log.start >= v) & (log.start < t)]
    test = idx[log.start >= t]
    n_buys = np.diff(log.buy_ptr)
    for name, part in (("train", train), ("validation", valid), ("test", test)):
        if int((n_buys[part] > 0).sum()) == 0:
            first, last = (
                (format_time(log.start.min()), format_time(log.start.max()))
                if log.n_sessions
                else ("-", "-")
            )
            raise AutorecError(
                where,
                f"the {name} period has no session with a purchase ({len(part)} sessions; "
                f"val_start {format_time(v)}, test_start {format_time(t)}, "
                f"sessions start {first} .. {last})",
                "move the split dates so every period holds buying sessions",
            )
    return SessionSplit(
        train=subset_sessions(log, train),
        valid=subset_sessions(log, valid),
        test=subset_sessions(log, test),
        val_start=val_start,
        test_start=test_start,
    )
