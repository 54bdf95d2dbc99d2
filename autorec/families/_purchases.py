"""The purchase family (``predictor``): dated purchase histories, the soft-split paper's
network and protocol.

Training: :func:`autorec.train.train_purchases` (fitness on the month-shifted validation
protocol, test metrics from a retrain on the real one); scoring:
:func:`autorec.evaluation.evaluate_customers`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from autorec.families._protocol import Trainer, check_data_kind, iso, short

if TYPE_CHECKING:
    import numpy as np
    import torch

    from autorec.data.types import EventLog, IntArray
    from autorec.genome import Genome

__all__ = ["PurchaseFamily"]

#: The ``split_mode`` of eq. 3 (the plain predictor, no auto-encoder term).
_HARD_SPLIT = "predictor"


class PurchaseFamily:
    """Predictor genomes trained on purchase histories (e.g. ml-100k ratings)."""

    name = "predictor"
    data_kind = "purchases"
    depth_gene = "layers"
    nsga2_objectives: tuple[str, ...] = ("fitness", "val_pcc@10", "-n_params")
    # the test metrics come from a retrain on the real protocol, not the fitness run
    kept_weights_final = False
    # a recommendation is for a customer's dated purchases; no pages
    entity = "customer"
    needs_pages = False
    # what evaluating a saved network reports, and the sizes its data must match
    evaluated_parts: tuple[str, ...] = ("test",)
    # whether --protocol / --train-windows / --autoencoder shape its training examples
    training_protocols = True
    data_noun = "purchase histories"
    checked_dims: tuple[str, ...] = ("n_items",)

    def __repr__(self) -> str:
        return "PurchaseFamily()"

    # -- genome schema ------------------------------------------------------------------
    def inactive_genes(self, values: Mapping[str, Any]) -> set[str]:
        inactive: set[str] = set()
        if values.get("decay_mode") != "parametric":
            inactive.add("ti")
        hard = values.get("split_mode") == _HARD_SPLIT
        if hard:
            inactive.update(("to", "wa1", "wa0", "wp1", "wp0"))
        else:
            inactive.update(("w1", "w0"))
            if values.get("split_mode") == "equal":
                inactive.add("to")
        if values.get("loss") == "softmax":
            inactive.update(("w0", "wa0", "wp0"))
            if hard:
                inactive.add("w1")
        return inactive

    # -- data -----------------------------------------------------------------------------
    def accepts(self, data: object) -> bool:
        from autorec.data.types import PurchaseData

        return isinstance(data, PurchaseData)

    def check_data(self, data: object) -> None:
        check_data_kind(self, data, "pass purchase data (e.g. ml-100k) or a drnn genome")

    def synthesize(self, rng: np.random.Generator) -> EventLog:
        from autorec.data.synthetic import synthesize_purchases

        return synthesize_purchases(rng)

    def load_data(
        self,
        path: Any,
        split: str | None,
        *,
        seed: int = 0,
        train_windows: int = 1,
        autoencoder: bool = False,
    ) -> Any:
        from autorec.data import load_purchase_data

        return load_purchase_data(
            path, split, seed=seed, train_windows=train_windows, autoencoder=autoencoder
        )

    def dims(self, data: Any) -> dict[str, int]:
        # the larger catalogue of the validation and the real protocol (a trial trains on both)
        both = [protocol_dims(p, data.log) for p in (data.validation, data.protocol)]
        return max(both, key=lambda d: d["n_items"])

    def model_dims(self, data: Any) -> dict[str, int]:
        # the returned network is the one retrained on the real protocol
        return protocol_dims(data.protocol, data.log)

    def split_dates(self, data: Any) -> tuple[datetime, ...]:
        d = data.protocol.dates
        return (d.dx, d.dxy, d.dyz, d.dz)

    def split_string(self, data: Any) -> str:
        return ",".join(iso(d) for d in self.split_dates(data))

    def dates_card(self, data: Any, end: datetime | None) -> dict[str, str]:
        d = data.protocol.dates
        out = {k: getattr(d, k).isoformat() for k in ("dx", "dxy", "dyz", "dz")}
        out["end"] = (end or d.dz).isoformat()
        return out

    def counts(self, data: Any) -> dict[str, int]:
        p = data.protocol
        return {
            "purchases": len(data.log.time),
            "customers": len(data.log.users),
            "items": len(data.log.items),
            "train_customers": p.train.n_customers,
            "test_customers": p.test.n_customers,
            "validation_customers": data.validation.test.n_customers,
        }

    def count_new(self, data: Any, since: int) -> int:
        return int((data.log.time >= since).sum())

    # -- training -------------------------------------------------------------------------
    def default_accuracy(self, k: int) -> str:
        return f"precision@{k}"

    def accuracy_mismatch(self, name: str, parts: Mapping[str, str | None]) -> tuple[str, str]:
        if parts.get("pk") is not None:
            return "", ""
        return f"{name!r} is a session accuracy but the data are purchase histories", (
            "use precision@K"
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
        from autorec.train import train_purchases

        return train_purchases(genome, data, options, on_epoch, device, box, init)

    def spec(self, genome: Genome, dims: Any, devices: tuple[str, ...]) -> Any:
        from autorec.models import predictor_spec

        return predictor_spec(genome, dims, devices)

    def sample_batch(self, genome: Genome, data: Any, rows: IntArray) -> dict[str, torch.Tensor]:
        from autorec.models import batches

        train = data.protocol.train
        out: dict[str, torch.Tensor] = batches.purchase_batch(train, rows[rows < train.n_customers])
        return out

    # -- evaluation -----------------------------------------------------------------------
    def primary_metrics(self, k: int) -> tuple[str, ...]:
        return (f"precision@{k}", f"pcc@{k}")  # the soft-split paper's accuracy, coverage

    def evaluate(
        self,
        ranker: Any,
        data: Any,
        *,
        k: int = 10,
        part: str = "test",
        ks: tuple[int, ...] | None = None,
    ) -> dict[str, float]:
        from autorec.evaluation import evaluate_customers

        # "valid": the month-shifted validation protocol's XY -> Z
        protocol = data.validation if part == "valid" else data.protocol
        out: dict[str, float] = evaluate_customers(ranker, protocol.test, protocol.n_items, k=k)
        return out

    def fit_baseline(self, model: Any, data: Any, *, validation: bool = False) -> Any:
        return model.fit_purchases(data.log, data.validation if validation else data.protocol)

    def model_ranker(
        self, genome: Genome, model: torch.nn.Module, data: Any, *, batch_size: int = 1024
    ) -> Any:
        from autorec.models import batches
        from autorec.train import ModelCustomerRanker

        return ModelCustomerRanker(
            model, lambda ex, rows: batches.purchase_batch(ex, rows), batch_size=batch_size
        )

    # -- export ---------------------------------------------------------------------------
    def bundle_catalogue(self, genome: Genome, data: Any) -> dict[str, Any]:
        return {
            "item_ids": data.log.items.raw[data.protocol.catalogue],
            "page_ids": None,
            "page_item": None,
            "inputs": {"age_unit": "days before the end of the input window"},
        }

    def retrain_all(
        self, genome: Genome, data: Any, options: Any, train: Trainer, what: str
    ) -> tuple[Any, Any, dict[str, Any], str, datetime | None]:
        """The protocol X' -> Y' with dx' = dx, dyz' = the day after the last purchase, Y'
        as long as the original Y, Z' after the data; the fitness run is the original real
        protocol, the network is retrained on X' -> Y' for as many epochs."""
        from autorec.data import build_protocol
        from autorec.data.types import PurchaseData, SplitDates

        d = data.protocol.dates
        end = _day_after_last(data.log.time)
        dates = SplitDates(d.dx, end - (d.dyz - d.dxy), end, end + (d.dz - d.dyz))
        everything = PurchaseData(
            protocol=build_protocol(data.log, dates, check=False),
            validation=data.protocol,
            log=data.log,
            source=data.source,
        )
        result = train(genome, everything, options, "--retrain-all")
        metrics = {
            **result.summary(),
            "holdout_metrics": dict(result.val_metrics),
            "test_metrics": {},
        }
        how = "retrained on all data (purchases: Y' ends at the last date)"
        return everything, result, metrics, how, end

    # -- resources ------------------------------------------------------------------------
    def memory_terms(
        self, genes: Mapping[str, Any], dims: Any, batch: int, bag: int
    ) -> tuple[int, int, int, int, int]:
        """``(item params, other params, saved, transient, item activations)`` bytes of
        one training step (:func:`autorec.sharding.estimate_memory`)."""
        from autorec import sharding as m

        n_items = m.dim(dims, "n_items")
        units = m.layer_units(genes, "layers")
        dropout = float(m.gene(genes, "dropout", 0.0)) > 0.0
        item = n_items * units[0] + units[-1] * n_items + n_items  # input table, output layer
        other = units[0] + sum(a * b + b for a, b in itertools.pairwise(units))
        if m.gene(genes, "decay_mode", "none") == "learnt":
            other += 33  # one weight per age bin plus a bias (eq. 4)
        hidden = sum(units) * (2 if dropout else 1)
        saved = m.FLOAT_BYTES * batch * hidden + (batch * sum(units) if dropout else 0)
        saved += m.bag_index_bytes(batch * bag, batch) + m.FLOAT_BYTES * batch * bag
        # item-sized loss tensors (codegen/runtime.py): each softmax term saves the exp of its
        # log-sum-exp, the BCE's negative terms the softplus input -- one [B, N] plane each (the
        # candidates only with a sampled output); the logits and their gradient are alive besides.
        split = str(m.gene(genes, "split_mode", "predictor"))
        if str(m.gene(genes, "loss", "bce")) == "softmax":
            planes = 1 if split == _HARD_SPLIT else 1 + int(float(m.gene(genes, "wa1", 1.0)) > 0)
        elif split == _HARD_SPLIT:
            planes = int(float(m.gene(genes, "w0", 1.0)) > 0)
        else:
            planes = int(
                float(m.gene(genes, "wa0", 1.0)) > 0 or float(m.gene(genes, "wp0", 0.0)) > 0
            )
        cols = n_items
        if str(m.gene(genes, "output", "full")) == "sampled":
            cols = min(n_items, batch * 2 + int(m.gene(genes, "negatives", 128)))
        plane = m.FLOAT_BYTES * batch * cols
        # the sparse terms: per listed (row, item) entry of each target list, its logit, weights
        # and indices (LOSS_ENTRY_BYTES); X lists hold ~mean_bag entries a row, Y ~TARGETS_PER_ROW
        x_lists, y_lists = (0, 2) if split == _HARD_SPLIT else (2, 3)
        entries = batch * (x_lists * bag + y_lists * m.TARGETS_PER_ROW)
        item_saved = planes * plane + m.LOSS_ENTRY_BYTES * entries
        transient = 2 * plane  # logits and their gradient
        return item, other, saved + item_saved, transient, item_saved + transient

    # -- search ---------------------------------------------------------------------------
    def trial_shape(self, config: Mapping[str, Any]) -> str:
        return f"L{short(config.get('layers'))}-{short(config.get('split_mode'))}"


def protocol_dims(protocol: Any, log: Any) -> dict[str, int]:
    """The sizes of a network trained on ``protocol`` (no pages)."""
    return {"n_pages": 0, "n_items": int(protocol.n_items), "n_users": len(log.users)}


def _day_after_last(time: Any) -> datetime:
    last = datetime.fromtimestamp(int(time.max()), tz=timezone.utc)
    return last.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
