"""Sessions: grouping (session id / inactivity timeout), dwell, buys, prefixes, split."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autorec.data import (
    EventLog,
    build_session_log,
    default_session_split,
    load_session_data,
    parse_session_split,
    read_events,
    session_samples,
    split_sessions,
    subset_sessions,
)
from autorec.data._readers import normalise_events
from autorec.errors import AutorecError


def _log(rows: list[tuple[object, ...]], columns: str) -> EventLog:
    raw = pd.DataFrame(rows, columns=columns.split(","), dtype=object).astype("string")
    frame = normalise_events(raw, "test.csv")
    kind = "sessions" if (frame["event"] == "view").any() else "purchases"
    return EventLog(frame=frame, source="test.csv", kind=kind)  # type: ignore[arg-type]


def test_timeout_cuts_user_sessions_and_buys_join_the_active_one() -> None:
    # u1: views at 0, 100, buy at 200; 2001 s later (> 1800) a new session: view, view.
    # u2: one view at 50.
    events = _log(
        [
            ("u1", "a", 0, "view"),
            ("u1", "b", 100, "view"),
            ("u1", "b", 200, "buy"),
            ("u1", "c", 2201, "view"),
            ("u1", "page:cat", 2260, "view"),
            ("u2", "a", 50, "view"),
        ],
        "user_id,item_id,timestamp,event",
    )
    log = build_session_log(events, session_timeout_s=1800)
    assert log.n_sessions == 3
    assert log.session_ids.tolist() == ["u1#0", "u2#0", "u1#1"]  # ordered by first view
    assert log.start.tolist() == [0, 50, 2201]
    assert log.page_ptr.tolist() == [0, 2, 3, 5]
    assert log.pages.decode(log.page).tolist() == ["a", "b", "a", "c", "page:cat"]
    assert log.buy_ptr.tolist() == [0, 1, 1, 1]
    assert log.items.decode(log.buy).tolist() == ["b"]
    assert log.buy_time.tolist() == [200]
    # Dwell θ = seconds to the next view of the session; the last view gets 0.
    assert log.dwell.tolist() == [100.0, 0.0, 0.0, 59.0, 0.0]
    assert log.users.decode(log.user).tolist() == ["u1", "u2", "u1"]
    # Category pages show no item; product pages map to their item.
    page_item = dict(zip(log.pages.raw.tolist(), log.page_item.tolist(), strict=True))
    assert page_item["page:cat"] == -1
    assert log.items.raw[page_item["c"]] == "c"
    # A shorter timeout cuts u1's first session at every 100 s gap: [0], [100], [200: the
    # buy alone, dropped as it has no view], [2201, 2260] → 3 sessions of u1 with views + u2.
    short = build_session_log(events, session_timeout_s=60)
    assert short.session_ids.tolist() == ["u1#0", "u2#0", "u1#1", "u1#3"]
    assert short.buy_ptr[-1] == 0


def test_session_ids_are_kept_whatever_the_gap_and_given_dwell_wins() -> None:
    events = _log(
        [
            ("s1", "a", 0, "view", ""),
            ("s1", "b", 5000, "view", "12"),
            ("s1", "c", 9000, "view", ""),
            ("s2", "c", 1, "view", ""),
        ],
        "session_id,item_id,timestamp,event,dwell",
    )
    log = build_session_log(events)
    assert log.session_ids.tolist() == ["s1", "s2"]
    assert log.dwell.tolist() == [5000.0, 12.0, 0.0, 0.0]
    assert log.user.tolist() == [-1, -1]


def test_views_without_any_id_and_purchase_logs_are_errors() -> None:
    with pytest.raises(AutorecError, match="neither a session id nor a user id"):
        build_session_log(_log([("a", 1, "view")], "item_id,timestamp,event"))
    with pytest.raises(AutorecError, match="no page views"):
        build_session_log(_log([("u", "a", 1)], "user_id,item_id,timestamp"))


def _three_sessions() -> EventLog:
    # s1: 3 views, buys x;  s2: 2 views, no buy;  s3: 2 views, buys y and z.
    return _log(
        [
            ("s1", "a", 10, "view"),
            ("s1", "x", 20, "view"),
            ("s1", "x", 30, "view"),
            ("s1", "x", 40, "buy"),
            ("s2", "a", 100, "view"),
            ("s2", "b", 110, "view"),
            ("s3", "y", 200, "view"),
            ("s3", "z", 210, "view"),
            ("s3", "y", 220, "buy"),
            ("s3", "z", 221, "buy"),
        ],
        "session_id,item_id,timestamp,event",
    )


def test_prefix_samples_every_prefix_of_buying_sessions() -> None:
    log = build_session_log(_three_sessions())
    samples = session_samples(log)
    # s1 (index 0) gives prefixes of length 1,2,3; s2 none; s3 (index 2) lengths 1,2.
    assert samples.session.tolist() == [0, 0, 0, 2, 2]
    assert samples.length.tolist() == [1, 2, 3, 1, 2]
    assert samples.session.dtype == np.int64


def test_split_by_first_view_and_subset_keeps_id_maps() -> None:
    log = build_session_log(_three_sessions())

    def t(seconds: int) -> datetime:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)

    # s2 (start 100) has no purchase: a validation period holding only s2 is an error.
    with pytest.raises(AutorecError, match="validation period has no session with a purchase"):
        split_sessions(log, t(100), t(150))
    # A session belongs to the period of its first view (s1 10, s2 100, s3 200, s4 300).
    four = _log(
        [
            (*r,)
            for r in _three_sessions()
            .frame[["session_id", "item_id", "timestamp", "event"]]
            .itertuples(index=False)
        ]
        + [("s4", "b", 300, "view"), ("s4", "b", 301, "buy")],
        "session_id,item_id,timestamp,event",
    )
    log4 = build_session_log(four)
    parts = split_sessions(log4, t(150), t(250))
    assert parts.train.session_ids.tolist() == ["s1", "s2"]
    assert parts.valid.session_ids.tolist() == ["s3"]
    assert parts.test.session_ids.tolist() == ["s4"]
    sub = subset_sessions(log, np.array([2, 0]))
    assert sub.session_ids.tolist() == ["s3", "s1"]
    assert sub.page_ptr.tolist() == [0, 2, 5]
    assert sub.items is log.items and sub.pages is log.pages
    assert sub.items.decode(sub.buy).tolist() == ["y", "z", "x"]


def test_split_strings_and_defaults() -> None:
    v, t = parse_session_split("2014-06-01, 2014-06-16T12:00")
    assert v == datetime(2014, 6, 1, tzinfo=timezone.utc)
    assert t == datetime(2014, 6, 16, 12, tzinfo=timezone.utc)
    with pytest.raises(AutorecError, match="out of order"):
        parse_session_split("2014-06-16,2014-06-01")
    with pytest.raises(AutorecError, match="cannot parse the date 'June'"):
        parse_session_split("June,2014-06-01")
    with pytest.raises(AutorecError, match="VAL_START,TEST_START"):
        parse_session_split("2014-06-01")
    data = load_session_data(None)  # synthetic; default 80 % / 90 % quantiles
    n = [data.split.train.n_sessions, data.split.valid.n_sessions, data.split.test.n_sessions]
    assert sum(n) == 3000 and abs(n[0] - 2400) <= 5 and abs(n[2] - 300) <= 5
    assert data.source == "synthetic:sessions(seed=0)"
    assert default_session_split(data.split.train)[0] < data.split.val_start
    assert len(data.test_samples.session) > 0


def test_load_session_data_from_a_file(tmp_path: Path) -> None:
    f = tmp_path / "ev.csv"
    f.write_text(
        "session_id,item_id,timestamp,event\n"
        "1,a,2020-01-01,view\n1,a,2020-01-01T00:00:05,buy\n"
        "2,b,2020-02-01,view\n2,b,2020-02-01T00:00:05,buy\n"
        "3,a,2020-03-01,view\n3,c,2020-03-01T00:01:00,view\n3,c,2020-03-01T00:02:00,buy\n"
    )
    data = load_session_data(f, "2020-01-15,2020-02-15")
    assert data.split.test.session_ids.tolist() == ["3"]
    assert data.test_samples.length.tolist() == [1, 2]
    assert load_session_data(f, "2020-01-15,2020-02-15") is data  # cached
    assert read_events(f).kind == "sessions"
