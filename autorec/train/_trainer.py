"""``train_genome``: one genome, one data set, early-stopped fitness, test metrics.

Session family (DRNN paper Sec. III.E, IV.B, V): train on the training split's
shortened-path prefix samples, score top-1 (``TrainOptions.accuracy``) and the loss on the
validation samples after every epoch, stop as soon as the accuracy is bounded, then report
validation and test metrics (top-1, top-10, path compression ratio) with
:func:`autorec.evaluation.evaluate_sessions` -- the function the baselines are scored with.

Purchase family (soft-split paper Sec. 3.1 and Appendix A): the fitness comes from the
*validation protocol* (the requested dates shifted one month back): train on its X → Y,
score Precision@K on its XY → Z with the inputs excluded. The paper tunes hyper-parameters
on that month-shifted split so the test window Z is never seen while tuning. The test
metrics then come from the same genome retrained from scratch (same seed) on the real
protocol's X → Y for exactly the number of epochs the validation run took, scored on its
XY → Z with :func:`autorec.evaluation.evaluate_customers`; that retrained network is the
returned model.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch

from autorec.data.types import (
    CustomerExamples,
    IntArray,
    PurchaseData,
    PurchaseProtocol,
    SessionData,
    SessionLog,
    SessionSamples,
)
from autorec.errors import AutorecError
from autorec.evaluation import evaluate_customers, evaluate_sessions
from autorec.families import get_family
from autorec.train import _batching
from autorec.train._loop import Batch, Hyper, fit_model
from autorec.train._progress import EpochProgress
from autorec.train._scoring import hits_per_row, reference_loss
from autorec.train._threads import apply_thread_policy
from autorec.train._types import EpochReport, Status, TrainOptions, TrainResult
from autorec.train.fitness import FitOutcome
from autorec.train.optim import seed_everything, set_threads
from autorec.train.rankers import ModelCustomerRanker, ModelSessionRanker, topk_of

if TYPE_CHECKING:
    from autorec.genome import Genome

__all__ = ["Init", "count_params", "train_genome", "train_purchases", "train_sessions"]

#: ``init(model, item_ids, page_ids)``: called on every network :func:`train_genome` builds,
#: after its own initialisation and before training, with the raw ids of the network's item
#: (output) columns and of its pages (None for purchases) -- a warm start copies earlier
#: weights in there (:func:`autorec.serve.transfer_weights`).
Init = Callable[[torch.nn.Module, npt.NDArray[np.str_], "npt.NDArray[np.str_] | None"], None]


def count_params(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _check_device(name: str) -> torch.device:
    """``torch.device(name)`` for a CPU or a visible CUDA GPU, else an :class:`AutorecError`
    naming ``--devices``, the bad value and the fix."""
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError) as err:
        raise AutorecError(
            "option --devices",
            f"unknown device {name!r} ({str(err).splitlines()[0]})",
            "use cpu, cuda or cuda:N, comma-separated (e.g. --devices cpu,cpu)",
        ) from None
    if dev.type not in ("cpu", "cuda"):
        raise AutorecError(
            "option --devices",
            f"device {name!r} is not supported",
            "use cpu, cuda or cuda:N, comma-separated (e.g. --devices cpu,cpu)",
        )
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise AutorecError(
                "option --devices",
                f"{name!r} asked for but CUDA is not available on this machine",
                "use --devices cpu (or cpu,cpu to shard the item layers on the CPU)",
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise AutorecError(
                "option --devices",
                f"{name!r} asked for but only {count} GPU(s) are visible",
                f"use cuda:0 to cuda:{count - 1}",
            )
    return dev


def _device(options: TrainOptions) -> torch.device:
    """Check every device of ``options.devices`` (the item layers are sharded over all of
    them when there are several) and return the first (primary) one."""
    devices = [_check_device(str(name)) for name in options.devices]
    return devices[0]


def _to(batch: Batch, device: torch.device) -> Batch:
    if device.type == "cpu":
        return batch
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


@dataclass
class _SessionTask:
    """Training on prefix samples, validation = mean loss + top-k hit rate."""

    genome: Genome
    train_log: SessionLog
    train_samples: SessionSamples
    val_log: SessionLog
    val_samples: SessionSamples
    k: int
    device: torch.device
    eval_batch_size: int
    hist: Any = None

    @property
    def n_train(self) -> int:
        return len(self.train_samples.session)

    @property
    def n_val(self) -> int:
        """Validation samples (the adaptive π's n)."""
        return len(self.val_samples.session)

    def train_batch(self, rows: IntArray) -> Batch:
        return _to(
            _batching.session_batch(
                self.genome, self.train_log, self.train_samples, rows, self.hist
            ),
            self.device,
        )

    def validate(self, model: torch.nn.Module) -> tuple[float, float]:
        n = len(self.val_samples.session)
        loss_sum, hit_sum = 0.0, 0.0
        for start in range(0, n, self.eval_batch_size):
            rows = np.arange(start, min(n, start + self.eval_batch_size), dtype=np.int64)
            batch = _to(
                _batching.session_batch(
                    self.genome, self.val_log, self.val_samples, rows, self.hist
                ),
                self.device,
            )
            logits = model(batch)
            loss_sum += reference_loss(logits, batch["target_idx"], batch["target_offsets"])
            empty = torch.zeros(0, dtype=torch.long, device=logits.device)
            offs = torch.zeros(len(rows), dtype=torch.long, device=logits.device)
            top = topk_of(logits, empty, offs, self.k)
            hits = hits_per_row(top, batch["target_idx"], batch["target_offsets"])
            hit_sum += float((hits > 0).sum())
        return loss_sum / max(n, 1), hit_sum / max(n, 1)


@dataclass
class _PurchaseTask:
    """Training on X → Y, validation = mean loss + Precision@K on XY → Z (inputs excluded).
    With ``val`` None the validation pass is skipped (retraining on the real protocol)."""

    genome: Genome
    train: CustomerExamples
    val: CustomerExamples | None
    k: int
    device: torch.device
    eval_batch_size: int

    @property
    def n_train(self) -> int:
        return self.train.n_customers

    @property
    def n_val(self) -> int:
        """Validation customers (the adaptive π's n)."""
        return 0 if self.val is None else self.val.n_customers

    def train_batch(self, rows: IntArray) -> Batch:
        return _to(_batching.purchase_batch(self.genome, self.train, rows), self.device)

    def validate(self, model: torch.nn.Module) -> tuple[float, float]:
        if self.val is None:
            return 0.0, 0.0
        n = self.val.n_customers
        loss_sum, prec_sum = 0.0, 0.0
        for start in range(0, n, self.eval_batch_size):
            rows = np.arange(start, min(n, start + self.eval_batch_size), dtype=np.int64)
            batch = _to(_batching.purchase_batch(self.genome, self.val, rows), self.device)
            logits = model(batch)
            loss_sum += reference_loss(logits, batch["y_idx"], batch["y_offsets"])
            top = topk_of(logits, batch["x_idx"], batch["x_offsets"], self.k)
            hits = hits_per_row(top, batch["y_idx"], batch["y_offsets"])
            prec_sum += float(hits.sum()) / self.k
        return loss_sum / max(n, 1), prec_sum / max(n, 1)


def _progress(options: TrainOptions, label: str, epochs: int) -> AbstractContextManager[Any]:
    if options.progress:
        return EpochProgress(label, epochs)
    return nullcontext(None)


def _build(genome: Genome, dims: Mapping[str, int], options: TrainOptions) -> torch.nn.Module:
    model = _batching.build(genome, dims, options.devices)
    apply_thread_policy(count_params(model), options.resolved_threads())  # 1 if small
    return model


def _fit(
    genome: Genome,
    model: torch.nn.Module,
    task: Any,
    options: TrainOptions,
    gen: torch.Generator,
    on_epoch: Callable[[EpochReport], None] | None,
    label: str,
    *,
    max_epochs: int | None = None,
    early_stop: bool = True,
) -> FitOutcome:
    hyper = Hyper.from_genes(genome.genes, l2_in_loss=_batching.l2_in_loss(model))
    with _progress(options, label, max_epochs or options.max_epochs) as bar:
        return fit_model(
            model,
            task,
            hyper,
            options,
            gen,
            on_epoch=on_epoch,
            max_epochs=max_epochs,
            early_stop=early_stop,
            progress=bar,
        )


def _sizes(task: _SessionTask | _PurchaseTask) -> dict[str, float]:
    """How much the fitness rests on: training examples (prefix samples or customer
    examples) and validation samples / customers -- reported with every result."""
    return {"n_train_examples": task.n_train, "n_val": task.n_val}


def _settled(status: Status) -> bool:
    return status in ("ok", "unsettled")


def train_sessions(
    genome: Genome,
    data: SessionData,
    options: TrainOptions,
    on_epoch: Callable[[EpochReport], None] | None,
    device: torch.device,
    box: dict[str, Any],
    init: Init | None = None,
) -> TrainResult:
    acc_name, acc_k = options.accuracy_for("sessions")
    split = data.split
    dims = _batching.session_dims(split.train)
    gen = seed_everything(options.seed)
    model = _build(genome, dims, options)
    if genome.get_bool("item_prior"):
        _init_session_prior(model, split.train, data.train_samples, dims["n_items"])
    if init is not None:
        init(model, split.train.items.raw, split.train.pages.raw)
    box["model"], box["n_params"] = model, count_params(model)
    hist = (
        _batching.histories(split.train, split.valid, split.test)
        if bool(genome.genes.get("fnn", False))
        else None
    )
    task = _SessionTask(
        genome,
        split.train,
        data.train_samples,
        split.valid,
        data.valid_samples,
        acc_k,
        device,
        options.eval_batch_size,
        hist,
    )
    out = _fit(genome, model, task, options, gen, on_epoch, "train")
    model.eval()
    val_metrics: dict[str, float] = {acc_name: out.accuracy, "loss": out.loss}
    val_metrics.update(_sizes(task))
    test_metrics: dict[str, float] = {}
    if options.test and _settled(out.status):
        ranker = ModelSessionRanker(
            model,
            lambda log, s, rows: _batching.session_batch(genome, log, s, rows, hist),
            device=device,
            batch_size=options.eval_batch_size,
        )
        ks = sorted({1, 10, acc_k})
        val_metrics.update(evaluate_sessions(ranker, split.valid, data.valid_samples, ks=ks))
        test_metrics = evaluate_sessions(ranker, split.test, data.test_samples, ks=ks)
    return _result(genome, out, val_metrics, test_metrics, model, box, acc_name, dims)


def _init_item_prior(model: torch.nn.Module, examples: CustomerExamples, n_items: int) -> None:
    """Output-bias initialisation from the training targets: p = (customers whose targets
    hold the item + 1/2) / (customers + 1) (:func:`_set_item_prior`)."""
    count = np.bincount(examples.target_item, minlength=n_items)
    _set_item_prior(model, count, examples.n_customers)


def _set_item_prior(model: torch.nn.Module, count: npt.NDArray[Any], n: int) -> None:
    """Set the generated ``Net.init_item_prior`` (sharded or not), if the network has one, to
    each item's log-odds log(p / (1 - p)), p = (count + 1/2) / (n + 1)."""
    init = getattr(model, "init_item_prior", None)
    if init is None:
        return
    p = (np.asarray(count, dtype=np.float64) + 0.5) / (n + 1.0)
    init(torch.from_numpy(np.log(p / (1.0 - p))).float())


def _init_session_prior(
    model: torch.nn.Module, log: SessionLog, samples: SessionSamples, n_items: int
) -> None:
    """The DRNN's output-bias initialisation: p = (training samples whose session bought the
    item + 1/2) / (samples + 1) (:func:`_set_item_prior`) -- the purchase family's rule,
    counted over prefix samples because every prefix of a session is trained on that
    session's purchases."""
    per_session = np.bincount(samples.session, minlength=log.n_sessions)
    buyer = np.repeat(np.arange(log.n_sessions), np.diff(log.buy_ptr))
    pairs = np.unique(np.stack([buyer, log.buy]), axis=1)  # distinct (session, item)
    count = np.bincount(pairs[1], weights=per_session[pairs[0]], minlength=n_items)
    _set_item_prior(model, count, len(samples.session))


def _customer_metrics(
    genome: Genome,
    model: torch.nn.Module,
    protocol: PurchaseProtocol,
    k: int,
    device: torch.device,
    batch_size: int,
) -> dict[str, float]:
    ranker = ModelCustomerRanker(
        model,
        lambda ex, rows: _batching.purchase_batch(genome, ex, rows),
        device=device,
        batch_size=batch_size,
    )
    return evaluate_customers(ranker, protocol.test, protocol.n_items, k=k)


def train_purchases(
    genome: Genome,
    data: PurchaseData,
    options: TrainOptions,
    on_epoch: Callable[[EpochReport], None] | None,
    device: torch.device,
    box: dict[str, Any],
    init: Init | None = None,
) -> TrainResult:
    acc_name, acc_k = options.accuracy_for("purchases")
    val_p = data.validation
    dims = _batching.purchase_dims(val_p, data.log)
    gen = seed_everything(options.seed)
    model = _build(genome, dims, options)
    _init_item_prior(model, val_p.train, val_p.n_items)
    if init is not None:
        init(model, data.log.items.raw[val_p.catalogue], None)
    box["model"], box["n_params"] = model, count_params(model)
    task = _PurchaseTask(genome, val_p.train, val_p.test, acc_k, device, options.eval_batch_size)
    out = _fit(genome, model, task, options, gen, on_epoch, "validation run")
    model.eval()
    val_metrics: dict[str, float] = {acc_name: out.accuracy, "loss": out.loss}
    val_metrics.update(_sizes(task))
    test_metrics: dict[str, float] = {}
    final_model = model
    if options.test and _settled(out.status) and out.epochs > 0:
        val_metrics.update(
            _customer_metrics(genome, model, val_p, options.k, device, options.eval_batch_size)
        )
        prot = data.protocol
        test_dims = _batching.purchase_dims(prot, data.log)
        gen = seed_everything(options.seed)
        final_model = _build(genome, test_dims, options)
        _init_item_prior(final_model, prot.train, prot.n_items)
        if init is not None:
            init(final_model, data.log.items.raw[prot.catalogue], None)
        retrain = _PurchaseTask(genome, prot.train, None, acc_k, device, options.eval_batch_size)
        again = _fit(
            genome,
            final_model,
            retrain,
            options,
            gen,
            None,
            "retrain on protocol",
            max_epochs=out.epochs,
            early_stop=False,
        )
        final_model.eval()
        box["retrain_status"] = str(again.status)
        if again.status == "ok":
            test_metrics = _customer_metrics(
                genome, final_model, prot, options.k, device, options.eval_batch_size
            )
            box["n_train_final"] = retrain.n_train
            if acc_k != options.k:
                test_metrics.update(
                    _customer_metrics(
                        genome, final_model, prot, acc_k, device, options.eval_batch_size
                    )
                )
            box["n_params"] = count_params(final_model)
            dims = test_dims
        else:
            box["note"] = f"retraining on the real protocol ended {again.status}: {again.error}"
            final_model = model
    return _result(genome, out, val_metrics, test_metrics, final_model, box, acc_name, dims)


def _result(
    genome: Genome,
    out: FitOutcome,
    val_metrics: Mapping[str, float],
    test_metrics: Mapping[str, float],
    model: torch.nn.Module,
    box: dict[str, Any],
    acc_name: str,
    dims: Mapping[str, int],
) -> TrainResult:
    error = out.error
    if box.get("note"):
        error = f"{error}\n{box['note']}" if error else str(box["note"])
    return TrainResult(
        key=genome.key,
        fitness=out.fitness,
        status=out.status,
        converged=out.converged,
        epochs=out.epochs,
        val_metrics=dict(val_metrics),
        test_metrics=dict(test_metrics),
        loss=out.loss,
        n_params=int(box.get("n_params", 0)),
        wall_s=time.perf_counter() - float(box["start"]),
        model=model.eval(),
        genome=genome,
        history=out.history,
        error=error,
        accuracy_name=acc_name,
        accuracy=out.accuracy if math.isfinite(out.accuracy) else 0.0,
        dims=dict(dims),
        n_train_final=int(box.get("n_train_final", 0)),
        retrain_status=box.get("retrain_status"),
    )


def train_genome(
    genome: Genome,
    data: SessionData | PurchaseData,
    options: TrainOptions | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    init: Init | None = None,
) -> TrainResult:
    """Train ``genome`` on ``data`` and score its early-stopped fitness.

    ``fit = accuracy + 1/(1+loss)`` on the validation split (DRNN paper Sec. IV.B; see
    :mod:`autorec.train.fitness` for R, π, the window and the fit-0 cases), then test
    metrics with the baselines' evaluation functions (see this module's docstring for the
    two families' protocols). Seeded: the same genome, data and ``options.seed`` give the
    same losses on a CPU. ``on_epoch`` receives an :class:`EpochReport` after every epoch
    of the fitness run. ``init`` (a warm start) sees every network built (:data:`Init`).

    Never raises (KeyboardInterrupt aside): a failure is a result with fitness 0 and
    status "error" whose ``error`` holds the traceback.
    """
    options = options or TrainOptions()
    box: dict[str, Any] = {"start": time.perf_counter()}
    try:
        set_threads(options.resolved_threads())
        device = _device(options)
        family = get_family(genome.family)
        family.check_data(data)
        result: TrainResult = family.train(genome, data, options, on_epoch, device, box, init)
        return result
    except Exception:
        model = box.get("model")
        return TrainResult(
            key=_safe_key(genome),
            fitness=0.0,
            status="error",
            converged=False,
            epochs=0,
            val_metrics={},
            test_metrics={},
            loss=math.nan,
            n_params=int(box.get("n_params", 0)),
            wall_s=time.perf_counter() - float(box["start"]),
            model=model.eval() if isinstance(model, torch.nn.Module) else None,
            genome=genome,
            error=traceback.format_exc(),
        )


def _safe_key(genome: Genome) -> str:
    try:
        return str(genome.key)
    except Exception:
        return "?"
