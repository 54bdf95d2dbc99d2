"""The data facade: one call from a path (or ``None`` = synthetic data) to what a trainer,
baseline or command needs, cached in-process by (path, modification time, arguments).

Cached results are shared objects: treat them as read-only.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd

from autorec.data._common import NON_ITEM_PAGE_PREFIX, format_time
from autorec.data._purchases import (
    DEFAULT_MIN_PURCHASES,
    build_protocol,
    build_purchase_log,
    default_purchase_split,
    parse_purchase_split,
    shift_month_back,
)
from autorec.data._readers import read_events
from autorec.data._sessions import (
    build_session_log,
    default_session_split,
    parse_session_split,
    session_samples,
    split_sessions,
)
from autorec.data.types import EventLog, PurchaseData, PurchaseLog, SessionData, SessionLog
from autorec.errors import AutorecError

__all__ = [
    "DEFAULT_MIN_RATING",
    "DEFAULT_SESSION_TIMEOUT_S",
    "clear_cache",
    "describe_events",
    "load_events",
    "load_purchase_data",
    "load_purchase_log",
    "load_session_data",
    "load_session_log",
    "write_events",
]

#: Ratings >= 3.5 (i.e. > 3 on MovieLens' 1-5 scale) count as purchases.
DEFAULT_MIN_RATING = 3.5
#: Inactivity timeout T that cuts a user's events into sessions (DRNN paper: 30 minutes).
DEFAULT_SESSION_TIMEOUT_S = 1800

_CACHE: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_CACHE_SIZE = 32
T = TypeVar("T")


def clear_cache() -> None:
    """Forget every cached load (tests, or after rewriting a file within the same second)."""
    _CACHE.clear()


def _path_key(path: str | Path | None) -> tuple[str, int]:
    if path is None:
        return ("synthetic", 0)
    p = Path(path).expanduser()
    if not p.exists():
        raise AutorecError(
            str(p), "no such file or folder", "check the path (or omit --data for synthetic data)"
        )
    resolved = p.resolve()
    if resolved.is_dir():
        mtime = max(
            [f.stat().st_mtime_ns for f in resolved.iterdir() if f.is_file()]
            + [resolved.stat().st_mtime_ns]
        )
    else:
        mtime = resolved.stat().st_mtime_ns
    return (str(resolved), mtime)


def _cached(key: tuple[Any, ...], make: Callable[[], T]) -> T:
    if key in _CACHE:
        _CACHE.move_to_end(key)
        value: T = _CACHE[key]
        return value
    value = make()
    _CACHE[key] = value
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return value


def load_events(
    path: str | Path | None,
    *,
    min_rating: float = DEFAULT_MIN_RATING,
    session_timeout_s: int = DEFAULT_SESSION_TIMEOUT_S,
    kind: Literal["sessions", "purchases"] | None = None,
    seed: int = 0,
) -> EventLog:
    """Read ``path`` (format auto-detected) into an :class:`EventLog`.

    ``path=None`` gives the built-in synthetic data: ``kind`` picks sessions (default) or
    purchases, generated with ``numpy.random.default_rng(seed)``. For a real file ``kind``
    and ``seed`` are ignored (the file decides its kind) and ``session_timeout_s`` is only
    used later, by :func:`load_session_data` (it is accepted here for a uniform signature).
    """
    del session_timeout_s
    if path is None:
        synth_kind = kind or "sessions"
        return _cached(
            ("events", "synthetic", synth_kind, seed), lambda: _synthetic(synth_kind, seed)
        )
    key = ("events", *_path_key(path), float(min_rating))
    return _cached(key, lambda: read_events(path, min_rating=min_rating))


def _synthetic(kind: Literal["sessions", "purchases"], seed: int) -> EventLog:
    from autorec.families import get_family

    log = get_family(kind).synthesize(np.random.default_rng(seed))
    return dataclasses.replace(log, source=f"synthetic:{kind}(seed={seed})")


def load_session_log(
    path: str | Path | None,
    *,
    min_rating: float = DEFAULT_MIN_RATING,
    session_timeout_s: int = DEFAULT_SESSION_TIMEOUT_S,
    seed: int = 0,
) -> SessionLog:
    """All sessions of ``path`` (``None`` = synthetic sessions) as one :class:`SessionLog`."""
    key = ("session_log", *_path_key(path), float(min_rating), int(session_timeout_s), seed)

    def make() -> SessionLog:
        events = load_events(path, min_rating=min_rating, kind="sessions", seed=seed)
        return build_session_log(events, session_timeout_s=session_timeout_s)

    return _cached(key, make)


def load_session_data(
    path: str | Path | None,
    split: str | None = None,
    *,
    seed: int = 0,
    min_rating: float = DEFAULT_MIN_RATING,
    session_timeout_s: int = DEFAULT_SESSION_TIMEOUT_S,
) -> SessionData:
    """The session protocol on ``path`` (``None`` = synthetic sessions).

    ``split`` is ``"VAL_START,TEST_START"`` (ISO dates; a session belongs to the period of its
    first page view). ``None`` = validation and test start at the 80 % and 90 % quantiles of
    session start times.
    """
    key = ("session_data", *_path_key(path), split, float(min_rating), int(session_timeout_s), seed)

    def make() -> SessionData:
        log = load_session_log(
            path, min_rating=min_rating, session_timeout_s=session_timeout_s, seed=seed
        )
        val_start, test_start = (
            default_session_split(log, where=str(path) if path is not None else None)
            if split is None
            else parse_session_split(split)
        )
        parts = split_sessions(log, val_start, test_start)
        source = load_events(path, min_rating=min_rating, kind="sessions", seed=seed).source
        return SessionData(
            split=parts,
            train_samples=session_samples(parts.train),
            valid_samples=session_samples(parts.valid),
            test_samples=session_samples(parts.test),
            source=source,
        )

    return _cached(key, make)


def load_purchase_log(
    path: str | Path | None, *, min_rating: float = DEFAULT_MIN_RATING, seed: int = 0
) -> PurchaseLog:
    """All purchases of ``path`` (``None`` = synthetic purchase histories)."""
    key = ("purchase_log", *_path_key(path), float(min_rating), seed)
    return _cached(
        key,
        lambda: build_purchase_log(
            load_events(path, min_rating=min_rating, kind="purchases", seed=seed)
        ),
    )


def load_purchase_data(
    path: str | Path | None,
    split: str | None = None,
    *,
    top_p: int | None = None,
    min_purchases: int = DEFAULT_MIN_PURCHASES,
    max_purchases: int | None = None,
    seed: int = 0,
    min_rating: float = DEFAULT_MIN_RATING,
    train_windows: int = 1,
    autoencoder: bool = False,
    need_validation: bool = True,
) -> PurchaseData:
    """The purchase-history protocol on ``path`` (``None`` = synthetic purchase histories).

    ``need_validation`` False (a baseline scored on the test protocol only): the validation
    protocol is built but not required to hold customers.

    ``split`` is ``"DX,DXY,DYZ,DZ"`` (ISO dates, half-open windows). ``None`` = dz the day
    after the last purchase, dyz = dz − 14 days, dxy = dyz − 14 days, dx the first day.
    ``PurchaseData.validation`` is the same protocol with the dates one month earlier.
    ``train_windows`` = K adds K − 1 rolling X_k → Y_k training windows to both protocols
    (:mod:`autorec.data._purchases`, step 6; uses only purchases before each protocol's dyz,
    as the baselines do); 1 = the paper's protocol. ``autoencoder`` adds one XY → XY
    auto-encoder training example per customer to both protocols (step 7; off by default).
    """
    key = (
        "purchase_data",
        *_path_key(path),
        split,
        top_p,
        min_purchases,
        max_purchases,
        float(min_rating),
        seed,
        train_windows,
        autoencoder,
        need_validation,
    )

    def make() -> PurchaseData:
        log = load_purchase_log(path, min_rating=min_rating, seed=seed)
        dates = default_purchase_split(log) if split is None else parse_purchase_split(split)
        protocol = build_protocol(
            log,
            dates,
            top_p=top_p,
            min_purchases=min_purchases,
            max_purchases=max_purchases,
            train_windows=train_windows,
            autoencoder=autoencoder,
        )
        validation = build_protocol(
            log,
            shift_month_back(dates),
            top_p=top_p,
            min_purchases=min_purchases,
            max_purchases=max_purchases,
            where="--split (validation, one month earlier)",
            train_windows=train_windows,
            autoencoder=autoencoder,
            check=need_validation,
        )
        source = load_events(path, min_rating=min_rating, kind="purchases", seed=seed).source
        return PurchaseData(protocol=protocol, validation=validation, log=log, source=source)

    return _cached(key, make)


def describe_events(
    events: EventLog, *, session_timeout_s: int = DEFAULT_SESSION_TIMEOUT_S
) -> dict[str, Any]:
    """Summary counts of an event log (what ``autorec data inspect`` prints)."""
    frame = events.frame
    views = frame["event"] == "view"
    buys = frame["event"] == "buy"
    ids = frame["item_id"]
    item_like = ~ids.str.startswith(NON_ITEM_PAGE_PREFIX).fillna(False)
    info: dict[str, Any] = {
        "source": events.source,
        "kind": events.kind,
        "rows": len(frame),
        "source_rows": int(frame.attrs.get("source_rows", len(frame))),
        "ignored_rows": dict(frame.attrs.get("ignored", {})),
        "users": int(frame["user_id"].nunique(dropna=True)),
        "items": int(ids[item_like].nunique()),
        "views": int(views.sum()),
        "purchases": int(buys.sum()),
        "first": format_time(int(frame["timestamp"].min())),
        "last": format_time(int(frame["timestamp"].max())),
    }
    if bool(views.any()):
        log = build_session_log(events, session_timeout_s=session_timeout_s)
        info["sessions"] = log.n_sessions
        info["pages"] = len(log.pages)
        info["buying_sessions"] = int((np.diff(log.buy_ptr) > 0).sum())
        info["samples"] = int(np.diff(log.page_ptr)[np.diff(log.buy_ptr) > 0].sum())
    else:
        info["sessions"] = int(frame["session_id"].nunique(dropna=True))
    return info


def write_events(events: EventLog, out: str | Path) -> Path:
    """Write a generic events file that :func:`load_events` reads back: CSV (``.csv``),
    Parquet (``.parquet``/``.pq``) or JSON lines (``.jsonl``/``.ndjson``), by extension.

    Columns: ``user_id``, ``session_id`` (only where present), ``item_id``, ``timestamp``
    (ISO-8601 UTC text in CSV/JSON lines, a UTC timestamp in Parquet), ``event``, and
    ``rating`` / ``dwell`` where any value is present.
    """
    out = Path(out).expanduser()
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq", ".jsonl", ".ndjson"):
        raise AutorecError(
            str(out),
            f"cannot write format {suffix or 'none'!r}",
            "end the file name with .csv, .parquet or .jsonl",
        )
    if not out.parent.exists():
        raise AutorecError(
            str(out),
            f"folder {out.parent} does not exist",
            "create the folder first or write elsewhere",
        )
    frame = events.frame
    columns = ["item_id", "timestamp", "event"]
    for col in ("session_id", "user_id"):
        if bool(frame[col].notna().any()):
            columns.insert(0, col)
    for col in ("rating", "dwell"):
        if bool(frame[col].notna().any()):
            columns.append(col)
    table = frame[columns].copy()
    stamps = pd.to_datetime(table["timestamp"], unit="s", utc=True)
    if suffix in (".parquet", ".pq"):
        table["timestamp"] = stamps
        table.to_parquet(out, index=False)
    else:
        table["timestamp"] = stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        if suffix == ".csv":
            table.to_csv(out, index=False)
        else:
            table.to_json(out, orient="records", lines=True)
    return out


def load_family_data(
    family: str,
    path: str | Path | None,
    split: str | None,
    *,
    seed: int = 0,
    train_windows: int = 1,
    autoencoder: bool = False,
) -> SessionData | PurchaseData:
    """The data a genome family trains on: sessions for ``drnn``, purchase histories for
    ``predictor`` (``path`` None: the built-in synthetic data of that kind). ``train_windows``
    and ``autoencoder`` shape the purchase-history training examples (see
    :func:`load_purchase_data`); sessions ignore them."""
    from autorec.families import get_family

    data: SessionData | PurchaseData = get_family(family).load_data(
        path, split, seed=seed, train_windows=train_windows, autoencoder=autoencoder
    )
    return data
