"""Recommendation tables: SQLite (default, embedded) and Parquet, both replaced atomically.

Schema (both formats, one row per (entity, rank))::

    recommendations(
      entity_id     TEXT    NOT NULL,  -- raw customer id (purchase family) or session id
      rank          INTEGER NOT NULL,  -- 1 = best
      item_id       TEXT    NOT NULL,  -- raw item id
      score         REAL    NOT NULL,  -- the network's logit for the item (higher = better)
      model_version TEXT    NOT NULL,  -- manifest model_version: <genome key>-<weights sha8>
      PRIMARY KEY (entity_id, rank))
    CREATE INDEX recommendations_item ON recommendations(item_id)

SQLite: the rows go into ``recommendations__new`` inside ONE transaction that ends by
dropping the old ``recommendations`` table and renaming the new one; readers see the old
table until the commit, and a crash rolls the whole transaction back (never half a table).
Other tables in the same database file are left alone.
Parquet: written to a temporary file beside the target, then ``os.replace``-d into place.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from autorec._io import atomic_file
from autorec.errors import AutorecError

__all__ = [
    "COLUMNS",
    "TABLE",
    "ParquetRecWriter",
    "RecWriter",
    "SQLiteRecWriter",
    "open_writer",
    "read_recommendations",
]

TABLE = "recommendations"
COLUMNS = ("entity_id", "rank", "item_id", "score", "model_version")
_SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
_PARQUET_SUFFIXES = (".parquet", ".pq")


class _Rows(NamedTuple):
    """One batch of table rows as column arrays."""

    ent: npt.NDArray[np.str_]
    rank: npt.NDArray[np.int64]
    item: npt.NDArray[np.str_]
    sc: npt.NDArray[np.float64]


def _rows(
    entity_ids: Sequence[str],
    item_ids: npt.NDArray[np.str_],
    scores: npt.NDArray[np.floating],
) -> _Rows:
    """Flatten a batch into column arrays (vectorised), dropping -inf (excluded) entries."""
    b, k = item_ids.shape
    ent = np.repeat(np.asarray(entity_ids, dtype=np.str_), k)
    rank = np.tile(np.arange(1, k + 1, dtype=np.int64), b)
    sc = np.asarray(scores, dtype=np.float64).reshape(-1)
    keep = np.isfinite(sc)
    return _Rows(ent[keep], rank[keep], item_ids.reshape(-1)[keep], sc[keep])


class RecWriter:
    """Accepts batches of top-K lists; the table appears only when the context exits
    without an error. Both formats share the batch flattening and the row count; each writes
    the flattened columns in :meth:`_append` and opens / commits in its context methods."""

    def __init__(self, path: Path, model_version: str) -> None:
        self.path = path
        self.model_version = model_version
        self.rows = 0

    def write(
        self,
        entity_ids: Sequence[str],
        item_ids: npt.NDArray[np.str_],
        scores: npt.NDArray[np.floating],
    ) -> None:
        """Rows for ``entity_ids[b]``: ranks 1.. of ``item_ids[b, r]`` / ``scores[b, r]``;
        entries whose score is -inf (nothing left to recommend) are skipped."""
        rows = _rows(entity_ids, item_ids, scores)
        self._append(rows)
        self.rows += len(rows.ent)

    def _append(self, rows: _Rows) -> None:
        raise NotImplementedError


class SQLiteRecWriter(RecWriter):
    """Writes the ``recommendations`` table of a SQLite file in one transaction."""

    def __init__(self, path: Path, model_version: str) -> None:
        super().__init__(path, model_version)
        self._con: sqlite3.Connection | None = None

    def __enter__(self) -> SQLiteRecWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = sqlite3.connect(self.path, isolation_level=None)
            con.execute("BEGIN IMMEDIATE")
            con.execute(f"DROP TABLE IF EXISTS {TABLE}__new")
            con.execute(
                f"CREATE TABLE {TABLE}__new (entity_id TEXT NOT NULL, rank INTEGER NOT NULL, "
                "item_id TEXT NOT NULL, score REAL NOT NULL, model_version TEXT NOT NULL, "
                "PRIMARY KEY (entity_id, rank))"
            )
        except sqlite3.DatabaseError as err:
            raise AutorecError(
                f"--out {self.path}",
                f"is not a usable SQLite database ({err})",
                "pass a new .sqlite file or a SQLite database",
            ) from None
        self._con = con
        return self

    def _append(self, rows: _Rows) -> None:
        assert self._con is not None
        ent, rank, item, sc = rows
        mv = self.model_version
        self._con.executemany(
            f"INSERT INTO {TABLE}__new VALUES (?, ?, ?, ?, ?)",
            zip(
                ent.tolist(),
                rank.tolist(),
                item.tolist(),
                sc.tolist(),
                [mv] * len(ent),
                strict=True,
            ),
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        con, self._con = self._con, None
        if con is None:
            return
        try:
            if exc_type is not None:
                con.execute("ROLLBACK")
                return
            con.execute(f"DROP TABLE IF EXISTS {TABLE}")
            con.execute(f"ALTER TABLE {TABLE}__new RENAME TO {TABLE}")
            con.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_item ON {TABLE}(item_id)")
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()


class ParquetRecWriter(RecWriter):
    """Writes a Parquet file (same columns) to a temporary file, renamed on success."""

    def __init__(self, path: Path, model_version: str) -> None:
        super().__init__(path, model_version)
        self._tmp: Path | None = None
        self._writer: object | None = None
        self._file = contextlib.ExitStack()

    def _schema(self) -> object:
        import pyarrow as pa

        return pa.schema(
            [
                pa.field("entity_id", pa.string(), nullable=False),
                pa.field("rank", pa.int32(), nullable=False),
                pa.field("item_id", pa.string(), nullable=False),
                pa.field("score", pa.float64(), nullable=False),
                pa.field("model_version", pa.string(), nullable=False),
            ]
        )

    def __enter__(self) -> ParquetRecWriter:
        import pyarrow.parquet as pq

        self._tmp = self._file.enter_context(atomic_file(self.path))
        self._writer = pq.ParquetWriter(str(self._tmp), self._schema())
        return self

    def _append(self, rows: _Rows) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        assert isinstance(self._writer, pq.ParquetWriter)
        ent, rank, item, sc = rows
        table = pa.Table.from_arrays(
            [
                pa.array(ent.tolist(), pa.string()),
                pa.array(rank, pa.int32()),
                pa.array(item.tolist(), pa.string()),
                pa.array(sc, pa.float64()),
                pa.array([self.model_version] * len(ent), pa.string()),
            ],
            schema=self._schema(),
        )
        self._writer.write_table(table)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        import pyarrow.parquet as pq

        writer, tmp = self._writer, self._tmp
        self._writer = self._tmp = None
        if tmp is None:
            return
        try:
            if isinstance(writer, pq.ParquetWriter):
                writer.close()
        except BaseException as err:
            self._file.__exit__(type(err), err, err.__traceback__)  # the file is removed
            raise
        # renamed into place when the block succeeded, removed when it raised
        self._file.__exit__(exc_type, exc, tb)


def open_writer(out: str | Path, model_version: str) -> SQLiteRecWriter | ParquetRecWriter:
    """The writer for ``out``'s suffix: .sqlite/.sqlite3/.db → SQLite, .parquet/.pq →
    Parquet."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix in _SQLITE_SUFFIXES:
        return SQLiteRecWriter(path, model_version)
    if suffix in _PARQUET_SUFFIXES:
        return ParquetRecWriter(path, model_version)
    raise AutorecError(
        f"--out {out}",
        f"unknown output format {suffix or '(no suffix)'!r}",
        "name the file recs.sqlite (SQLite) or recs.parquet (Parquet)",
    )


def read_recommendations(path: str | Path) -> dict[str, npt.NDArray[np.generic]]:
    """The recommendations written to ``path`` as column arrays (for checks and tests)."""
    p = Path(path)
    if p.suffix.lower() in _PARQUET_SUFFIXES:
        import pyarrow.parquet as pq

        table = pq.read_table(p)
        return {c: table.column(c).to_numpy() for c in COLUMNS}
    con = sqlite3.connect(p)
    try:
        rows = con.execute(
            f"SELECT {', '.join(COLUMNS)} FROM {TABLE} ORDER BY entity_id, rank"
        ).fetchall()
    finally:
        con.close()
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in COLUMNS]
    return {
        "entity_id": np.asarray(cols[0], dtype=np.str_),
        "rank": np.asarray(cols[1], dtype=np.int64),
        "item_id": np.asarray(cols[2], dtype=np.str_),
        "score": np.asarray(cols[3], dtype=np.float64),
        "model_version": np.asarray(cols[4], dtype=np.str_),
    }
