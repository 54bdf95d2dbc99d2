"""Request bodies replayed from a data set: for each entity ``autorec recommend`` writes
(a session, or a customer with purchases in the input window), the ``POST /recommend``
body that asks the service for the same recommendations. Load tests send them, and the
served answers are compared with the offline table row for row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import numpy as np

from autorec.export import Bundle, full_prefix_samples, input_window, remap_sessions

__all__ = ["replay_requests"]


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(int(seconds), tz=timezone.utc).isoformat()


def replay_requests(
    bundle: Bundle,
    *,
    data: str | None = None,
    split: str | None = None,
    k: int = 10,
    limit: int | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """``(entity id, request body)`` pairs in the order ``recommend`` writes its rows,
    at most ``limit`` of them. ``data`` / ``split`` default to the data card's."""
    card = bundle.data_card
    data_path = data if data is not None else card.get("data")
    split = split if split is not None else card.get("split")
    loader_args = dict(card.get("loader_args", {}))
    from autorec.families import get_family

    source = _SOURCE_FOR[get_family(bundle.family).entity]
    out: list[tuple[str, dict[str, Any]]] = []
    for pair in source(bundle, data_path, split, loader_args, k):
        if limit is not None and len(out) >= limit:
            break
        out.append(pair)
    return out


def _sessions(
    bundle: Bundle, data: Any, split: Any, loader_args: dict[str, Any], k: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every session's full prefix (raw page ids and dwell as the data has them, unknown
    pages included) and the items its user bought earlier in the same period, which is
    what ``recommend`` gives the network's FNN input."""
    from autorec.data import load_session_data
    from autorec.genome import Genome
    from autorec.train import batching

    genome = Genome.from_dict(bundle.genome)
    sdata = load_session_data(data, split, **loader_args)
    for log in (sdata.split.train, sdata.split.valid, sdata.split.test):
        remapped, _ = remap_sessions(log, bundle)
        samples = full_prefix_samples(remapped)
        for start in range(0, len(samples.session), 1024):
            rows = np.arange(start, min(len(samples.session), start + 1024), dtype=np.int64)
            batch = batching.session_batch(genome, remapped, samples, rows)
            user_idx = batch["user_idx"].numpy()
            offs = np.append(batch["user_offsets"].numpy(), len(user_idx))
            for row, s in enumerate(samples.session[rows]):
                a, b = log.page_ptr[s], log.page_ptr[s + 1]
                history = bundle.item_ids[user_idx[offs[row] : offs[row + 1]]]
                body = {
                    "pages": log.pages.raw[log.page[a:b]].tolist(),
                    "dwell": [float(x) for x in log.dwell[a:b]],
                    "k": k,
                }
                if len(history):
                    body["history"] = history.tolist()
                yield str(remapped.session_ids[s]), body


def _customers(
    bundle: Bundle, data: Any, split: Any, loader_args: dict[str, Any], k: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every customer with a catalogue purchase in the production input window
    (``recommend``'s ``latest`` mode), with all their purchases in that window."""
    from autorec.data import load_purchase_log
    from autorec.export import latest_examples

    start, end = input_window(bundle)
    lo, hi = int(start.timestamp()), int(end.timestamp())
    log = load_purchase_log(data, **loader_args)
    examples = latest_examples(log, bundle.item_ids, lo, hi)
    order = np.argsort(log.user, kind="stable")
    ptr = np.searchsorted(log.user[order], np.arange(len(log.users) + 1))
    for c in examples.customers:
        mine = order[ptr[c] : ptr[c + 1]]
        mine = mine[(log.time[mine] >= lo) & (log.time[mine] < hi)]
        purchases = [
            {"item": str(log.items.raw[log.item[i]]), "date": _iso(log.time[i])} for i in mine
        ]
        yield str(log.users.raw[c]), {"purchases": purchases, "k": k}


#: The requests of each kind of entity a family recommends for (:attr:`Family.entity`).
_SOURCE_FOR = {"session": _sessions, "customer": _customers}
