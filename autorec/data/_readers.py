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
dropped. Rating files therefore have no views: their ``kind`` is ``"purchases"``.

Dropped rows are counted in ``EventLog.frame.attrs``: ``source_rows`` (rows read) and
``ignored`` (reason -> count), which ``autorec data inspect`` shows.
"""

from __future__ import annotations

import logging
import lzma
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from autorec.data.types import EVENT_COLUMNS, EventLog, IntArray
from autorec.errors import AutorecError, shown

__all__ = ["FORMATS", "detect_format", "read_events"]

logger = logging.getLogger(__name__)

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
        for have, lack in (("clicks.csv", "buys.csv"), ("buys.csv", "clicks.csv")):
            if (path / have).is_file():
                raise AutorecError(
                    str(path),
                    f"holds {have} but no {lack} (a YOOCHOOSE folder needs both)",
                    f"add {lack} (it may be empty but for its header), or point --data at a file",
                )
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
    except (
        ValueError,
        OSError,
        EOFError,  # a truncated .gz/.bz2/.xz (click would print just "Aborted.")
        zipfile.BadZipFile,
        zlib.error,
        lzma.LZMAError,
        UnicodeDecodeError,
        pd.errors.ParserError,
    ) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        packed = _suffix(file) != file.suffix.lower() and not file.is_dir()
        what = (
            "the compressed file is damaged or not of its kind"
            if packed
            and isinstance(err, (OSError, EOFError, zipfile.BadZipFile, zlib.error, lzma.LZMAError))
            else f"cannot read as {fmt}"
        )
        raise AutorecError(
            where, f"{what} ({type(err).__name__}: {first[:200]})", _FORMAT_FIX
        ) from None
    frame = normalise_events(raw, where, min_rating=min_rating)
    kind: Literal["sessions", "purchases"] = (
        "sessions" if bool((frame["event"] == "view").any()) else "purchases"
    )
    return EventLog(frame=frame, source=f"{fmt}:{path}", kind=kind)


#: Only an empty field is missing: pandas would also drop ids such as NA, NaN, null or None.
_TEXT_IDS: dict[str, Any] = {"keep_default_na": False, "na_values": [""]}


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
            **_TEXT_IDS,
        )
    if fmt == "movielens-dat":
        # "1::1193::5::978300760": splitting on ':' leaves empty columns between the parts,
        # which keeps the fast C parser (sep='::' would need the python engine).
        parts = pd.read_csv(file, sep=":", header=None, dtype=str, **_TEXT_IDS)
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
        raw = pd.read_csv(file, sep="\t", dtype=str, **_TEXT_IDS)
        raw.columns = [str(c).split(":", 1)[0] for c in raw.columns]
        return raw
    if fmt in ("events-csv", "movielens-csv"):
        sep = "\t" if _suffix(file) == ".tsv" else ","
        return pd.read_csv(file, sep=sep, dtype=str, **_TEXT_IDS)
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
            **_TEXT_IDS,
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
        if len(raw.columns) == 1 and "," in str(raw.columns[0]):
            raise AutorecError(
                where,
                f"reads as one tab-separated column {shown(str(raw.columns[0]))}, "
                "but its fields are separated by commas",
                "rename the file to .csv (or separate the fields with tabs)",
            )
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


def _ids(series: pd.Series, where: str, field: str) -> pd.Series:
    """Ids as text, byte-exact (no stripping; ``NA``/``null`` are ids like any other), an
    empty value being missing. An id longer than :data:`MAX_ID_CHARS` is refused."""
    out = series.astype("string")
    out = out.mask(out == "", pd.NA)
    lengths = out.str.len().fillna(0).to_numpy()
    if len(lengths) and lengths.max() > MAX_ID_CHARS and os.environ.get(SOFT_LIMITS_ENV) != "1":
        row = int(np.argmax(lengths))
        raise AutorecError(
            f"{where}: column {field}",
            f"id of {int(lengths[row]):,} characters in data row {row + 1} "
            f"(soft limit {MAX_ID_CHARS:,})",
            f"shorten the ids, or set {SOFT_LIMITS_ENV}=1 to allow them on purpose",
        )
    return out


#: Longest id accepted (a longer one is almost surely a broken file, and every id is held in
#: fixed-width arrays): a soft limit, lifted by ``AUTOREC_NO_SOFT_LIMITS=1``.
MAX_ID_CHARS = 1024
SOFT_LIMITS_ENV = "AUTOREC_NO_SOFT_LIMITS"


#: Timestamps this library handles (unix seconds): 1900-01-01 to 2262-04-11, the range of
#: datetime64[ns] that the session/purchase code converts to. Rows outside are skipped.
MIN_SECONDS = -2_208_988_800
MAX_SECONDS = 9_223_286_400
_TIME_FIX = "use ISO-8601 (2014-04-02T11:11:12Z) or unix seconds"


def parse_timestamps(series: pd.Series, where: str) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Unix seconds (int64) of ISO-8601 text, datetimes or unix numbers, each value on its
    own (a number above 1e11 is milliseconds), and the mask of values outside
    [:data:`MIN_SECONDS`, :data:`MAX_SECONDS`) (infinite or huge numbers, year 3000, ...),
    which the caller skips and counts. A value that is no time at all is an error."""
    n = len(series)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    null = series.isna().to_numpy()
    if null.any():
        row = int(np.flatnonzero(null)[0])
        raise AutorecError(
            f"{where}: column timestamp", f"missing value in data row {row + 1}", _TIME_FIX
        )
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise AutorecError(
            f"{where}: column timestamp",
            f"holds {dtype} values, not points in time",
            f"store datetimes or unix seconds; {_TIME_FIX}",
        )
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _range_checked(_seconds(pd.to_datetime(series, utc=True)).astype(np.float64))
    numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(numbers) if not pd.api.types.is_numeric_dtype(dtype) else np.zeros(n, bool)
    values = _unix(numbers)
    if bad.any():  # ISO-8601 text (maybe mixed with numbers)
        text = series.astype("string")[bad]
        stamps = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
        parsed = stamps.notna().to_numpy()
        idx = np.flatnonzero(bad)
        values[idx[parsed]] = _seconds(stamps[parsed]).astype(np.float64)
        if not parsed.all():
            row = int(idx[np.flatnonzero(~parsed)[0]])
            raise AutorecError(
                f"{where}: column timestamp",
                f"cannot parse {shown(series.iloc[row])} (data row {row + 1})",
                _TIME_FIX,
            )
    return _range_checked(values)


def _range_checked(values: npt.NDArray[np.float64]) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    with np.errstate(invalid="ignore"):
        out = ~(np.isfinite(values) & (values >= MIN_SECONDS) & (values < MAX_SECONDS))
    seconds = np.floor(np.where(out, 0.0, values)).astype(np.int64)
    return seconds, out


def _unix(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Unix seconds of unix numbers, per value: above 1e11 (year 5138 in seconds) a number
    is taken as milliseconds."""
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(values) > 1e11, values / 1000.0, values)


def _seconds(stamps: pd.Series) -> IntArray:
    """Unix seconds of tz-aware datetimes, at second resolution (no nanosecond overflow:
    pandas may hold dates up to year 9999)."""
    naive = stamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    return np.asarray(naive.astype("datetime64[s]").astype(np.int64), dtype=np.int64)


def _numbers(series: pd.Series, where: str, field: str) -> npt.NDArray[np.float64]:
    if not pd.api.types.is_numeric_dtype(series.dtype):
        series = series.astype("string").str.strip()
        series = series.mask(series == "", pd.NA)
        series = series.mask(series.str.lower() == "nan", pd.NA)  # NaN: counted by the caller
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


def _count_rows(
    ignored: dict[str, int],
    keep: npt.NDArray[np.bool_],
    mask: npt.NDArray[np.bool_],
    why: str,
    where: str,
) -> None:
    """Count the kept rows ``mask`` drops under ``why`` (naming the first) and warn."""
    hit = mask & keep
    if hit.any():
        first = int(np.flatnonzero(hit)[0])
        ignored[f"{why} (first: data row {first + 1})"] = int(hit.sum())
        logger.warning("%s: %d rows with %s skipped", where, int(hit.sum()), why)
        keep &= ~mask


def normalise_events(raw: pd.DataFrame, where: str, *, min_rating: float = 3.5) -> pd.DataFrame:
    """Map a raw table onto :data:`EVENT_COLUMNS` (see the module docstring for the rules)."""
    source_rows = len(raw)
    cols = _map_columns(raw, where)
    n = len(raw)
    user = (
        _ids(raw[cols["user_id"]], where, "user_id")
        if "user_id" in cols
        else pd.Series(pd.NA, index=raw.index, dtype="string")
    )
    session = (
        _ids(raw[cols["session_id"]], where, "session_id")
        if "session_id" in cols
        else pd.Series(pd.NA, index=raw.index, dtype="string")
    )
    item = _ids(raw[cols["item_id"]], where, "item_id")
    rating = (
        _numbers(raw[cols["rating"]], where, "rating") if "rating" in cols else np.full(n, np.nan)
    )
    dwell = _numbers(raw[cols["dwell"]], where, "dwell") if "dwell" in cols else np.full(n, np.nan)
    stamps, out_of_range = parse_timestamps(raw[cols["timestamp"]].reset_index(drop=True), where)
    ignored: dict[str, int] = {}
    keep = ~out_of_range
    if out_of_range.any():
        first = int(np.flatnonzero(out_of_range)[0])
        ignored[f"timestamp outside 1900..2262 (first: data row {first + 1})"] = int(
            out_of_range.sum()
        )
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
            _count_rows(ignored, keep, np.isnan(rating), "rating missing or NaN", where)
            with np.errstate(invalid="ignore"):
                _count_rows(ignored, keep, rating < 0, "rating negative", where)
                low = ~(rating >= min_rating)
            if (low & keep).any():
                ignored[f"rating below min_rating {min_rating:g}"] = int((low & keep).sum())
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
    duplicates = int(
        frame.duplicated(subset=["user_id", "session_id", "item_id", "timestamp", "event"]).sum()
    )
    if duplicates:  # kept (a repeat purchase can be real), but said
        logger.warning("%s: %d rows repeat an earlier row exactly (kept)", where, duplicates)
    frame = frame.sort_values("timestamp", kind="stable", ignore_index=True)
    frame.attrs["duplicate_rows"] = duplicates
    frame.attrs["source_rows"] = source_rows
    frame.attrs["ignored"] = ignored
    return frame
