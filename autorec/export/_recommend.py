"""Batch recommendations from a bundle: top-K for every customer or session (soft-split
paper, Section 5 "production": recommendations are generated offline for every customer
and served from a database).

Purchase family (predictor), two input modes:

* ``latest`` (default, production): every customer with at least one purchase of a
  catalogue product in the input window ``[end - (dyz - dx), end)`` -- a window as long as
  the test input XY, ending at ``end`` = ``--as-of`` or the data card's ``dz`` (for a
  ``--retrain-all`` bundle: the day after the last purchase). That is the window the
  network was tested on (XY → Z) moved to the newest data, so input ages mean what they
  meant in training. Inputs follow the protocol's rule (one per product, aged by the latest
  purchase, soft-split Sec. 3.1 one-hot) and the customer's inputs are excluded from the
  recommendations.
* ``protocol-test`` (``--protocol-test``): exactly the test customers of the bundle's
  protocol (inputs XY = [dx, dyz)), ranked by the same ranker the trainer scores with
  (:class:`autorec.train.rankers.ModelCustomerRanker`); the written table is read back and
  scored against Z, so its Precision@K equals ``autorec train``'s test Precision@K.

Session family (DRNN): every session of the data (all three periods), each session's full
prefix (every page viewed) as the input; nothing excluded (the DRNN paper's top-k accuracy
excludes nothing either: a bought item is usually one viewed in the session). Raw page and
item ids of the data are mapped to the bundle's indices; pages unknown to the bundle are
dropped, a session left with no page gets no rows (counted as ``skipped``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from autorec.data.types import (
    CustomerExamples,
    IdMap,
    IntArray,
    PurchaseLog,
    SessionLog,
    SessionSamples,
)
from autorec.errors import AutorecError
from autorec.export._bundle import Bundle, load_bundle
from autorec.export._writers import open_writer, read_recommendations
from autorec.families import get_family

__all__ = [
    "DEFAULT_BATCH",
    "MIN_ROWS",
    "input_window",
    "latest_examples",
    "padded_rows",
    "rank_scored",
    "recommend",
    "window_examples",
]

DEFAULT_BATCH = 1024
_DAY = 86400

#: Every forward pass scores at least this many rows. The CPU matrix multiply rounds a
#: row's float32 logits differently in batches of 1-11 rows than in larger ones (measured
#: with MKL: the small-matrix kernels reduce in another order), so a short batch -- the
#: last one of a table, or one live request -- is padded with copies of its first row;
#: a row then gets bit-identical scores whatever batch it is in, offline or served.
MIN_ROWS = 16


def padded_rows(rows: IntArray) -> IntArray:
    """``rows`` extended to :data:`MIN_ROWS` with copies of ``rows[0]`` (score it, keep the
    first ``len(rows)`` rows of the result)."""
    if 0 < len(rows) < MIN_ROWS:
        return np.concatenate([rows, np.repeat(rows[:1], MIN_ROWS - len(rows))])
    return rows


@dataclass
class _Progress:
    """A rich progress bar on stderr (or nothing)."""

    total: int
    label: str
    enabled: bool

    def __enter__(self) -> Callable[[int], None]:
        if not self.enabled:
            return lambda n: None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._bar.start()
        task = self._bar.add_task(self.label, total=self.total)
        return lambda n: self._bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._bar.stop()


def _parse_day(text: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise AutorecError(where, f"not an ISO date: {text!r}", "give e.g. 1998-04-23") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _card_dates(bundle: Bundle) -> dict[str, datetime]:
    dates = bundle.data_card.get("dates")
    if not isinstance(dates, Mapping):
        raise AutorecError(
            f"bundle file {bundle.path / 'data_card.json'}",
            "has no split dates",
            "re-export the bundle",
        )
    return {k: _parse_day(str(v), f"data_card dates.{k}") for k, v in dates.items()}


def input_window(bundle: Bundle, as_of: datetime | None = None) -> tuple[datetime, datetime]:
    """The purchase family's production input window ``[end - (dyz - dx), end)``:
    ``end`` = ``as_of`` or the data card's end date (module docstring, ``latest``)."""
    d = _card_dates(bundle)
    end = as_of if as_of is not None else d.get("end", d["dz"])
    return end - (d["dyz"] - d["dx"]), end


def _genome(bundle: Bundle) -> Any:
    from autorec.genome import Genome

    return Genome.from_dict(bundle.genome, where=str(bundle.path / "genome.yaml"))


def _check_catalogue(bundle: Bundle, raw: npt.NDArray[np.str_], what: str) -> None:
    if len(raw) != bundle.n_items or not np.array_equal(raw.astype(str), bundle.item_ids):
        raise AutorecError(
            what,
            f"its catalogue ({len(raw)} items) differs from the bundle's item_map.json "
            f"({bundle.n_items} items)",
            "pass the data and --split the bundle was exported with (see its data_card.json)",
        )


def latest_examples(
    log: PurchaseLog, catalogue_raw: npt.NDArray[np.str_], start: int, end: int
) -> CustomerExamples:
    """Inputs of every customer with a catalogue purchase in ``[start, end)`` (unix s), by
    the protocol's rule: one input per (customer, product), aged by its latest purchase in
    days before ``end``. ``catalogue_raw[j]`` is the raw id of output column ``j``; no
    targets."""
    cat_map = IdMap(np.asarray(catalogue_raw, dtype=np.str_))
    cat_of_item = cat_map.encode(log.items.raw)
    cat = cat_of_item[log.item] if len(log.item) else np.zeros(0, dtype=np.int64)
    return window_examples(log.user, cat, log.time, start, end)


def window_examples(
    user: IntArray, cat: IntArray, time: IntArray, start: int, end: int
) -> CustomerExamples:
    """:func:`latest_examples` on index arrays: purchase ``i`` is customer ``user[i]`` buying
    catalogue column ``cat[i]`` (-1: not in the catalogue) at ``time[i]`` (unix s)."""
    keep = (cat >= 0) & (time >= start) & (time < end)
    u, c, t = user[keep], cat[keep], time[keep]
    order = np.lexsort((-t, c, u))
    u, c, t = u[order], c[order], t[order]
    first = np.ones(len(u), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (c[1:] != c[:-1])
    u, c, t = u[first], c[first], t[first]
    customers, counts = np.unique(u, return_counts=True)
    ptr = np.zeros(len(customers) + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return CustomerExamples(
        customers=customers.astype(np.int64),
        input_ptr=ptr,
        input_item=c.astype(np.int64),
        input_age_days=((end - t) / float(_DAY)).astype(np.float32),
        target_ptr=np.zeros(len(customers) + 1, dtype=np.int64),
        target_item=np.zeros(0, dtype=np.int64),
    )


TopK = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]


def rank_scored(
    bundle: Bundle,
    batch: Mapping[str, torch.Tensor],
    n: int,
    k: int,
    exclude: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> TopK:
    """Top-``k`` catalogue indices ``[n, k]`` (-1 pads) and their float64 scores (-inf on
    pads) of the first ``n`` rows of ``batch`` (built from :func:`padded_rows`), ranked
    by :func:`autorec.evaluation.topk_excluding`; ``exclude`` = (idx, offsets) per row of
    the batch, EmbeddingBag style. Offline tables and the HTTP service both rank here."""
    from autorec.evaluation import topk_excluding

    logits = bundle.score(batch)
    if exclude is None:
        exclude = (torch.zeros(0, dtype=torch.long), torch.zeros(len(logits), dtype=torch.long))
    top = topk_excluding(logits, exclude[0], exclude[1], k)[:n]
    scores = torch.gather(logits[:n], 1, top.clamp_min(0)).to(torch.float64)
    scores = scores.masked_fill(top < 0, float("-inf"))
    return top.cpu().numpy(), scores.cpu().numpy()


def _customer_topk(
    bundle: Bundle, examples: CustomerExamples, k: int, batch_size: int
) -> Iterator[tuple[IntArray, npt.NDArray[np.int64], npt.NDArray[np.float64]]]:
    """(rows, top-K catalogue indices [B,k] (-1 pads), their scores) per batch, ranked
    exactly as :class:`autorec.train.rankers.ModelCustomerRanker` ranks (same batch builder,
    same :func:`autorec.evaluation.topk_excluding`, inputs excluded)."""
    from autorec.train import batching

    genome = _genome(bundle)
    n = examples.n_customers
    for start in range(0, n, batch_size):
        rows = np.arange(start, min(n, start + batch_size), dtype=np.int64)
        batch = batching.purchase_batch(genome, examples, padded_rows(rows))
        top, scores = rank_scored(bundle, batch, len(rows), k, (batch["x_idx"], batch["x_offsets"]))
        yield rows, top, scores


def _session_topk(
    bundle: Bundle, log: SessionLog, samples: SessionSamples, k: int, batch_size: int
) -> Iterator[tuple[IntArray, npt.NDArray[np.int64], npt.NDArray[np.float64]]]:
    from autorec.train import batching

    genome = _genome(bundle)
    n = len(samples.session)
    for start in range(0, n, batch_size):
        rows = np.arange(start, min(n, start + batch_size), dtype=np.int64)
        batch = batching.session_batch(genome, log, samples, padded_rows(rows))
        top, scores = rank_scored(bundle, batch, len(rows), k)
        yield rows, top, scores


def remap_sessions(log: SessionLog, bundle: Bundle) -> tuple[SessionLog, int]:
    """``log`` re-indexed onto the bundle's pages and items (raw ids); unknown pages are
    dropped, unknown bought items too. Returns the log and the number of sessions left with
    no page (they are removed)."""
    assert bundle.page_ids is not None and bundle.page_item is not None
    pages = IdMap(bundle.page_ids)
    items = IdMap(bundle.item_ids)
    page_new = pages.encode(log.pages.raw)[log.page] if len(log.page) else log.page
    item_new = items.encode(log.items.raw)[log.buy] if len(log.buy) else log.buy
    sess_of_view = np.repeat(np.arange(log.n_sessions), np.diff(log.page_ptr))
    sess_of_buy = np.repeat(np.arange(log.n_sessions), np.diff(log.buy_ptr))
    kv, kb = page_new >= 0, item_new >= 0
    n_views = np.bincount(sess_of_view[kv], minlength=log.n_sessions)
    n_buys = np.bincount(sess_of_buy[kb], minlength=log.n_sessions)
    page_ptr = np.zeros(log.n_sessions + 1, dtype=np.int64)
    buy_ptr = np.zeros(log.n_sessions + 1, dtype=np.int64)
    np.cumsum(n_views, out=page_ptr[1:])
    np.cumsum(n_buys, out=buy_ptr[1:])
    remapped = replace(
        log,
        page_ptr=page_ptr,
        page=page_new[kv],
        view_time=log.view_time[kv],
        dwell=log.dwell[kv],
        buy_ptr=buy_ptr,
        buy=item_new[kb],
        buy_time=log.buy_time[kb],
        pages=pages,
        items=items,
        page_item=np.asarray(bundle.page_item, dtype=np.int64),
    )
    return remapped, int((n_views == 0).sum())


def full_prefix_samples(log: SessionLog) -> SessionSamples:
    lengths = np.diff(log.page_ptr)
    keep = np.flatnonzero(lengths > 0).astype(np.int64)
    return SessionSamples(session=keep, length=lengths[keep].astype(np.int64))


def _progress(total: int, label: str, enabled: bool) -> AbstractContextManager[Any]:
    return _Progress(total, label, enabled) if enabled else nullcontext(lambda n: None)


@dataclass(frozen=True)
class _Job:
    """One :func:`recommend` call, for the writer of its bundle's kind of entity."""

    bundle: Bundle
    out: str | Path
    writer: Any
    summary: dict[str, Any]
    data: Any
    split: str | None
    loader_args: dict[str, Any]
    k: int
    batch_size: int
    protocol_test: bool
    as_of: str | None
    progress: bool

    def unpack(self) -> tuple[Bundle, Any, dict[str, Any], int, Any, str | None]:
        return self.bundle, self.writer, self.summary, self.k, self.data, self.split


def recommend(
    bundle: Bundle | str | Path,
    out: str | Path,
    *,
    data: str | Path | None = None,
    split: str | None = None,
    k: int = 10,
    batch_size: int = DEFAULT_BATCH,
    protocol_test: bool = False,
    as_of: str | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Write the top ``k`` items of every customer / session to ``out`` (.sqlite or
    .parquet; see :mod:`autorec.export._writers` for the schema) and return a summary.

    ``data`` / ``split`` default to the data card's (``None`` data with a synthetic card =
    the built-in synthetic data). See the module docstring for the input windows.
    """
    if k < 1:
        raise AutorecError("--k", f"must be at least 1, got {k}", "pass --k 10")
    if batch_size < 1:
        raise AutorecError(
            "--batch-size", f"must be at least 1, got {batch_size}", "pass --batch-size 1024"
        )
    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    k = min(k, b.n_items)  # no more items than the catalogue has: --k 100000 is a table of k
    card = b.data_card
    data_path = data if data is not None else card.get("data")
    if data is None and data_path and not Path(str(data_path)).exists():
        # the data card's path, not an option the user gave: say so, not "omit --data"
        raise AutorecError(
            f"bundle file {b.path / 'data_card.json'}",
            f"names data {data_path}, which does not exist here",
            "pass --data PATH (the data the bundle was exported with)",
        )
    split = split if split is not None else card.get("split")
    loader_args = dict(card.get("loader_args", {}))
    t0 = time.perf_counter()
    summary: dict[str, Any] = {
        "bundle": str(b.path),
        "out": str(out),
        "k": k,
        "family": b.family,
        "model_version": b.model_version,
        "data": str(data_path) if data_path else None,
    }
    writer = open_writer(out, b.model_version)
    job = _Job(b, out, writer, summary, data_path, split, loader_args, k, batch_size,
               protocol_test, as_of, progress)  # fmt: skip
    _WRITE_FOR[get_family(b.family).entity](job)
    summary["rows"] = writer.rows
    summary["wall_s"] = round(time.perf_counter() - t0, 3)
    return summary


def _write_customers(job: _Job) -> None:
    """Every customer's top ``k`` (the latest input window, or the protocol's test)."""
    b, writer, summary, k, data_path, split = job.unpack()
    protocol_test, as_of, loader_args = job.protocol_test, job.as_of, job.loader_args
    from autorec.data import load_purchase_data, load_purchase_log

    if protocol_test:
        pdata = load_purchase_data(data_path, split, **loader_args)
        plog = pdata.log
        examples = pdata.protocol.test
        _check_catalogue(b, pdata.log.items.raw[pdata.protocol.catalogue], f"--data {data_path}")
        summary["mode"] = "protocol-test"
        dates = pdata.protocol.dates
        summary["input_window"] = [f"{dates.dx:%Y-%m-%d}", f"{dates.dyz:%Y-%m-%d}"]
    else:
        start, end = input_window(b, _parse_day(as_of, "--as-of") if as_of else None)
        plog = load_purchase_log(data_path, **loader_args)
        examples = latest_examples(plog, b.item_ids, int(start.timestamp()), int(end.timestamp()))
        summary["mode"] = "latest"
        summary["input_window"] = [start.isoformat(), end.isoformat()]
    entity_raw = plog.users.raw[examples.customers]
    with writer, _progress(examples.n_customers, "recommend", job.progress) as advance:
        for rows, top, scores in _customer_topk(b, examples, k, job.batch_size):
            writer.write(entity_raw[rows].tolist(), b.item_ids[np.maximum(top, 0)], scores)
            advance(len(rows))
    summary["entities"] = int(examples.n_customers)
    if protocol_test:
        summary["metrics"] = _score_table(job.out, examples, entity_raw, b, k)


def _write_sessions(job: _Job) -> None:
    """The top ``k`` of every prefix of every session of the data."""
    b, writer, summary, k, data_path, split = job.unpack()
    loader_args = job.loader_args
    from autorec.data import load_session_data

    sdata = load_session_data(data_path, split, **loader_args)
    logs = [sdata.split.train, sdata.split.valid, sdata.split.test]
    skipped = n_sessions = 0
    prepared = []
    for log in logs:
        remapped, empty = remap_sessions(log, b)
        samples = full_prefix_samples(remapped)
        prepared.append((remapped, samples))
        skipped += empty
        n_sessions += len(samples.session)
    with writer, _progress(n_sessions, "recommend", job.progress) as advance:
        for remapped, samples in prepared:
            ids = remapped.session_ids[samples.session]
            for rows, top, scores in _session_topk(b, remapped, samples, k, job.batch_size):
                writer.write(ids[rows].tolist(), b.item_ids[np.maximum(top, 0)], scores)
                advance(len(rows))
    summary["mode"] = "sessions"
    summary["entities"] = n_sessions
    summary["skipped"] = skipped


#: The writer of each kind of entity a family recommends for (:attr:`Family.entity`).
_WRITE_FOR = {"customer": _write_customers, "session": _write_sessions}


def _score_table(
    out: str | Path,
    examples: CustomerExamples,
    entity_raw: npt.NDArray[np.str_],
    bundle: Bundle,
    k: int,
) -> dict[str, float]:
    """Read the written table back and score it against the test window Z (Precision@K,
    PCC@K; :mod:`autorec.metrics`), and count already-bought items in it (must be 0)."""
    from autorec.metrics import pcc_at_k, precision_at_k

    recs = read_recommendations(out)
    row_of = {e: i for i, e in enumerate(entity_raw.tolist())}
    col_of = {it: j for j, it in enumerate(bundle.item_ids.tolist())}
    table = np.full((examples.n_customers, k), -1, dtype=np.int64)
    r = np.array([row_of[e] for e in recs["entity_id"].tolist()], dtype=np.int64)
    c = np.array([col_of[i] for i in recs["item_id"].tolist()], dtype=np.int64)
    table[r, np.asarray(recs["rank"], dtype=np.int64) - 1] = c
    bought = 0
    for i in range(examples.n_customers):
        inputs = examples.input_item[examples.input_ptr[i] : examples.input_ptr[i + 1]]
        bought += int(np.isin(table[i][table[i] >= 0], inputs).sum())
    pcc, count = pcc_at_k(table, examples.target_ptr, examples.target_item, bundle.n_items)
    return {
        f"precision@{k}": precision_at_k(table, examples.target_ptr, examples.target_item),
        f"pcc@{k}": pcc,
        f"pcc@{k}_count": float(count),
        "n_customers": float(examples.n_customers),
        "already_bought": float(bought),
        "rows_per_customer_max": float(np.bincount(r).max()) if len(r) else 0.0,
    }
