"""``autorec retrain BUNDLE --data NEW --split ...``: refresh a served network on new data.

The DRNN paper's system retrains after M new sessions; the soft-split system retrains
daily on a rolling date split. :func:`retrain_bundle` trains the parent bundle's genome on
the new data and split, warm-started from the parent's weights where the catalogue allows
(:func:`autorec.serve.transfer_weights`: new items get fresh rows, vanished items are
dropped, id maps are rebuilt from the new data), and writes a new bundle whose data card
links its parent. In the same run, for comparison on the same data:

* ``scratch``: the same genome trained from scratch (same seed, options);
* ``parent``: the parent network, unchanged, scored on the new test split (its catalogue
  mapped by raw id: a page it does not know is dropped from the prefix, an item it does not
  know can never be recommended, so the new items count against it).

``since`` + ``min_new``: retrain only when the new data holds at least ``min_new`` sessions
(session data) or purchases (purchase data) at or after ``since``; otherwise nothing is
trained and the summary says why.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from autorec.data import load_family_data
from autorec.data.types import (
    CustomerExamples,
    IdMap,
    IntArray,
    PurchaseData,
    SessionData,
    SessionLog,
    SessionSamples,
)
from autorec.errors import AutorecError
from autorec.export import Bundle, export_bundle, load_bundle
from autorec.serve._warm import TransferReport, axis_roles, transfer_weights

__all__ = ["count_new", "retrain_bundle"]


def _parse_since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise AutorecError(
            "option --since", f"not an ISO date: {text!r}", "give e.g. 2014-06-01"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def count_new(data: SessionData | PurchaseData, since: datetime) -> int:
    """Sessions starting (session data) or purchases made (purchase data) at or after
    ``since`` in the whole of ``data``."""
    from autorec.families import family_of

    return family_of(data).count_new(data, int(since.timestamp()))


# ------------------------------------------------------------------ the parent, re-scored


class _ParentSessionRanker:
    """The parent network ranking the new data's samples, in the new item indices. The FNN
    input (the user's earlier purchases) comes from every period, as in the trainer."""

    def __init__(self, parent: Bundle, genome: Any, data: SessionData) -> None:
        from autorec.export import remap_sessions
        from autorec.train import batching

        self.parent, self.genome = parent, genome
        s = data.split
        self.hist = batching.histories(
            *(remap_sessions(lg, parent)[0] for lg in (s.train, s.valid, s.test))
        )

    def topk_sessions(self, log: SessionLog, samples: SessionSamples, k: int) -> IntArray:
        from autorec.export import padded_rows, rank_scored, remap_sessions
        from autorec.train import batching

        remapped, _ = remap_sessions(log, self.parent)
        # a prefix of length L keeps the pages among its first L the parent knows
        known = np.concatenate([[0], np.cumsum(remapped_mask(log, self.parent))])
        base = log.page_ptr[samples.session]
        length = known[base + samples.length] - known[base]
        out = np.full((len(samples.session), k), -1, dtype=np.int64)
        rows = np.flatnonzero(length > 0).astype(np.int64)
        if len(rows):
            kept = SessionSamples(session=samples.session[rows], length=length[rows])
            n = len(rows)
            rows_ = padded_rows(np.arange(n, dtype=np.int64))
            batch = batching.session_batch(self.genome, remapped, kept, rows_, self.hist)
            top, _ = rank_scored(self.parent, batch, n, k)
            out[rows] = _to_new(top, self.parent.item_ids, log.items)
        return out


def remapped_mask(log: SessionLog, parent: Bundle) -> npt.NDArray[np.bool_]:
    """Which page views of ``log`` show a page ``parent`` knows."""
    assert parent.page_ids is not None
    known = IdMap(parent.page_ids).encode(log.pages.raw) >= 0
    return known[log.page] if len(log.page) else np.zeros(0, dtype=bool)


def _to_new(
    top: npt.NDArray[np.int64], parent_items: npt.NDArray[np.str_], new_items: IdMap
) -> npt.NDArray[np.int64]:
    """Parent item indices -> the new data's item indices (-1: pads and unknown items)."""
    lookup = new_items.encode(parent_items)
    return np.where(top >= 0, lookup[np.maximum(top, 0)], -1)


class _ParentCustomerRanker:
    """The parent predictor ranking the new protocol's customers in the new catalogue."""

    def __init__(self, parent: Bundle, genome: Any, data: PurchaseData) -> None:
        catalogue_raw = data.log.items.raw[data.protocol.catalogue]
        self.parent, self.genome = parent, genome
        self.to_parent = IdMap(parent.item_ids).encode(catalogue_raw)
        self.new = IdMap(np.asarray(catalogue_raw, dtype=np.str_))

    def topk_customers(self, examples: CustomerExamples, k: int) -> IntArray:
        from autorec.export import padded_rows, rank_scored
        from autorec.train import batching

        mapped = self.to_parent[examples.input_item]
        keep = mapped >= 0
        owner = np.repeat(np.arange(examples.n_customers), np.diff(examples.input_ptr))
        counts = np.bincount(owner[keep], minlength=examples.n_customers)
        ptr = np.zeros(examples.n_customers + 1, dtype=np.int64)
        np.cumsum(counts, out=ptr[1:])
        ex = replace(
            examples,
            input_ptr=ptr,
            input_item=mapped[keep],
            input_age_days=examples.input_age_days[keep],
            target_ptr=np.zeros(examples.n_customers + 1, dtype=np.int64),
            target_item=np.zeros(0, dtype=np.int64),
        )
        out = np.full((examples.n_customers, k), -1, dtype=np.int64)
        for start in range(0, examples.n_customers, 1024):
            rows = np.arange(start, min(examples.n_customers, start + 1024), dtype=np.int64)
            batch = batching.purchase_batch(self.genome, ex, padded_rows(rows))
            top, _ = rank_scored(
                self.parent, batch, len(rows), k, (batch["x_idx"], batch["x_offsets"])
            )
            out[rows] = _to_new(top, self.parent.item_ids, self.new)
        return out


#: The parent's ranker for each kind of entity a family recommends for.
_PARENT_RANKER_FOR: dict[str, Any] = {
    "session": _ParentSessionRanker,
    "customer": _ParentCustomerRanker,
}


def parent_metrics(
    parent: Bundle, genome: Any, data: SessionData | PurchaseData, k: int = 10
) -> dict[str, float]:
    """The parent's test metrics on the new data's test split (module docstring)."""
    from autorec.families import family_of

    family = family_of(data)
    ranker = _PARENT_RANKER_FOR[family.entity](parent, genome, data)
    return family.evaluate(ranker, data, k=k)


# ------------------------------------------------------------------ retraining


def _train(genome: Any, data: Any, options: Any, init: Any, what: str) -> tuple[Any, float]:
    from autorec.train import train_genome

    t0 = time.perf_counter()
    result = train_genome(genome, data, options, init=init)
    wall = time.perf_counter() - t0
    if result.model is None or result.status in ("error", "diverged"):
        tail = (result.error or "").strip().splitlines()[-1:] or [""]
        raise AutorecError(
            what,
            f"training genome {genome.key} ended {result.status}: {tail[0]}",
            "check the genome with `autorec train GENOME.yaml` on the same data",
        )
    return result, wall


def _summary(result: Any, wall: float) -> dict[str, Any]:
    return {
        "test_metrics": dict(result.test_metrics),
        "val_metrics": dict(result.val_metrics),
        "epochs": result.epochs,
        "status": result.status,
        "fitness": result.fitness,
        "wall_s": round(wall, 2),
    }


def retrain_bundle(
    bundle: str | Path,
    out: str | Path,
    *,
    data: str | None = None,
    split: str | None = None,
    since: str | None = None,
    min_new: int | None = None,
    epochs: int = 30,
    seed: int = 0,
    threads: int | None = None,
    compare: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Retrain ``bundle``'s genome on ``data`` / ``split`` warm-started from its weights
    and write the new bundle to ``out`` (module docstring). Returns a summary with the
    warm-started, from-scratch and parent metrics and wall times."""
    from autorec.genome import Genome
    from autorec.train import TrainOptions

    if min_new is not None and since is None:
        raise AutorecError(
            "option --min-new", "needs --since (new since when?)", "pass e.g. --since 2014-06-01"
        )
    if min_new is not None and min_new < 1:
        raise AutorecError("option --min-new", f"must be >= 1, got {min_new}", "pass e.g. 1000")
    parent = load_bundle(bundle)
    genome = Genome.from_dict(parent.genome, where=str(parent.path / "genome.yaml"))
    if data is None:  # the parent's data (its data card), e.g. grown since, split moved
        data = parent.data_card.get("data")
    dataset = load_family_data(genome.family, data, split, seed=seed)
    summary: dict[str, Any] = {
        "parent": str(parent.path),
        "parent_model_version": parent.model_version,
        "genome_key": genome.key,
        "data": data,
        "split": split,
    }
    if since is not None:
        moment = _parse_since(since)
        summary["since"] = moment.isoformat()
        summary["new"] = count_new(dataset, moment)
        if min_new is not None and summary["new"] < min_new:
            summary["retrained"] = False
            summary["reason"] = (
                f"{summary['new']} new {_unit(dataset)} since {since} < --min-new {min_new}"
            )
            return summary
    options = TrainOptions(
        max_epochs=epochs, seed=seed, threads=threads, progress=progress, devices=("cpu",)
    )
    roles = axis_roles(genome)
    reports: list[TransferReport] = []

    def warm(model: torch.nn.Module, item_ids: Any, page_ids: Any) -> None:
        reports.append(transfer_weights(model, parent, genome, item_ids, page_ids, roles))

    warm_result, warm_wall = _train(genome, dataset, options, warm, "retrain (warm start)")
    summary["warm"] = _summary(warm_result, warm_wall)
    summary["transfer"] = reports[-1].as_dict()
    if compare:
        scratch, scratch_wall = _train(genome, dataset, options, None, "retrain (from scratch)")
        summary["scratch"] = _summary(scratch, scratch_wall)
    t0 = time.perf_counter()
    summary["parent_on_new_test"] = {
        "test_metrics": parent_metrics(parent, genome, dataset),
        "wall_s": round(time.perf_counter() - t0, 2),
        "train_wall_s": parent.metrics.get("wall_s"),
    }
    summary.update(_write(warm_result, parent, dataset, out, data, split, options, summary))
    summary["retrained"] = True
    return summary


def _unit(data: Any) -> str:
    from autorec.families import family_of

    return family_of(data).data_kind


def _write(
    result: Any,
    parent: Bundle,
    dataset: Any,
    out: str | Path,
    data: str | None,
    split: str | None,
    options: Any,
    summary: dict[str, Any],
) -> dict[str, Any]:
    """The warm-started network as a bundle (via a ``train --save`` folder and
    :func:`autorec.export.export_bundle`), its data card linking the parent."""
    from autorec.cli.train import data_info
    from autorec.train.saving import save_trained

    info = data_info(dataset, data, split)
    card_extra = {
        "how": f"retrained from parent bundle {parent.model_version}, warm-started from its "
        "weights",
        "exported_from": str(parent.path.resolve()),
        "parent": {
            "bundle": str(parent.path.resolve()),
            "model_version": parent.model_version,
            "genome_key": parent.manifest.get("genome_key"),
            "split": parent.data_card.get("split"),
            "data": parent.data_card.get("data"),
        },
        "retrain": {
            k: summary[k]
            for k in ("since", "new", "transfer", "scratch", "parent_on_new_test")
            if k in summary
        },
    }
    with tempfile.TemporaryDirectory(prefix=".retrain-", dir=Path(out).absolute().parent) as tmp:
        saved = Path(tmp) / "saved"
        save_trained(result, saved, data=info, options=options)
        exported = export_bundle(saved, out, data=data, split=info["split"], card_extra=card_extra)
    return {
        "bundle": exported["bundle"],
        "model_version": exported["manifest"]["model_version"],
    }
