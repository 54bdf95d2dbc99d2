"""The session family (``drnn``): page-view sessions, the DRNN paper's network and protocol.

Training: :func:`autorec.train.train_sessions` (shortened-path prefix samples, top-1 on the
validation samples); scoring: :func:`autorec.evaluation.evaluate_sessions`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from autorec.families._protocol import Trainer, check_data_kind, iso, short

if TYPE_CHECKING:
    import numpy as np
    import torch

    from autorec.data.types import EventLog, IntArray
    from autorec.genome import Genome

__all__ = ["SessionFamily"]


class SessionFamily:
    """DRNN genomes trained on page-view sessions (e.g. yoochoose)."""

    name = "drnn"
    data_kind = "sessions"
    depth_gene = "length"
    nsga2_objectives: tuple[str, ...] = ("fitness", "-n_params")
    # a recommendation is for a session prefix; the network reads pages
    entity = "session"
    needs_pages = True
    # what evaluating a saved network reports, and the sizes its data must match
    evaluated_parts: tuple[str, ...] = ("valid", "test")
    # whether --protocol / --train-windows / --autoencoder shape its training examples
    training_protocols = False
    data_noun = "session data"
    checked_dims: tuple[str, ...] = ("n_pages", "n_items")
    # the fitness run trains the network the test metrics score
    kept_weights_final = True

    def __repr__(self) -> str:
        return "SessionFamily()"

    # -- genome schema ------------------------------------------------------------------
    def inactive_genes(self, values: Mapping[str, Any]) -> set[str]:
        return set() if values.get("fnn") else {"fnn_layers", "fnn_units"}

    # -- data -----------------------------------------------------------------------------
    def accepts(self, data: object) -> bool:
        from autorec.data.types import SessionData

        return isinstance(data, SessionData)

    def check_data(self, data: object) -> None:
        check_data_kind(
            self, data, "pass page-view sessions (e.g. yoochoose) or a predictor genome"
        )

    def synthesize(self, rng: np.random.Generator) -> EventLog:
        from autorec.data.synthetic import synthesize_sessions

        return synthesize_sessions(rng)

    def load_data(
        self,
        path: Any,
        split: str | None,
        *,
        seed: int = 0,
        train_windows: int = 1,
        autoencoder: bool = False,
    ) -> Any:
        from autorec.data import load_session_data

        return load_session_data(path, split, seed=seed)  # sessions ignore the windows

    def dims(self, data: Any) -> dict[str, int]:
        log = data.split.train
        return {"n_pages": len(log.pages), "n_items": len(log.items), "n_users": len(log.users)}

    def model_dims(self, data: Any) -> dict[str, int]:
        return self.dims(data)

    def split_dates(self, data: Any) -> tuple[datetime, ...]:
        return (data.split.val_start, data.split.test_start)

    def split_string(self, data: Any) -> str:
        return ",".join(iso(d) for d in self.split_dates(data))

    def dates_card(self, data: Any, end: datetime | None) -> dict[str, str]:
        return {
            "val_start": data.split.val_start.isoformat(),
            "test_start": data.split.test_start.isoformat(),
        }

    def counts(self, data: Any) -> dict[str, int]:
        s = data.split
        return {
            "train_sessions": s.train.n_sessions,
            "valid_sessions": s.valid.n_sessions,
            "test_sessions": s.test.n_sessions,
            "pages": len(s.train.pages),
            "items": len(s.train.items),
            "users": len(s.train.users),
            "train_samples": len(data.train_samples.session),
            "test_samples": len(data.test_samples.session),
        }

    def count_new(self, data: Any, since: int) -> int:
        s = data.split
        return int(sum((lg.start >= since).sum() for lg in (s.train, s.valid, s.test)))

    # -- training -------------------------------------------------------------------------
    def default_accuracy(self, k: int) -> str:
        return "top1"

    def accuracy_mismatch(self, name: str, parts: Mapping[str, str | None]) -> tuple[str, str]:
        if parts.get("topk") is not None:
            return "", ""
        return f"{name!r} is a purchase-history accuracy but the data are sessions", (
            "use top1 or topK"
        )

    def train(
        self,
        genome: Genome,
        data: Any,
        options: Any,
        on_epoch: Callable[[Any], None] | None,
        device: torch.device,
        box: dict[str, Any],
        init: Any = None,
    ) -> Any:
        from autorec.train import train_sessions

        return train_sessions(genome, data, options, on_epoch, device, box, init)

    def spec(self, genome: Genome, dims: Any, devices: tuple[str, ...]) -> Any:
        from autorec.models import drnn_spec

        return drnn_spec(genome, dims, devices)

    def sample_batch(self, genome: Genome, data: Any, rows: IntArray) -> dict[str, torch.Tensor]:
        from autorec.models import batches

        rows = rows[rows < len(data.train_samples.session)]
        width = int(genome.genes["width"])
        out: dict[str, torch.Tensor] = batches.session_batch(
            data.split.train, data.train_samples, rows, width=width
        )
        return out

    # -- evaluation -----------------------------------------------------------------------
    def primary_metrics(self, k: int) -> tuple[str, ...]:
        return ("top1", f"top{k}")  # the DRNN paper's accuracy, then top-K

    def evaluate(
        self,
        ranker: Any,
        data: Any,
        *,
        k: int = 10,
        part: str = "test",
        ks: tuple[int, ...] | None = None,
    ) -> dict[str, float]:
        from autorec.evaluation import evaluate_sessions

        log = data.split.valid if part == "valid" else data.split.test
        samples = data.valid_samples if part == "valid" else data.test_samples
        out: dict[str, float] = evaluate_sessions(
            ranker, log, samples, ks=ks if ks is not None else (1, k)
        )
        return out

    def fit_baseline(self, model: Any, data: Any, *, validation: bool = False) -> Any:
        return model.fit_sessions(data.split.train, history=(data.split.valid,))

    def model_ranker(
        self, genome: Genome, model: torch.nn.Module, data: Any, *, batch_size: int = 1024
    ) -> Any:
        from autorec.models import batches, user_histories
        from autorec.train import ModelSessionRanker

        split = data.split  # the FNN branch reads the users' purchases, as in training
        fnn = bool(genome.genes.get("fnn", False))
        hist = user_histories(split.train, split.valid, split.test) if fnn else None
        width = int(genome.genes["width"])
        return ModelSessionRanker(
            model,
            lambda log, s, rows: batches.session_batch(log, s, rows, width=width, histories=hist),
            batch_size=batch_size,
        )

    # -- export ---------------------------------------------------------------------------
    def bundle_catalogue(self, genome: Genome, data: Any) -> dict[str, Any]:
        log = data.split.train
        return {
            "item_ids": log.items.raw,
            "page_ids": log.pages.raw,
            "page_item": log.page_item,
            "inputs": {
                "width": int(genome.genes["width"]),
                "n_pages": len(log.pages),
                "dwell_cap_s": DWELL_CAP_S,
            },
        }

    def retrain_all(
        self, genome: Genome, data: Any, options: Any, train: Trainer, what: str
    ) -> tuple[Any, Any, dict[str, Any], str, datetime | None]:
        """The early-stopped run on the original split fixes the epoch count E; the network
        is then retrained from scratch for exactly E epochs on every session."""
        from autorec.train import TrainOptions

        first = train(genome, data, options, what)
        epochs = max(1, first.epochs)
        fixed = TrainOptions(
            max_epochs=epochs,
            min_epochs=epochs,  # exactly E epochs (π = inf bounds the first window tested)
            pi=math.inf,
            seed=options.seed,
            devices=options.devices,
            threads=options.threads,
            test=False,
            progress=options.progress,
        )
        result = train(genome, _all_sessions(data), fixed, "--retrain-all")
        metrics = {**first.summary(), "retrained_all_epochs": result.epochs}
        return data, result, metrics, f"retrained on every session for {first.epochs} epochs", None

    # -- resources ------------------------------------------------------------------------
    def memory_terms(
        self, genes: Mapping[str, Any], dims: Any, batch: int, bag: int
    ) -> tuple[int, int, int, int, int]:
        """``(item params, other params, saved, transient, item activations)`` bytes of
        one training step (:func:`autorec.sharding.estimate_memory`)."""
        from autorec import sharding as m

        n_items, n_pages = m.dim(dims, "n_items"), m.dim(dims, "n_pages")
        w = int(m.gene(genes, "width"))
        units = m.layer_units(genes, "length")
        h = int(m.gene(genes, "height", 0))
        fnn = bool(m.gene(genes, "fnn", False))
        f_layers, f_units = int(m.gene(genes, "fnn_layers", 1)), int(m.gene(genes, "fnn_units", 1))
        dropout = float(m.gene(genes, "dropout", 0.0)) > 0.0
        # parameters (codegen/_drnn.py): page table, dwell gain, bias, recurrences, layer links
        item = (n_pages + 1) * units[0]  # make_item_input builds the page table: sharded too
        other = 2 * units[0] + units[0] * units[0]
        for below, u in itertools.pairwise(units):
            other += below * u + u + u * u
        heads = units[-1] + sum(units[:h])  # top (with bias) and shortcut heads (no bias)
        item += heads * n_items + n_items
        if fnn:
            item += n_items * f_units + f_units * n_items  # item input table, item output layer
            other += f_units + (f_layers - 1) * (f_units * f_units + f_units)
        if bool(m.gene(genes, "view_path", False)):
            other += n_items + 1
        # activations saved for backward
        states = w + 1  # the window plus the history state
        # per layer and state: the activation and the previous state, plus the layer's states
        # stacked into one tensor (the next layer's and the heads' input, read as views)
        hidden = states * sum(3 * u for u in units)
        if dropout:
            hidden += states * sum(units) + w * heads  # dropout outputs (masks are 1 byte: below)
        saved = m.FLOAT_BYTES * batch * hidden + batch * (states * sum(units) if dropout else 0)
        saved += m.bag_index_bytes(batch * w, batch * w) + m.bag_index_bytes(batch * bag, batch)
        if fnn:  # run for the last state and again for the earlier ones (their own columns)
            calls = 2 if w > 1 else 1
            saved += calls * m.FLOAT_BYTES * batch * f_units * (2 * f_layers + 1)
            saved += calls * m.bag_index_bytes(batch * bag, batch)
        # item-sized: the runtime's loss saves one tensor per scored state and item (the exp of
        # the softmax's log-sum-exp / the BCE's softplus input); the logits and their gradient are
        # alive besides. Scored: every item at every state, or -- a sampled output, or the earlier
        # states of a big catalogue (autorec.models.STATE_SAMPLING_FACTOR) -- the candidates only
        # (about batch + negatives items).
        negatives = int(m.gene(genes, "negatives", 128))
        cand = min(n_items, batch + negatives)
        if str(m.gene(genes, "output", "full")) == "sampled":
            cells = w * cand
        elif w > 1 and n_items >= m.STATE_SAMPLING_FACTOR * negatives:
            cells = n_items + (w - 1) * cand
        else:
            cells = w * n_items
        item_saved = m.FLOAT_BYTES * batch * cells
        transient = 2 * item_saved
        return item, other, saved + item_saved, transient, item_saved + transient

    # -- search ---------------------------------------------------------------------------
    def trial_shape(self, config: Mapping[str, Any]) -> str:
        return (
            f"w{short(config.get('width'))}l{short(config.get('length'))}"
            f"h{short(config.get('height'))}"
        )


#: Dwell times are capped at an hour (a tab left open is not an hour of reading).
DWELL_CAP_S = 3600.0


def _all_sessions(data: Any) -> Any:
    """``data`` with every session (train, validation and test periods) as training data."""
    from autorec.data import session_samples
    from autorec.data.types import SessionData

    s = data.split
    full = _concat_sessions([s.train, s.valid, s.test])
    return SessionData(
        split=replace(s, train=full),
        train_samples=session_samples(full),
        valid_samples=data.valid_samples,
        test_samples=data.test_samples,
        source=data.source,
    )


def _concat_sessions(logs: list[Any]) -> Any:
    """One log of every session of ``logs`` (they share pages, items and users)."""
    import numpy as np

    first = logs[0]

    def cat(name: str) -> Any:
        return np.concatenate([getattr(lg, name) for lg in logs])

    def ptr(name: str) -> Any:
        parts, base = [np.zeros(1, dtype=np.int64)], 0
        for lg in logs:
            p = getattr(lg, name)
            parts.append(p[1:] + base)
            base += int(p[-1])
        return np.concatenate(parts).astype(np.int64)

    return replace(
        first,
        session_ids=cat("session_ids"),
        user=cat("user"),
        start=cat("start"),
        page_ptr=ptr("page_ptr"),
        page=cat("page"),
        view_time=cat("view_time"),
        dwell=cat("dwell"),
        buy_ptr=ptr("buy_ptr"),
        buy=cat("buy"),
        buy_time=cat("buy_time"),
    )
