"""The served network: one verified bundle, live queries turned into batches, ranked.

A query is parsed and mapped onto the bundle's indices as it arrives (:meth:`prepare_session`,
:meth:`prepare_customer`: unknown ids are dropped and counted, never an error); the
prepared queries of one micro-batch are then scored in one forward pass
(:meth:`ServedModel.answer`). Batches are built by the same builders as training and
``autorec recommend`` (:mod:`autorec.train._batching`), padded to
:data:`autorec.export._recommend.MIN_ROWS` rows and ranked by the same
:func:`autorec.export._recommend.rank_scored`, so a query gets bit-identical scores to the
offline table's row for the same input, whatever micro-batch it lands in.

What is excluded follows the protocol, as offline: a session excludes nothing (the DRNN
paper's accuracy does not either); a customer's inputs (their purchases in the input
window) are excluded from their recommendations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from autorec._io import finite_or_none
from autorec.data.types import CustomerExamples, IdMap, IntArray, SessionLog, SessionSamples
from autorec.export import (
    Bundle,
    input_window,
    load_bundle,
    padded_rows,
    rank_scored,
    window_examples,
)

__all__ = ["Answer", "CustomerQuery", "ServedModel", "SessionQuery"]

_EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class SessionQuery:
    """A session prefix on the bundle's indices (pages in view order, dwell seconds)."""

    pages: IntArray
    dwell: npt.NDArray[np.float32]
    history: IntArray  # distinct items the user bought before the session
    k: int
    used: dict[str, int]
    unknown: dict[str, int]


@dataclass(frozen=True)
class CustomerQuery:
    """A customer's inputs in the input window, on catalogue indices (one per product)."""

    examples: CustomerExamples  # one customer
    k: int
    used: dict[str, int]
    unknown: dict[str, int]
    window: tuple[datetime, datetime]


Query = SessionQuery | CustomerQuery


@dataclass
class Answer:
    """Top-K raw item ids and their scores for one query."""

    items: list[str]
    scores: list[float | None]
    used: dict[str, int]
    unknown: dict[str, int]
    extra: dict[str, Any] = field(default_factory=dict)


class ServedModel:
    """A loaded bundle plus the id look-ups a live query needs (built once)."""

    def __init__(self, bundle: Bundle) -> None:
        from autorec.genome import Genome

        self.bundle = bundle
        self.genome = Genome.from_dict(bundle.genome, where=str(bundle.path / "genome.yaml"))
        self.item_index = {str(v): j for j, v in enumerate(bundle.item_ids.tolist())}
        self._items = IdMap(bundle.item_ids)
        from autorec.families import get_family

        if get_family(bundle.family).needs_pages:
            if bundle.page_ids is None or bundle.page_item is None:
                from autorec.errors import AutorecError

                raise AutorecError(
                    f"bundle {bundle.path}",
                    "is a session (drnn) bundle without page_map.json",
                    "re-export the bundle with `autorec export RUN_DIR --out BUNDLE`",
                )
            self.page_index = {str(v): p for p, v in enumerate(bundle.page_ids.tolist())}
            self._pages = IdMap(bundle.page_ids)
            self._page_item = np.asarray(bundle.page_item, dtype=np.int64)
            self._users = IdMap(np.zeros(0, dtype=np.str_))

    @classmethod
    def load(cls, path: str | Path) -> ServedModel:
        """Verify the bundle's manifest checksums, then import and load it
        (:func:`autorec.export.load_bundle` checks every file before importing model.py)."""
        return cls(load_bundle(path))

    @property
    def family(self) -> str:
        return self.bundle.family

    @property
    def n_items(self) -> int:
        return self.bundle.n_items

    # ---------------------------------------------------------------- preparing queries

    def prepare_session(
        self,
        pages: Sequence[str],
        dwell: Sequence[float] | None,
        history: Sequence[str],
        k: int,
    ) -> SessionQuery:
        """Map raw page ids (and the user's earlier purchases) onto the bundle; unknown ids
        are dropped with their dwell time and counted."""
        idx = np.fromiter((self.page_index.get(p, -1) for p in pages), np.int64, len(pages))
        seconds = np.zeros(len(pages), np.float32) if dwell is None else np.asarray(dwell)
        known = idx >= 0
        hist = {self.item_index.get(i, -1) for i in history}
        n_unknown_items = sum(1 for i in history if i not in self.item_index)
        hist.discard(-1)
        return SessionQuery(
            pages=idx[known],
            dwell=seconds[known].astype(np.float32),
            history=np.array(sorted(hist), dtype=np.int64),
            k=k,
            used={"pages": int(known.sum()), "history_items": len(hist)},
            unknown={"pages": int((~known).sum()), "items": n_unknown_items},
        )

    def prepare_customer(
        self, purchases: Sequence[tuple[str, int]], as_of: datetime | None, k: int
    ) -> CustomerQuery:
        """The customer's inputs by the protocol's rule (:func:`window_examples`: purchases
        of catalogue items in the input window ending at ``as_of``, default the data card's
        end, one per product aged by the latest purchase)."""
        start, end = input_window(self.bundle, as_of)
        lo, hi = int(start.timestamp()), int(end.timestamp())
        cat = np.fromiter((self.item_index.get(i, -1) for i, _ in purchases), np.int64)
        time = np.fromiter((t for _, t in purchases), np.int64, len(purchases))
        known = cat >= 0
        inside = known & (time >= lo) & (time < hi)
        examples = window_examples(np.zeros(len(cat), np.int64), cat, time, lo, hi)
        return CustomerQuery(
            examples=examples,
            k=k,
            used={
                "purchases": int(inside.sum()),
                "inputs": len(examples.input_item),
                "outside_window": int((known & ~inside).sum()),
            },
            unknown={"items": int((~known).sum())},
            window=(start, end),
        )

    # ---------------------------------------------------------------- scoring

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        """Score the queries of one micro-batch in one forward pass (those with no known
        input get no items, as offline: ``recommend`` writes no row for them)."""
        out = [self._empty(q) for q in queries]
        active = [i for i, q in enumerate(queries) if self._has_input(q)]
        if not active:
            return out
        k = max(queries[i].k for i in active)
        sessions = [q for i in active if isinstance(q := queries[i], SessionQuery)]
        customers = [q for i in active if isinstance(q := queries[i], CustomerQuery)]
        if len(sessions) == len(active):
            top, scores = self._score_sessions(sessions, k)
        elif len(customers) == len(active):
            top, scores = self._score_customers(customers, k)
        else:
            raise TypeError("one micro-batch mixes session and customer queries")
        for row, i in enumerate(active):
            keep = top[row, : queries[i].k] >= 0
            cols = top[row, : queries[i].k][keep]
            out[i].items = self.bundle.item_ids[cols].tolist()
            out[i].scores = [finite_or_none(s) for s in scores[row, : queries[i].k][keep]]
        return out

    @staticmethod
    def _has_input(q: Query) -> bool:
        if isinstance(q, SessionQuery):
            return len(q.pages) > 0
        return q.examples.n_customers > 0

    @staticmethod
    def _empty(q: Query) -> Answer:
        extra: dict[str, Any] = {}
        if isinstance(q, CustomerQuery):
            extra["input_window"] = [q.window[0].isoformat(), q.window[1].isoformat()]
        return Answer(items=[], scores=[], used=q.used, unknown=q.unknown, extra=extra)

    def _score_sessions(
        self, queries: Sequence[SessionQuery], k: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        from autorec.models.batches import UserHistories
        from autorec.train import batching

        n = len(queries)
        lengths = np.array([len(q.pages) for q in queries], dtype=np.int64)
        page_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=page_ptr[1:])
        log = SessionLog(
            session_ids=np.array([str(i) for i in range(n)], dtype=np.str_),
            user=np.arange(n, dtype=np.int64),
            start=np.ones(n, dtype=np.int64),
            page_ptr=page_ptr,
            page=np.concatenate([q.pages for q in queries]),
            view_time=np.zeros(int(page_ptr[-1]), dtype=np.int64),
            dwell=np.concatenate([q.dwell for q in queries]).astype(np.float32),
            buy_ptr=np.zeros(n + 1, dtype=np.int64),
            buy=_EMPTY,
            buy_time=_EMPTY,
            pages=self._pages,
            items=self._items,
            users=self._users,
            page_item=self._page_item,
        )
        # every earlier purchase dated 0, the session starting at 1: all of them come first
        h_len = np.array([len(q.history) for q in queries], dtype=np.int64)
        h_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(h_len, out=h_ptr[1:])
        h_user = np.repeat(np.arange(n, dtype=np.int64), h_len)
        hist = UserHistories(
            ptr=h_ptr,
            item=np.concatenate([q.history for q in queries]).astype(np.int64),
            time=np.zeros(len(h_user), dtype=np.int64),
            key=h_user * 2,
            t0=0,
            span=2,
        )
        samples = SessionSamples(session=np.arange(n, dtype=np.int64), length=lengths)
        rows = padded_rows(np.arange(n, dtype=np.int64))
        batch = batching.session_batch(self.genome, log, samples, rows, hist)
        return rank_scored(self.bundle, batch, n, k)

    def _score_customers(
        self, queries: Sequence[CustomerQuery], k: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        from autorec.train import batching

        examples = _stack([q.examples for q in queries])
        rows = padded_rows(np.arange(len(queries), dtype=np.int64))
        batch = batching.purchase_batch(self.genome, examples, rows)
        return rank_scored(
            self.bundle, batch, len(queries), k, (batch["x_idx"], batch["x_offsets"])
        )

    # ---------------------------------------------------------------- describing

    def describe(self) -> dict[str, Any]:
        """What ``GET /model`` reports: the manifest's identity, metrics and data card."""
        m = self.bundle.manifest
        return {
            "model_version": self.bundle.model_version,
            "genome_key": m.get("genome_key"),
            "family": self.family,
            "n_items": self.n_items,
            "n_pages": 0 if self.bundle.page_ids is None else len(self.bundle.page_ids),
            "format_version": m.get("format_version"),
            "autorec_version": m.get("autorec_version"),
            "created": m.get("created"),
            "genome": self.bundle.genome,
            "metrics": self.bundle.metrics,
            "data_card": self.bundle.data_card,
        }


def _stack(parts: Sequence[CustomerExamples]) -> CustomerExamples:
    """One-customer examples stacked into one CSR table (customer ``i`` = ``parts[i]``)."""
    lengths = np.array([len(p.input_item) for p in parts], dtype=np.int64)
    ptr = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=ptr[1:])
    return CustomerExamples(
        customers=np.arange(len(parts), dtype=np.int64),
        input_ptr=ptr,
        input_item=np.concatenate([p.input_item for p in parts]).astype(np.int64),
        input_age_days=np.concatenate([p.input_age_days for p in parts]).astype(np.float32),
        target_ptr=np.zeros(len(parts) + 1, dtype=np.int64),
        target_item=_EMPTY,
    )


def parse_moment(text: str | int) -> int:
    """Unix seconds of an ISO date / date-time (UTC when it names no zone) or of a number
    of unix seconds. Raises ValueError with the accepted forms."""
    if isinstance(text, int):
        if not 0 <= text <= _LAST_SECOND:
            raise ValueError(f"unix seconds must lie in [0, {_LAST_SECOND}], got {text}")
        return text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"not an ISO date or date-time: {text[:40]!r} (give e.g. 2014-04-07 or "
            "2014-04-07T10:51:09Z, or unix seconds)"
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    seconds = int(moment.timestamp())
    if not 0 <= seconds <= _LAST_SECOND:
        raise ValueError(f"dates must lie in 1970-01-01 .. 9999-12-31, got {text[:40]!r}")
    return seconds


_LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z
