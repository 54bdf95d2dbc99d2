"""Recommendation writers: SQLite and Parquet, one row per (entity, rank), atomic rerun."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from autorec.errors import AutorecError
from autorec.export import TABLE, open_writer, read_recommendations


def _batch(offset: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    ents = [f"c{offset + i}" for i in range(3)]
    items = np.array([["a", "b", "c"], ["b", "c", "d"], ["c", "x", "x"]], dtype=np.str_)
    scores = np.array([[3.0, 2.0, 1.0], [2.5, 2.0, 0.5], [1.0, -np.inf, -np.inf]])
    return ents, items, scores


@pytest.mark.parametrize("name", ["recs.sqlite", "recs.parquet"])
def test_rows_per_entity_and_rank(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    with open_writer(out, "v1") as w:
        w.write(*_batch(0))
        w.write(*_batch(3))
    assert w.rows == 14
    recs = read_recommendations(out)
    pairs = list(zip(recs["entity_id"].tolist(), recs["rank"].tolist(), strict=True))
    assert len(pairs) == len(set(pairs)) == 14
    assert set(recs["model_version"].tolist()) == {"v1"}
    # -inf (excluded / nothing left) entries are not written
    assert "x" not in set(recs["item_id"].tolist())
    c0 = [
        (r, i)
        for e, r, i in zip(recs["entity_id"], recs["rank"], recs["item_id"], strict=True)
        if e == "c0"
    ]
    assert sorted(c0) == [(1, "a"), (2, "b"), (3, "c")]


def test_sqlite_schema_and_index(tmp_path: Path) -> None:
    out = tmp_path / "recs.sqlite"
    with open_writer(out, "v1") as w:
        w.write(*_batch())
    con = sqlite3.connect(out)
    cols = [(r[1], r[2], r[5]) for r in con.execute(f"PRAGMA table_info({TABLE})")]
    assert cols == [
        ("entity_id", "TEXT", 1),
        ("rank", "INTEGER", 2),
        ("item_id", "TEXT", 0),
        ("score", "REAL", 0),
        ("model_version", "TEXT", 0),
    ]
    idx = {r[1] for r in con.execute(f"PRAGMA index_list({TABLE})")}
    assert "recommendations_item" in idx
    with pytest.raises(sqlite3.IntegrityError):
        con.execute(f"INSERT INTO {TABLE} VALUES ('c0', 1, 'z', 0.0, 'v1')")
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {TABLE}
    con.close()


@pytest.mark.parametrize("name", ["recs.sqlite", "recs.parquet"])
def test_rerun_replaces_and_failure_keeps_old(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    with open_writer(out, "v1") as w:
        w.write(*_batch(0))
        w.write(*_batch(3))
    # a rerun replaces the whole table (fewer entities now)
    with open_writer(out, "v2") as w:
        w.write(*_batch(0))
    recs = read_recommendations(out)
    assert set(recs["model_version"].tolist()) == {"v2"} and len(recs["rank"]) == 7
    # a rerun that fails half-way leaves the previous table whole
    with pytest.raises(RuntimeError, match="boom"), open_writer(out, "v3") as w:
        w.write(*_batch(0))
        raise RuntimeError("boom")
    recs = read_recommendations(out)
    assert set(recs["model_version"].tolist()) == {"v2"} and len(recs["rank"]) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_sqlite_keeps_other_tables(tmp_path: Path) -> None:
    out = tmp_path / "prod.db"
    con = sqlite3.connect(out)
    con.execute("CREATE TABLE customers (id TEXT)")
    con.execute("INSERT INTO customers VALUES ('c0')")
    con.commit()
    con.close()
    for version in ("v1", "v2"):
        with open_writer(out, version) as w:
            w.write(*_batch())
    con = sqlite3.connect(out)
    assert con.execute("SELECT count(*) FROM customers").fetchone() == (1,)
    assert con.execute(f"SELECT DISTINCT model_version FROM {TABLE}").fetchall() == [("v2",)]
    con.close()


def test_sqlite_reader_sees_old_table_until_commit(tmp_path: Path) -> None:
    out = tmp_path / "recs.sqlite"
    with open_writer(out, "v1") as w:
        w.write(*_batch())
    with open_writer(out, "v2") as w:
        w.write(*_batch())
        reader = sqlite3.connect(out)
        seen = reader.execute(f"SELECT DISTINCT model_version FROM {TABLE}").fetchall()
        reader.close()
        assert seen == [("v1",)]
    assert set(read_recommendations(out)["model_version"].tolist()) == {"v2"}


def test_bad_outputs(tmp_path: Path) -> None:
    with pytest.raises(AutorecError, match=r"recs\.csv.*unknown output format"):
        open_writer(tmp_path / "recs.csv", "v1")
    bad = tmp_path / "junk.sqlite"
    bad.write_text("this is not a database" * 100)
    with (
        pytest.raises(AutorecError, match="not a usable SQLite database"),
        open_writer(bad, "v1") as w,
    ):
        w.write(*_batch())
