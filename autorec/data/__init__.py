"""The data layer: readers, sessions, purchase histories, protocols and synthetic data.

``from autorec.data import load_session_data, load_purchase_data, ...`` — see
:mod:`autorec.data.types` for the data contract and the private modules' docstrings for the
exact rules (formats, session grouping, dwell, protocol windows, defaults).
"""

from autorec.data._common import NON_ITEM_PAGE_PREFIX, encode_ids, format_time, parse_date
from autorec.data._load import (
    DEFAULT_MIN_RATING,
    DEFAULT_SESSION_TIMEOUT_S,
    clear_cache,
    describe_events,
    load_events,
    load_family_data,
    load_purchase_data,
    load_purchase_log,
    load_session_data,
    load_session_log,
    write_events,
)
from autorec.data._purchases import (
    DEFAULT_MIN_PURCHASES,
    DEFAULT_WINDOW_DAYS,
    build_protocol,
    build_purchase_log,
    default_purchase_split,
    parse_purchase_split,
    shift_month_back,
)
from autorec.data._readers import FORMATS, detect_format, read_events
from autorec.data._sessions import (
    DEFAULT_SESSION_QUANTILES,
    build_session_log,
    default_session_split,
    parse_session_split,
    session_samples,
    split_sessions,
    subset_sessions,
)
from autorec.data._training import (
    ALL_WINDOWS,
    DEFAULT_PROTOCOL,
    PROTOCOLS,
    training_protocol,
)
from autorec.data.synthetic import synthesize_purchases, synthesize_sessions
from autorec.data.types import (
    EVENT_COLUMNS,
    CustomerExamples,
    EventLog,
    IdMap,
    IntArray,
    PurchaseData,
    PurchaseLog,
    PurchaseProtocol,
    SessionData,
    SessionLog,
    SessionSamples,
    SessionSplit,
    SplitDates,
)

__all__ = [
    "ALL_WINDOWS",
    "DEFAULT_MIN_PURCHASES",
    "DEFAULT_MIN_RATING",
    "DEFAULT_PROTOCOL",
    "DEFAULT_SESSION_QUANTILES",
    "DEFAULT_SESSION_TIMEOUT_S",
    "DEFAULT_WINDOW_DAYS",
    "EVENT_COLUMNS",
    "FORMATS",
    "NON_ITEM_PAGE_PREFIX",
    "PROTOCOLS",
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
    "build_protocol",
    "build_purchase_log",
    "build_session_log",
    "clear_cache",
    "default_purchase_split",
    "default_session_split",
    "describe_events",
    "detect_format",
    "encode_ids",
    "format_time",
    "load_events",
    "load_family_data",
    "load_purchase_data",
    "load_purchase_log",
    "load_session_data",
    "load_session_log",
    "parse_date",
    "parse_purchase_split",
    "parse_session_split",
    "read_events",
    "session_samples",
    "shift_month_back",
    "split_sessions",
    "subset_sessions",
    "synthesize_purchases",
    "synthesize_sessions",
    "training_protocol",
    "write_events",
]
