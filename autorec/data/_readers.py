"""Readers: every supported source becomes one normalised :class:`~autorec.data.types.EventLog`.

Formats (detected from the path, see :func:`detect_format`):

========================  =================================================================
``events-csv``            generic events, ``*.csv`` / ``*.tsv`` (optionally ``.gz`` etc.)
``events-parquet``        generic events, ``*.parquet`` / ``*.pq``
``events-jsonl``          generic events, JSON lines ``*.jsonl`` / ``*.ndjson`` / ``*.json``
``movielens-udata``       MovieLens 100K ``u.data`` (tab separated, no header)
``movielens-dat``         MovieLens 1M/10M ``ratings.dat`` (``::`` separated, no header)
``movielens-csv``         MovieLens ``ratings.csv`` (``userId,movieId,rating,timestamp``)
``recbole``               RecBole atomic ``*.inter`` (header ``user_id:token item_id:token ...``)
``yoochoose``             a folder with ``clicks.csv`` + ``buys.csv`` (RecSys Challenge 2015)
========================  =================================================================

Generic events need ``item_id`` and ``timestamp`` (ISO-8601, naive = UTC, or unix seconds;
numbers above 1e11 are taken as unix milliseconds); ``user_id``, ``session_id``, ``event``,
``rating`` and ``dwell`` (seconds) are optional. Column names are matched case-insensitively,
with a few aliases (``item``/``product_id``/``movieId``, ``user``/``userId``/``customer_id``,
``session``, ``time``/``ts``, ``event_type``/``action``). ``event`` values ``view``/``click``
are page views, ``buy``/``purchase``/``transaction`` are purchases; other values (e.g.
``addtocart``) are ignored and counted. Without an ``event`` column every row is a purchase,
except that with a ``rating`` column only ratings ``>= min_rating`` are purchases (default
3.5, i.e. "ratings > 3 count as purchases", soft-split paper Appendix A); lower ratings are
dropped. Rating files therefore have no views and give ``kind == "purchases"``.

Dropped rows are counted in ``EventLog.frame.attrs``: ``source_rows`` (rows read) and
``ignored`` (reason -> count), which ``autorec data inspect`` shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from autorec.data.types import EVENT_COLUMNS, EventLog, IntArray
from autorec.errors import AutorecError

__all__ = ["FORMATS", "detect_format", "read_events"]

FORMATS = (
    "events-csv",
    "events-parquet",
    "events-jsonl",
    "movielens-udata",
    "movielens-dat",
    "movielens-csv",
    "recbole",
    "yoochoose",
)

_COMPRESSION = (".gz", ".bz2", ".zip", ".xz", ".zst")

_ALIASES: dict[str, tuple[str, ...]] = {
    "item_id": (
        "item_id",
        "item",
        "itemid",
        "product_id",
        "productid",
        "product",
        "movie_id",
        "movieid",
        "article_id",
    ),
    "user_id": (
        "user_id",
        "user",
        "userid",
        "customer_id",
        "customerid",
        "customer",
        "visitor_id",
        "visitorid",
    ),
    "session_id": ("session_id", "session", "sessionid"),
    "timestamp": ("timestamp", "time", "ts", "datetime", "date", "event_time"),
    "event": ("event", "event_type", "action", "type"),
    "rating": ("rating", "score"),
    "dwell": ("dwell", "dwell_s", "dwell_time"),
}

_VIEW_WORDS = ("view", "click", "page_view", "pageview")
_BUY_WORDS = ("buy", "purchase", "transaction")

_FORMAT_FIX = (
    "give a generic events file (.csv, .tsv, .parquet, .jsonl), MovieLens u.data / "
    "ratings.dat / ratings.csv, a RecBole .inter file, or a folder with clicks.csv + buys.csv"
)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for comp in _COMPRESSION:
        if name.endswith(comp):
            name = name[: -len(comp)]
    return Path(name).suffix


def detect_format(path: Path) -> str:
    """The format of ``path`` (one of :data:`FORMATS`) or an :class:`AutorecError`."""
    if not path.exists():
        raise AutorecError(
            str(path),
            "no such file or folder",
            "check the path (or omit --data for synthetic data)",
        )
    if path.is_dir():
        if (path / "clicks.csv").is_file() and (path / "buys.csv").is_file():
            return "yoochoose"
        for name in ("u.data", "ratings.dat", "ratings.csv"):
            if (path / name).is_file():
                return detect_format(path / name)
        inters = sorted(path.glob("*.inter"))
        if len(inters) == 1:
            return "recbole"
        raise AutorecError(
            str(path),
            "folder holds no clicks.csv + buys.csv, u.data, ratings.dat, ratings.csv "
            "or single .inter file",
            "point --data at the events file itself",
        )
    name = path.name.lower()
    suffix = _suffix(path)
    if name == "u.data":
        return "movielens-udata"
    if name.startswith("ratings") and suffix == ".dat":
        return "movielens-dat"
    if suffix == ".inter":
        return "recbole"
    if suffix in (".csv", ".tsv", ".txt"):
        if name.startswith("ratings") and suffix == ".csv":
            head = pd.read_csv(path, nrows=0)
            if {"userid", "movieid"} <= {str(c).lower() for c in head.columns}:
                return "movielens-csv"
        return "events-csv"
    if suffix in (".parquet", ".pq"):
        return "events-parquet"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "events-jsonl"
    raise AutorecError(str(path), f"unknown data format (suffix {suffix or 'none'!r})", _FORMAT_FIX)


def _resolve_file(path: Path, fmt: str) -> Path:
    if not path.is_dir():
        return path
    if fmt == "recbole":
        return sorted(path.glob("*.inter"))[0]
    for name in ("u.data", "ratings.dat", "ratings.csv"):
        if (path / name).is_file():
            return path / name
    return path


def read_events(path: str | Path, *, min_rating: float = 3.5) -> EventLog:
    """Read ``path`` (any supported format) into a normalised :class:`EventLog`."""
    path = Path(path).expanduser()
    fmt = detect_format(path)
    file = _resolve_file(path, fmt)
    where = str(file)
    try:
        raw = _read_raw(file, fmt)
    except AutorecError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise AutorecError(where, f"cannot read as {fmt} ({first})", _FORMAT_FIX) from err
    frame = normalise_events(raw, where, min_rating=min_rating)
    kind: Literal["sessions", "purchases"] = (
        "sessions" if bool((frame["event"] == "view").any()) else "purchases"
    )
    return EventLog(frame=frame, source=f"{fmt}:{path}", kind=kind)


def _read_raw(file: Path, fmt: str) -> pd.DataFrame:
    if fmt == "yoochoose":
        return _read_yoochoose(file)
    if fmt == "movielens-udata":
        return pd.read_csv(
            file,
            sep="\t",
            header=None,
            names=["user_id", "item_id", "rating", "timestamp"],
            dtype=str,
        )
    if fmt == "movielens-dat":
        # "1::1193::5::978300760": splitting on ':' leaves empty columns between the parts,
        # which keeps the fast C parser (sep='::' would need the python engine).
        parts = pd.read_csv(file, sep=":", header=None, dtype=str)
        if parts.shape[1] != 7:
            raise AutorecError(
                str(file),
                f"expected 4 '::'-separated fields, found {(parts.shape[1] + 1) // 2}",
                "use UserID::MovieID::Rating::Timestamp rows",
            )
        raw = parts.iloc[:, [0, 2, 4, 6]]
        raw.columns = ["user_id", "item_id", "rating", "timestamp"]
        return raw
    if fmt == "recbole":
        raw = pd.read_csv(file, sep="\t", dtype=str)
        raw.columns = [str(c).split(":", 1)[0] for c in raw.columns]
        return raw
    if fmt in ("events-csv", "movielens-csv"):
        sep = "\t" if _suffix(file) == ".tsv" else ","
        return pd.read_csv(file, sep=sep, dtype=str)
    if fmt == "events-parquet":
        return pd.read_parquet(file)
    if fmt == "events-jsonl":
        try:
            return pd.read_json(file, lines=True, dtype=False)
        except ValueError:
            return pd.read_json(file, lines=False, dtype=False)
    raise AutorecError(str(file), f"unknown data format {fmt!r}", _FORMAT_FIX)


def _read_yoochoose(folder: Path) -> pd.DataFrame:
    frames = []
    for name, event, names in (
        ("clicks.csv", "view", ["session_id", "timestamp", "item_id", "category"]),
        ("buys.csv", "buy", ["session_id", "timestamp", "item_id", "price", "quantity"]),
    ):
        file = folder / name
        head = pd.read_csv(file, nrows=0, dtype=str)
        has_header = any(
            str(c).lower() in ("session_id", "timestamp", "item_id") for c in head.columns
        )
        part = pd.read_csv(
            file,
            dtype=str,
            header=0 if has_header else None,
            names=None if has_header else names,
        )
        part.columns = [str(c).lower() for c in part.columns]
        missing = [c for c in ("session_id", "timestamp", "item_id") if c not in part.columns]
        if missing:
            raise AutorecError(
                str(file),
                f"missing column(s) {', '.join(missing)}",
                f"use the YOOCHOOSE layout: {','.join(names)}",
            )
        part = part[["session_id", "timestamp", "item_id"]].copy()
        part["event"] = event
        frames.append(part)
    return pd.concat(frames, ignore_index=True)


def _map_columns(raw: pd.DataFrame, where: str) -> dict[str, str]:
    lower: dict[str, str] = {}
    for col in raw.columns:
        lower.setdefault(str(col).strip().lower(), col)
    mapping: dict[str, str] = {}
    for field, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in lower:
                mapping[field] = lower[alias]
                break
    cols = ", ".join(str(c) for c in raw.columns) or "none"
    if "item_id" not in mapping:
        raise AutorecError(
            where,
            f"no item column (columns: {cols})",
            "name the item column item_id (or item, product_id, movieId)",
        )
    if "timestamp" not in mapping:
        raise AutorecError(
            where,
            f"no timestamp column (columns: {cols})",
            "add a timestamp column (ISO-8601 or unix seconds)",
        )
    return mapping


def _ids(series: pd.Series) -> pd.Series:
    out = series.astype("string").str.strip()
    return out.mask(out == "", pd.NA)


def parse_timestamps(series: pd.Series, where: str) -> IntArray:
    """Unix seconds (int64) of ISO-8601 text, datetimes or unix seconds (ms above 1e11)."""
    if len(series) == 0:
        return np.zeros(0, dtype=np.int64)
    fix = "use ISO-8601 (2014-04-02T11:11:12Z) or unix seconds"
    null = series.isna().to_numpy()
    if null.any():
        row = int(np.flatnonzero(null)[0])
        raise AutorecError(
            f"{where}: column timestamp", f"missing value in data row {row + 1}", fix
        )
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        stamps = pd.to_datetime(series, utc=True)
        return _seconds(stamps)
    try:  # fast path: all numbers (unix seconds, or milliseconds above 1e11)
        numbers = pd.to_numeric(series).to_numpy(dtype=np.float64)
        return _unix(numbers)
    except (ValueError, TypeError):
        pass
    text = series.astype("string")
    stamps = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    bad = stamps.isna().to_numpy()
    out = np.zeros(len(series), dtype=np.int64)
    out[~bad] = _seconds(stamps[~bad])
    if bad.any():  # a mix of ISO-8601 text and numbers, or unparsable values
        numeric = pd.to_numeric(text[bad], errors="coerce")
        still = numeric.isna().to_numpy()
        if still.any():
            row = int(np.flatnonzero(bad)[np.flatnonzero(still)[0]])
            raise AutorecError(
                f"{where}: column timestamp",
                f"cannot parse {series.iloc[row]!r} (data row {row + 1})",
                fix,
            )
        out[bad] = _unix(numeric.to_numpy(dtype=np.float64))
    return out


def _unix(values: npt.NDArray[np.float64]) -> IntArray:
    if len(values) and np.median(np.abs(values)) > 1e11:  # unix milliseconds
        values = values / 1000.0
    seconds: IntArray = np.floor(values).astype(np.int64)
    return seconds


def _seconds(stamps: pd.Series) -> IntArray:
    delta = stamps - pd.Timestamp(0, tz="UTC")
    return np.asarray((delta // pd.Timedelta(seconds=1)).to_numpy(), dtype=np.int64)


def _numbers(series: pd.Series, where: str, field: str) -> npt.NDArray[np.float64]:
    if not pd.api.types.is_numeric_dtype(series.dtype):
        series = series.astype("string").str.strip()
        series = series.mask(series == "", pd.NA)
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna() & series.notna()
    if bool(bad.any()):
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise AutorecError(
            f"{where}: column {field}",
            f"not a number: {series.iloc[row]!r} (data row {row + 1})",
            f"write {field} as a number",
        )
    return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan))


def normalise_events(raw: pd.DataFrame, where: str, *, min_rating: float = 3.5) -> pd.DataFrame:
    """Map a raw table onto :data:`EVENT_COLUMNS` (see the module docstring for the rules)."""
    source_rows = len(raw)
    cols = _map_columns(raw, where)
    n = len(raw)
    user = (
        _ids(raw[cols["user_id"]])
        if "user_id" in cols
        else pd.Series(pd.NA, index=raw.index, dtype="string")
    )
    session = (
        _ids(raw[cols["session_id"]])
        if "session_id" in cols
        else pd.Series(pd.NA, index=raw.index, dtype="string")
    )
    item = _ids(raw[cols["item_id"]])
    rating = (
        _numbers(raw[cols["rating"]], where, "rating") if "rating" in cols else np.full(n, np.nan)
    )
    dwell = _numbers(raw[cols["dwell"]], where, "dwell") if "dwell" in cols else np.full(n, np.nan)
    stamps = parse_timestamps(raw[cols["timestamp"]].reset_index(drop=True), where)
    ignored: dict[str, int] = {}
    keep = np.ones(n, dtype=bool)
    if "event" in cols:
        words = raw[cols["event"]].astype("string").str.strip().str.lower()
        is_view = words.isin(_VIEW_WORDS).fillna(False).to_numpy(dtype=bool)
        is_buy = words.isin(_BUY_WORDS).fillna(False).to_numpy(dtype=bool)
        other = ~(is_view | is_buy)
        if other.any():
            kinds = sorted({str(v) for v in words[other].dropna().unique()})[:5]
            ignored[f"event not view/buy ({', '.join(kinds) or 'empty'})"] = int(other.sum())
            keep &= ~other
        event = np.where(is_view, "view", "buy")
    else:
        event = np.full(n, "buy", dtype=object)
        if "rating" in cols:
            low = ~(rating >= min_rating)
            if low.any():
                ignored[f"rating below min_rating {min_rating:g}"] = int(low.sum())
                keep &= ~low
    no_item = item.isna().to_numpy()
    if no_item.any():
        ignored["empty item_id"] = int((no_item & keep).sum())
        keep &= ~no_item
    frame = pd.DataFrame(
        {
            "user_id": user.to_numpy()[keep],
            "session_id": session.to_numpy()[keep],
            "item_id": item.to_numpy()[keep],
            "timestamp": stamps[keep],
            "event": pd.array(np.asarray(event, dtype=object)[keep], dtype="string"),
            "rating": rating[keep],
            "dwell": dwell[keep],
        },
        columns=list(EVENT_COLUMNS),
    )
    for col in ("user_id", "session_id", "item_id"):
        frame[col] = frame[col].astype("string")
    if frame.empty:
        detail = "; ".join(f"{k}: {v}" for k, v in ignored.items()) or "the file has no data rows"
        raise AutorecError(
            where,
            f"no events left after filtering {source_rows} rows ({detail})",
            "check the event/rating columns or lower --min-rating",
        )
    frame = frame.sort_values("timestamp", kind="stable", ignore_index=True)
    frame.attrs["source_rows"] = source_rows
    frame.attrs["ignored"] = ignored
    return frame
