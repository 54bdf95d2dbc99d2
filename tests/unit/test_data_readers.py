"""Readers: every format into the normalised EventLog, and the errors users see."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autorec.data import EVENT_COLUMNS, detect_format, load_events, read_events, write_events
from autorec.errors import AutorecError


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_generic_csv_events_sessions(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "events.csv",
        "user_id,session_id,item_id,timestamp,event\n"
        "u1,s1,a,2020-01-01T00:00:10Z,click\n"
        "u1,s1,b,2020-01-01T00:00:00Z,view\n"
        "u1,s1,b,2020-01-01T00:01:00Z,Purchase\n"
        "u2,,c,2020-01-01T00:02:00,addtocart\n",
    )
    log = read_events(f)
    assert log.kind == "sessions"
    assert tuple(log.frame.columns) == EVENT_COLUMNS
    assert log.frame["event"].tolist() == ["view", "view", "buy"]  # sorted by time
    assert log.frame["item_id"].tolist() == ["b", "a", "b"]
    assert log.frame["timestamp"].tolist() == [1577836800, 1577836810, 1577836860]
    assert log.frame.attrs["source_rows"] == 4
    assert sum(log.frame.attrs["ignored"].values()) == 1  # addtocart ignored, counted
    assert log.source.startswith("events-csv:")
    assert str(log.frame["user_id"].dtype) == "string"


def test_no_event_column_every_row_is_a_purchase_and_unix_seconds(tmp_path: Path) -> None:
    f = _write(tmp_path / "p.csv", "customer_id,product_id,ts\n1,7,100\n2,8,50\n")
    log = read_events(f)
    assert log.kind == "purchases"
    assert log.frame["event"].tolist() == ["buy", "buy"]
    assert log.frame["timestamp"].tolist() == [50, 100]
    assert log.frame["user_id"].tolist() == ["2", "1"]
    assert log.frame["session_id"].isna().all()


def test_unix_milliseconds_and_min_rating(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "r.csv",
        "user,item,rating,timestamp\n1,a,5,1000000000000\n"
        "1,b,3,1000000001000\n1,c,4,1000000002000\n",
    )
    log = read_events(f)  # ratings >= 3.5 (i.e. > 3) are purchases; 3 is dropped
    assert log.frame["item_id"].tolist() == ["a", "c"]
    assert log.frame["timestamp"].tolist() == [1000000000, 1000000002]
    assert read_events(f, min_rating=3).frame["item_id"].tolist() == ["a", "b", "c"]


def test_movielens_udata_dat_csv_and_recbole(tmp_path: Path) -> None:
    rows = [("1", "10", "5", "881250949"), ("1", "11", "2", "881250950"), ("2", "10", "4", "1")]
    (tmp_path / "ml").mkdir()
    udata = _write(tmp_path / "ml" / "u.data", "".join("\t".join(r) + "\n" for r in rows))
    dat = _write(tmp_path / "ratings.dat", "".join("::".join(r) + "\n" for r in rows))
    csv = _write(
        tmp_path / "ratings.csv",
        "userId,movieId,rating,timestamp\n" + "".join(",".join(r) + "\n" for r in rows),
    )
    inter = _write(
        tmp_path / "x.inter",
        "user_id:token\titem_id:token\trating:float\t"
        "timestamp:float\n" + "".join("\t".join(r) + "\n" for r in rows),
    )
    expected = {
        "movielens-udata": udata,
        "movielens-dat": dat,
        "movielens-csv": csv,
        "recbole": inter,
    }
    for fmt, path in expected.items():
        assert detect_format(path) == fmt
        log = read_events(path)
        assert log.kind == "purchases"
        assert log.frame["user_id"].tolist() == ["2", "1"], fmt  # rating 2 dropped, time order
        assert log.frame["item_id"].tolist() == ["10", "10"], fmt
        assert log.frame["rating"].tolist() == [4.0, 5.0], fmt
    assert detect_format(tmp_path / "ml") == "movielens-udata"  # folder with u.data


@pytest.mark.parametrize("header", [True, False])
def test_yoochoose_folder(tmp_path: Path, header: bool) -> None:
    clicks = "1,2014-04-07T10:51:09.277Z,214536502,0\n1,2014-04-07T10:54:09.868Z,214536500,0\n"
    buys = "1,2014-04-07T10:55:00.000Z,214536500,1000,1\n"
    if header:
        clicks = "session_id,timestamp,item_id,category\n" + clicks
        buys = "session_id,timestamp,item_id,price,quantity\n" + buys
    _write(tmp_path / "clicks.csv", clicks)
    _write(tmp_path / "buys.csv", buys)
    assert detect_format(tmp_path) == "yoochoose"
    log = read_events(tmp_path)
    assert log.kind == "sessions"
    assert log.frame["event"].tolist() == ["view", "view", "buy"]
    assert log.frame["session_id"].tolist() == ["1", "1", "1"]
    assert log.frame["user_id"].isna().all()
    assert log.frame["timestamp"].tolist() == [1396867869, 1396868049, 1396868100]


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_write_then_read_back(tmp_path: Path, suffix: str) -> None:
    events = load_events(None, kind="sessions", seed=1)
    small = type(events)(
        frame=events.frame.iloc[:200].reset_index(drop=True), source=events.source, kind=events.kind
    )
    out = write_events(small, tmp_path / f"ev{suffix}")
    back = read_events(out)
    pd.testing.assert_frame_equal(back.frame, small.frame, check_dtype=False)
    assert back.kind == "sessions"


def test_dwell_column_is_read(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "d.jsonl",
        '{"session_id": 1, "item_id": 5, "timestamp": 10, "event": "view", "dwell": 7.5}\n',
    )
    log = read_events(f)
    assert log.frame["dwell"].tolist() == [7.5]
    assert log.frame["session_id"].tolist() == ["1"]


def test_errors_name_file_field_value_and_fix(tmp_path: Path) -> None:
    no_item = _write(tmp_path / "a.csv", "user_id,timestamp\n1,2\n")
    with pytest.raises(AutorecError, match=r"a\.csv: no item column .*item_id"):
        read_events(no_item)
    bad_time = _write(tmp_path / "b.csv", "item_id,timestamp\n1,2020-01-01\n2,soon\n")
    with pytest.raises(AutorecError, match=r"column timestamp: cannot parse 'soon' \(data row 2\)"):
        read_events(bad_time)
    empty = _write(tmp_path / "c.csv", "item_id,timestamp,rating\n1,5,1\n")
    with pytest.raises(AutorecError, match="no events left after filtering 1 rows"):
        read_events(empty)
    with pytest.raises(AutorecError, match="no such file or folder"):
        read_events(tmp_path / "missing.csv")
    unknown = _write(tmp_path / "d.xlsx", "x")
    with pytest.raises(AutorecError, match=r"unknown data format \(suffix '.xlsx'\)"):
        read_events(unknown)
    with pytest.raises(AutorecError, match="folder holds no"):
        read_events(tmp_path)


def test_load_events_cache_and_synthetic_source(tmp_path: Path) -> None:
    f = _write(tmp_path / "e.csv", "item_id,timestamp\n1,2\n")
    assert load_events(f) is load_events(f)
    assert load_events(None) is load_events(None, kind="sessions", seed=0)
    assert load_events(None, kind="purchases", seed=2).source == "synthetic:purchases(seed=2)"
    assert np.array_equal(load_events(f).frame["timestamp"].to_numpy(), [2])
