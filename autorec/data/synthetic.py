"""Synthetic data: the default data of every command (no files needed).

Everything here is *synthetic* — generated from a seeded :class:`numpy.random.Generator`,
never real shop data; the event logs say so in their ``source`` (``synthetic:sessions`` /
``synthetic:purchases``, the loaders add ``(seed=N)``). Generation is vectorised (no
per-session Python loop), so the default sizes take well under a second.

Sessions (:func:`synthesize_sessions`, DRNN-style browsing)
    Items fall into categories; each category has a category page ``page:cat-NN`` and there
    is a home page ``page:home`` (pages that show no item; see ``NON_ITEM_PAGE_PREFIX``).
    Item popularity is long-tailed (Zipf). Users (``u0001`` ...) have two favourite categories
    and three liked items; user activity is Zipf-distributed, so many users come back and
    their earlier purchases predict later ones (signal for the DRNN's FNN branch). A session
    has an intent: a category (mostly a favourite) and a target item in it (a liked item with
    probability 0.4, else by popularity). The path starts on the home or the intent's category
    page, then visits the category page, the target's product page and other products of the
    category (and a few random popular products). Dwell times are log-normal (median 20 s);
    the target's product page is viewed 4× longer and category pages half as long. A fraction
    ``buy_rate`` of sessions end by viewing and buying the target (sometimes a second item of
    the category too). Dates start 2024-01-01.

Purchases (:func:`synthesize_purchases`, soft-split-style histories)
    Customers (``c00001`` ...) with log-normal purchase counts (mean ≈ ``mean_purchases``)
    buy products (``p0001`` ...) of mostly their two favourite categories over ``days`` days
    (default 730, from 2022-01-01). Product popularity is long-tailed (Zipf) and drifts: each
    product has a log-linear trend and 30 % launch part-way through. A yearly seasonal spike
    (10-31 December) raises the purchase rate and multiplies the popularity of the seasonal
    products (10 %) by e^2.5.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import numpy.typing as npt
import pandas as pd

from autorec.data._common import to_unix
from autorec.data.types import EVENT_COLUMNS, EventLog, IntArray

__all__ = ["synthesize_purchases", "synthesize_sessions"]

_DAY = 86400


def _zipf_weights(rng: np.random.Generator, n: int, exponent: float) -> npt.NDArray[np.float64]:
    ranks = rng.permutation(n).astype(np.float64)
    weights: npt.NDArray[np.float64] = (ranks + 1.0) ** (-exponent)
    return weights


def _sample_rows(
    rng: np.random.Generator, weights: npt.NDArray[np.float64], rows: IntArray
) -> IntArray:
    """For each ``rows[i]`` draw a column of ``weights[rows[i]]`` (rows need not sum to 1)."""
    cdf = np.cumsum(weights[rows], axis=1)
    total = cdf[:, -1:]
    u = rng.random((len(rows), 1)) * total
    picked = (cdf <= u).sum(axis=1)
    result: IntArray = np.minimum(picked, weights.shape[1] - 1).astype(np.int64)
    return result


def _category_matrix(n_items: int, n_categories: int) -> IntArray:
    """``m[c, k]`` = k-th item of category c (item i is in category i % n_categories), -1 pad."""
    per = -(-n_items // n_categories)
    m = np.arange(n_categories)[:, None] + n_categories * np.arange(per)[None, :]
    return np.where(m < n_items, m, -1).astype(np.int64)


def _frame(columns: dict[str, object]) -> pd.DataFrame:
    frame = pd.DataFrame(columns, columns=list(EVENT_COLUMNS))
    for col in ("user_id", "session_id", "item_id", "event"):
        frame[col] = frame[col].astype("string")
    frame["timestamp"] = frame["timestamp"].astype(np.int64)
    frame["rating"] = frame["rating"].astype(np.float64)
    frame["dwell"] = frame["dwell"].astype(np.float64)
    frame = frame.sort_values("timestamp", kind="stable", ignore_index=True)
    frame.attrs["source_rows"] = len(frame)
    frame.attrs["ignored"] = {}
    return frame


def _names(prefix: str, index: IntArray, width: int) -> npt.NDArray[np.object_]:
    return np.char.add(prefix, np.char.zfill(index.astype(str), width)).astype(object)


def synthesize_sessions(
    rng: np.random.Generator,
    *,
    n_sessions: int = 3000,
    n_items: int = 300,
    n_categories: int = 40,
    n_users: int = 600,
    days: int = 60,
    buy_rate: float = 0.45,
    mean_views: float = 6.0,
    start: str = "2024-01-01",
) -> EventLog:
    """Synthetic browsing sessions that lead to purchases (module docstring)."""
    if min(n_sessions, n_items, n_categories, n_users, days) < 1:
        raise ValueError("synthetic sizes must be positive")
    t0 = to_unix(datetime.fromisoformat(start).replace(tzinfo=timezone.utc))
    cats = _category_matrix(n_items, n_categories)
    item_w = _zipf_weights(rng, n_items, 1.0)
    slot_w = np.where(cats >= 0, item_w[np.maximum(cats, 0)], 0.0)
    cat_w = slot_w.sum(axis=1)
    cat_p = cat_w / cat_w.sum()

    # Users: favourite categories, liked items, Zipf activity.
    fav = rng.choice(n_categories, size=(n_users, 2), p=cat_p)
    liked_cat = fav[np.arange(n_users)[:, None], rng.integers(0, 2, size=(n_users, 3))]
    liked = cats[liked_cat.ravel(), _sample_rows(rng, slot_w, liked_cat.ravel())].reshape(
        n_users, 3
    )
    activity = _zipf_weights(rng, n_users, 0.8)

    # Sessions: user, start, intent category and target item.
    s_user = rng.choice(n_users, size=n_sessions, p=activity / activity.sum())
    s_start = np.sort(t0 + rng.integers(0, days * _DAY, size=n_sessions))
    use_fav = rng.random(n_sessions) < 0.75
    s_cat = np.where(
        use_fav,
        fav[s_user, rng.integers(0, 2, size=n_sessions)],
        rng.choice(n_categories, size=n_sessions, p=cat_p),
    )
    s_target = cats[s_cat, _sample_rows(rng, slot_w, s_cat)]
    use_liked = rng.random(n_sessions) < 0.4
    liked_pick = liked[s_user, rng.integers(0, 3, size=n_sessions)]
    s_target = np.where(use_liked, liked_pick, s_target)
    s_cat = s_target % n_categories
    buys = rng.random(n_sessions) < buy_rate
    n_views = np.minimum(2 + rng.poisson(max(mean_views - 2.0, 0.1), size=n_sessions), 30)

    # Page views, flattened: session index and position within the session.
    total = int(n_views.sum())
    v_sess = np.repeat(np.arange(n_sessions), n_views)
    ends = np.cumsum(n_views)
    pos = np.arange(total) - np.repeat(ends - n_views, n_views)
    last = pos == n_views[v_sess] - 1
    cat_v = s_cat[v_sess]
    r = rng.random(total)
    other = cats[cat_v, _sample_rows(rng, slot_w, cat_v)]
    popular = rng.choice(n_items, size=total, p=item_w / item_w.sum())
    # kind: 0 home, 1 category page, 2 target, 3 other item of the category, 4 popular item
    kind = np.select([r < 0.15, r < 0.40, r < 0.85], [1, 2, 3], default=4)
    kind = np.where(pos == 0, np.where(rng.random(total) < 0.3, 0, 1), kind)
    kind = np.where(last & buys[v_sess], 2, kind)
    item_v = np.select([kind == 2, kind == 3, kind == 4], [s_target[v_sess], other, popular], -1)
    page_names = np.where(
        kind == 0,
        "page:home",
        np.where(
            kind == 1,
            np.char.add("page:cat-", np.char.zfill(cat_v.astype(str), 2)),
            np.char.add("i", np.char.zfill(np.maximum(item_v, 0).astype(str), 4)),
        ),
    ).astype(object)
    gap = np.exp(rng.normal(np.log(20.0), 0.8, size=total))
    gap = gap * np.select([kind == 2, kind <= 1], [4.0, 0.5], 1.0)
    gap = np.maximum(np.round(gap), 1).astype(np.int64)
    cum = np.cumsum(gap)
    before = cum - gap  # sum of earlier gaps (global), minus the session's offset below
    offset = np.repeat(before[ends - n_views], n_views)
    v_time = s_start[v_sess] + (before - offset)

    # Buys: the target after its last view; sometimes a second item of the category.
    b_sess = np.flatnonzero(buys)
    b_time = v_time[ends[b_sess] - 1] + gap[ends[b_sess] - 1]
    b_item = s_target[b_sess]
    extra = b_sess[rng.random(len(b_sess)) < 0.15]
    extra_item = cats[s_cat[extra], _sample_rows(rng, slot_w, s_cat[extra])]
    keep = extra_item != s_target[extra]
    extra, extra_item = extra[keep], extra_item[keep]
    extra_time = v_time[ends[extra] - 1] + gap[ends[extra] - 1] + 5
    all_b_sess = np.concatenate([b_sess, extra])
    all_b_item = np.concatenate([b_item, extra_item])
    all_b_time = np.concatenate([b_time, extra_time])

    sess_names = _names("s", np.arange(n_sessions), 5)
    user_names = _names("u", np.arange(n_users), 4)
    n_b = len(all_b_sess)
    frame = _frame(
        {
            "user_id": np.concatenate([user_names[s_user[v_sess]], user_names[s_user[all_b_sess]]]),
            "session_id": np.concatenate([sess_names[v_sess], sess_names[all_b_sess]]),
            "item_id": np.concatenate([page_names, _names("i", all_b_item, 4)]),
            "timestamp": np.concatenate([v_time, all_b_time]),
            "event": np.concatenate(
                [np.full(total, "view", dtype=object), np.full(n_b, "buy", dtype=object)]
            ),
            "rating": np.full(total + n_b, np.nan),
            "dwell": np.full(total + n_b, np.nan),
        }
    )
    return EventLog(frame=frame, source="synthetic:sessions", kind="sessions")


def synthesize_purchases(
    rng: np.random.Generator,
    *,
    n_customers: int = 1500,
    n_items: int = 400,
    n_categories: int = 20,
    days: int = 730,
    mean_purchases: float = 20.0,
    seasonal_share: float = 0.1,
    start: str = "2022-01-01",
) -> EventLog:
    """Synthetic dated purchase histories with drifting long-tailed popularity and a yearly
    December spike (module docstring)."""
    if min(n_customers, n_items, n_categories, days) < 1 or mean_purchases <= 0:
        raise ValueError("synthetic sizes must be positive")
    t0 = to_unix(datetime.fromisoformat(start).replace(tzinfo=timezone.utc))
    t_end = t0 + days * _DAY
    cats = _category_matrix(n_items, n_categories)
    base = _zipf_weights(rng, n_items, 1.1)
    slope = rng.normal(0.0, 1.0, size=n_items)  # log-popularity change per year
    launch = np.where(rng.random(n_items) < 0.3, t0 + rng.integers(0, days * _DAY, n_items), t0)
    seasonal = rng.random(n_items) < seasonal_share

    # Weekly popularity table W[week, category, slot].
    n_weeks = days // 7 + 1
    week_mid = t0 + (np.arange(n_weeks) * 7 + 3.5) * _DAY
    spike_week = _in_spike(week_mid.astype(np.int64))
    years = (week_mid - t0) / (365.25 * _DAY)
    log_w = np.log(base)[None, :] + slope[None, :] * (years[:, None] - years.mean())
    log_w = log_w + 2.5 * (spike_week[:, None] & seasonal[None, :])
    w_item = np.exp(log_w) * (week_mid[:, None] >= launch[None, :]) + 1e-12
    table = np.where(cats[None, :, :] >= 0, w_item[:, np.maximum(cats, 0)], 0.0)

    # Customers: purchase counts, join dates, favourite categories.
    counts = np.maximum(
        1, np.round(rng.lognormal(np.log(mean_purchases) - 0.5, 1.0, size=n_customers))
    ).astype(np.int64)
    counts = np.minimum(counts, 400)
    join = t0 + (rng.random(n_customers) * 0.7 * days * _DAY).astype(np.int64)
    cat_p = table.sum(axis=(0, 2))
    cat_p = cat_p / cat_p.sum()
    fav = rng.choice(n_categories, size=(n_customers, 2), p=cat_p)

    n = int(counts.sum())
    cust = np.repeat(np.arange(n_customers), counts)
    when = join[cust] + (rng.random(n) * (t_end - join[cust])).astype(np.int64)
    # Seasonal rate spike: 20 % of purchases move into a random 10-31 December window.
    windows = _spike_windows(t0, t_end)
    if len(windows):
        moved = rng.random(n) < 0.2
        w = windows[rng.integers(0, len(windows), size=int(moved.sum()))]
        when[moved] = w[:, 0] + (rng.random(len(w)) * (w[:, 1] - w[:, 0])).astype(np.int64)
    when = np.clip(when, t0, t_end - 1)
    use_fav = rng.random(n) < 0.7
    cat = np.where(
        use_fav, fav[cust, rng.integers(0, 2, size=n)], rng.choice(n_categories, size=n, p=cat_p)
    )
    week = np.minimum((when - t0) // (7 * _DAY), n_weeks - 1)
    flat = table.reshape(n_weeks * n_categories, -1)
    slot = _sample_rows(rng, flat, (week * n_categories + cat).astype(np.int64))
    item = cats[cat, slot]

    frame = _frame(
        {
            "user_id": _names("c", cust, 5),
            "session_id": np.full(n, pd.NA, dtype=object),
            "item_id": _names("p", item, 4),
            "timestamp": when,
            "event": np.full(n, "buy", dtype=object),
            "rating": np.full(n, np.nan),
            "dwell": np.full(n, np.nan),
        }
    )
    return EventLog(frame=frame, source="synthetic:purchases", kind="purchases")


def _in_spike(times: IntArray) -> npt.NDArray[np.bool_]:
    stamps = pd.to_datetime(times, unit="s", utc=True)
    return np.asarray((stamps.month == 12) & (stamps.day >= 10), dtype=bool)


def _spike_windows(t0: int, t_end: int) -> IntArray:
    first = datetime.fromtimestamp(t0, tz=timezone.utc).year
    last = datetime.fromtimestamp(t_end, tz=timezone.utc).year
    rows = []
    for year in range(first, last + 1):
        lo = to_unix(datetime(year, 12, 10, tzinfo=timezone.utc))
        hi = to_unix(datetime(year + 1, 1, 1, tzinfo=timezone.utc))
        lo, hi = max(lo, t0), min(hi, t_end)
        if hi > lo:
            rows.append((lo, hi))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)
