"""Purchase histories and the purchase-history protocol (soft-split paper, Section 3.1 and
Appendix A; docs/design.md#purchase-history-protocol).

Windows are half-open: X = [dx, dxy), Y = [dxy, dyz), XY = [dx, dyz), Z = [dyz, dz).

Steps, in this order (each a vectorised numpy pass):

1. **Catalogue** = products bought (by anyone) in [dx, dyz), optionally clipped to the
   ``top_p`` most bought there (ties by item index, i.e. by the raw id's string order).
   ``popularity[j]`` = purchases of catalogue item ``j`` in [dx, dyz).
2. Purchases of products outside the catalogue are dropped (inputs and targets).
3. Inputs are one-hot per product (paper Section 3.1: "represented by one-hot encoding"): a
   product bought twice in the input window is one input, aged by its *latest* purchase;
   ``input_age_days`` = (end of the input window − purchase time) / 86400.
   Targets are deduplicated.
4. **Train customers** (X → Y): ≥ ``min_purchases`` (default 2, Appendix A "at least two
   purchases") and ≤ ``max_purchases`` (default: no limit) distinct catalogue products in X,
   and ≥ 1 catalogue product in Y. **Test customers** (XY → Z): the same bounds on XY and ≥ 1
   catalogue product in Z. Counting after step 2 is our reading of the paper (which does not
   say): a customer whose targets are all outside the catalogue can be hit by no recommender.
5. The validation protocol repeats 1-4 with all four dates shifted one calendar month back
   (Section 3.1: "dx − month, dxy − month, dyz − month, dz − month"); a day that does not
   exist in the earlier month is clipped to its last day (31 March → 28/29 February).
6. **Rolling training windows** (``train_windows=K``, an autorec option; K = 1, the default,
   is exactly the paper's protocol): besides the X → Y examples on (dx, dxy, dyz), training
   gets X_k → Y_k examples for k = 1..K−1 with dxy and dyz both shifted back by
   k·(dyz − dxy) (dx fixed): X_k = [dx, dxy − k·s), Y_k = [dxy − k·s, dyz − k·s), s = dyz − dxy.
   The catalogue is unchanged (products bought in [dx, dyz)), input ages are relative to each
   shifted window end, and each window applies the same customer filters (a customer may
   appear once per window). A window whose X_k would be empty (dxy − k·s ≤ dx) is skipped.
   Fair to the baselines: every example uses only purchases before dyz, the same information
   itemknn / ALS / popularity are fitted on ([dx, dyz)); the test window Z is never read.
   The validation protocol gets the same K on its own (month-shifted) dates.
7. **Auto-encoder examples** (``autoencoder=True``, an autorec option; off by default): the
   training examples also get, for every customer with ``min_purchases`` .. ``max_purchases``
   distinct catalogue products in XY = [dx, dyz), one example whose input is that history
   (ages relative to dyz) and whose target is the same set of products -- the auto-encoder of
   the soft-split paper (eq. 8) trained on every customer's history, the information itemknn /
   ALS / popularity are fitted on (test customers' XY inputs included). With input dropout
   (Mult-DAE's denoising) the network learns to predict a customer's other products from
   part of the history. Z is never read; the validation protocol uses its own dates.

Customers are the source's ``user_id``; logs without user ids use the ``session_id``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from autorec.data._common import encode_ids, format_time, parse_date, ptr_from_sorted, to_unix
from autorec.data.types import (
    CustomerExamples,
    EventLog,
    IdMap,
    IntArray,
    PurchaseLog,
    PurchaseProtocol,
    SplitDates,
)
from autorec.errors import AutorecError

__all__ = [
    "DEFAULT_MIN_PURCHASES",
    "DEFAULT_WINDOW_DAYS",
    "build_protocol",
    "build_purchase_log",
    "default_purchase_split",
    "parse_purchase_split",
    "shift_month_back",
]

#: Appendix A: customers need at least two purchases in the input window.
DEFAULT_MIN_PURCHASES = 2
#: Default split: Z and Y are the last two 14-day windows before the day after the last buy.
DEFAULT_WINDOW_DAYS = 14


def build_purchase_log(events: EventLog) -> PurchaseLog:
    """The buys of an event log, ordered by time (ties in file order)."""
    frame = events.frame
    buys = frame[frame["event"] == "buy"]
    customer = buys["user_id"].fillna(buys["session_id"])
    keep = customer.notna().to_numpy()
    if not keep.any():
        raise AutorecError(
            events.source,
            f"no purchase with a user_id or session_id ({len(buys)} buy rows)",
            "add a user_id column (the customer) to the purchases",
        )
    customer = customer[keep]
    items_raw = buys["item_id"][keep]
    users = IdMap.from_values(customer)
    items = IdMap.from_values(items_raw)
    time = buys["timestamp"].to_numpy(dtype=np.int64)[keep]
    order = np.argsort(time, kind="stable")
    return PurchaseLog(
        user=encode_ids(users, customer.to_numpy())[order],
        item=encode_ids(items, items_raw.to_numpy())[order],
        time=time[order],
        users=users,
        items=items,
    )


def parse_purchase_split(split: str) -> SplitDates:
    """``"DX,DXY,DYZ,DZ"`` → :class:`SplitDates` (strictly increasing)."""
    parts = split.split(",")
    if len(parts) != 4:
        raise AutorecError(
            "--split",
            f"expected DX,DXY,DYZ,DZ for purchase data, got {split!r}",
            "give four ISO dates, e.g. --split 1997-09-19,1998-03-26,1998-04-09,1998-04-23",
        )
    dates = [parse_date(p, "--split") for p in parts]
    names = ("DX", "DXY", "DYZ", "DZ")
    for i in range(3):
        if not dates[i] < dates[i + 1]:
            raise AutorecError(
                "--split",
                f"dates out of order: {names[i]}={parts[i].strip()} is not before "
                f"{names[i + 1]}={parts[i + 1].strip()}",
                "give DX < DXY < DYZ < DZ",
            )
    return SplitDates(*dates)


def _day(seconds: int) -> datetime:
    moment = datetime.fromtimestamp(int(seconds), tz=timezone.utc)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def default_purchase_split(log: PurchaseLog) -> SplitDates:
    """dz = the day after the last purchase, dyz = dz − 14 d, dxy = dyz − 14 d, dx = the day
    of the first purchase (midnight UTC)."""
    if len(log.time) == 0:
        raise AutorecError("purchase log", "no purchases", "give a log with purchases")
    dz = _day(int(log.time.max())) + timedelta(days=1)
    dyz = dz - timedelta(days=DEFAULT_WINDOW_DAYS)
    dxy = dyz - timedelta(days=DEFAULT_WINDOW_DAYS)
    dx = _day(int(log.time.min()))
    if not dx < dxy:
        dx = dxy - timedelta(days=DEFAULT_WINDOW_DAYS)
    return SplitDates(dx, dxy, dyz, dz)


def shift_month_back(dates: SplitDates) -> SplitDates:
    """All four dates one calendar month earlier (soft-split paper, Section 3.1)."""

    def back(d: datetime) -> datetime:
        result: datetime = (pd.Timestamp(d) - pd.DateOffset(months=1)).to_pydatetime()
        return result

    return SplitDates(back(dates.dx), back(dates.dxy), back(dates.dyz), back(dates.dz))


def _examples(
    user: IntArray,
    cat: IntArray,
    time: IntArray,
    in_window: tuple[int, int],
    out_window: tuple[int, int],
    min_purchases: int,
    max_purchases: int | None,
) -> CustomerExamples:
    lo, hi = in_window
    in_mask = (time >= lo) & (time < hi)
    out_mask = (time >= out_window[0]) & (time < out_window[1])
    # Inputs: one per (customer, product), the latest purchase (sort by user, cat, -time).
    iu, ic, it = user[in_mask], cat[in_mask], time[in_mask]
    order = np.lexsort((-it, ic, iu))
    iu, ic, it = iu[order], ic[order], it[order]
    first = np.ones(len(iu), dtype=bool)
    first[1:] = (iu[1:] != iu[:-1]) | (ic[1:] != ic[:-1])
    iu, ic, it = iu[first], ic[first], it[first]
    ou, oc = user[out_mask], cat[out_mask]
    order = np.lexsort((oc, ou))
    ou, oc = ou[order], oc[order]
    first = np.ones(len(ou), dtype=bool)
    first[1:] = (ou[1:] != ou[:-1]) | (oc[1:] != oc[:-1])
    ou, oc = ou[first], oc[first]

    n_users = int(max(user.max(initial=-1), -1)) + 1
    n_in = np.bincount(iu, minlength=n_users)
    n_out = np.bincount(ou, minlength=n_users)
    ok = (n_in >= min_purchases) & (n_out >= 1)
    if max_purchases is not None:
        ok &= n_in <= max_purchases
    customers = np.flatnonzero(ok).astype(np.int64)
    rank = np.full(n_users, -1, dtype=np.int64)
    rank[customers] = np.arange(len(customers), dtype=np.int64)
    keep_in = rank[iu] >= 0
    keep_out = rank[ou] >= 0
    return CustomerExamples(
        customers=customers,
        input_ptr=ptr_from_sorted(rank[iu[keep_in]], len(customers)),
        input_item=ic[keep_in].astype(np.int64),
        input_age_days=((hi - it[keep_in]) / 86400.0).astype(np.float32),
        target_ptr=ptr_from_sorted(rank[ou[keep_out]], len(customers)),
        target_item=oc[keep_out].astype(np.int64),
    )


def _concat_examples(parts: list[CustomerExamples]) -> CustomerExamples:
    """The examples of several windows one after the other (CSR pointers re-based)."""
    if len(parts) == 1:
        return parts[0]

    def ptr(name: str) -> IntArray:
        ptrs = [getattr(p, name) for p in parts]
        base = np.cumsum([0] + [int(q[-1]) for q in ptrs[:-1]])
        return np.concatenate([ptrs[0][:1]] + [q[1:] + b for q, b in zip(ptrs, base, strict=True)])

    return CustomerExamples(
        customers=np.concatenate([p.customers for p in parts]),
        input_ptr=ptr("input_ptr"),
        input_item=np.concatenate([p.input_item for p in parts]),
        input_age_days=np.concatenate([p.input_age_days for p in parts]),
        target_ptr=ptr("target_ptr"),
        target_item=np.concatenate([p.target_item for p in parts]),
    )


def build_protocol(
    log: PurchaseLog,
    dates: SplitDates,
    *,
    top_p: int | None = None,
    min_purchases: int = DEFAULT_MIN_PURCHASES,
    max_purchases: int | None = None,
    where: str = "--split",
    check: bool = True,
    train_windows: int = 1,
    autoencoder: bool = False,
) -> PurchaseProtocol:
    """The purchase-history protocol on ``dates`` (module docstring, steps 1-4), with
    ``train_windows`` rolling training windows (step 6; 1 = the paper's protocol) and, with
    ``autoencoder``, one XY → XY auto-encoder training example per customer (step 7)."""
    if train_windows < 1:
        raise AutorecError(
            "--train-windows",
            f"must be at least 1, got {train_windows}",
            "give K >= 1 (1 = the paper's single X -> Y training window)",
        )
    if top_p is not None and top_p < 1:
        raise AutorecError(
            "--top-p",
            f"must be at least 1, got {top_p}",
            "give the catalogue size P, or omit it for no clipping",
        )
    if min_purchases < 1:
        raise AutorecError(
            "--min-purchases",
            f"must be at least 1, got {min_purchases}",
            "give a positive minimum (the protocol's default is 2)",
        )
    if max_purchases is not None and max_purchases < min_purchases:
        raise AutorecError(
            "--max-purchases",
            f"{max_purchases} is below --min-purchases {min_purchases}",
            "give a maximum at least as large as the minimum",
        )
    dx, dxy, dyz, dz = (to_unix(d) for d in (dates.dx, dates.dxy, dates.dyz, dates.dz))
    xy = (log.time >= dx) & (log.time < dyz)
    counts = np.bincount(log.item[xy], minlength=len(log.items)).astype(np.int64)
    bought = np.flatnonzero(counts > 0).astype(np.int64)
    if top_p is not None and len(bought) > top_p:
        ranked = bought[np.lexsort((bought, -counts[bought]))]
        bought = np.sort(ranked[:top_p])
    catalogue = bought
    cat_of = np.full(len(log.items), -1, dtype=np.int64)
    cat_of[catalogue] = np.arange(len(catalogue), dtype=np.int64)
    cat = cat_of[log.item]
    inside = cat >= 0
    user, cat_in, time = log.user[inside], cat[inside], log.time[inside]
    windows = [_examples(user, cat_in, time, (dx, dxy), (dxy, dyz), min_purchases, max_purchases)]
    step = dyz - dxy
    for k in range(1, train_windows):
        end_x, end_y = dxy - k * step, dyz - k * step
        if end_x <= dx:
            break
        windows.append(
            _examples(user, cat_in, time, (dx, end_x), (end_x, end_y), min_purchases, max_purchases)
        )
    if autoencoder:
        windows.append(
            _examples(user, cat_in, time, (dx, dyz), (dx, dyz), min_purchases, max_purchases)
        )
    train = _concat_examples(windows)
    test = _examples(user, cat_in, time, (dx, dyz), (dyz, dz), min_purchases, max_purchases)
    protocol = PurchaseProtocol(
        dates=dates, catalogue=catalogue, train=train, test=test, popularity=counts[catalogue]
    )
    if check:
        for name, part in (("train (X→Y)", train), ("test (XY→Z)", test)):
            if part.n_customers == 0:
                span = (
                    (
                        f"purchases span {format_time(int(log.time.min()))} .. "
                        f"{format_time(int(log.time.max()))}"
                    )
                    if len(log.time)
                    else "no purchases"
                )
                raise AutorecError(
                    where,
                    f"no {name} customers for dx={dates.dx:%Y-%m-%d} dxy={dates.dxy:%Y-%m-%d} "
                    f"dyz={dates.dyz:%Y-%m-%d} dz={dates.dz:%Y-%m-%d} ({len(catalogue)} "
                    f"catalogue items, min_purchases={min_purchases}; {span})",
                    "widen the windows, move the dates into the data's range or lower "
                    "--min-purchases",
                )
    return protocol


def parse_split_or_default(split: str | None, log: PurchaseLog) -> SplitDates:
    return default_purchase_split(log) if split is None else parse_purchase_split(split)
