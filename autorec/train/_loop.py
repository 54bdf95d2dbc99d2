"""The training loop behind :func:`autorec.train.train_genome`, independent of the model
family: any ``nn.Module`` with ``forward(batch)`` and ``loss(batch, logits)`` (the generated
``Net`` contract) and any :class:`TrainTask` that makes batches and scores validation."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np
import torch

from autorec.data.types import IntArray
from autorec.train._types import EpochReport, TrainOptions
from autorec.train.fitness import Diverged, EpochScores, FitOutcome, run_early_stopped
from autorec.train.optim import apply_step_decay, make_optimizer, row_sparse_parameters

__all__ = [
    "Batch",
    "Hyper",
    "TrainTask",
    "data_loss_of",
    "fit_model",
    "loss_of",
    "model_loss",
    "train_epochs",
]

Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Hyper:
    """The training genes of a genome (the "basic" genes of :mod:`autorec.genome`'s schema)."""

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    batch_size: int = 256
    l2: float = 0.0
    lr_step: int = 100
    lr_factor: float = 5.0
    l2_as_weight_decay: bool = False

    @classmethod
    def from_genes(cls, genes: Mapping[str, Any], *, l2_in_loss: bool) -> Hyper:
        """Read the training genes; ``l2`` becomes the optimiser's weight decay unless the
        generated loss already adds the L2 penalty (``l2_in_loss``)."""
        d = cls()
        return cls(
            optimizer=str(genes.get("optimizer", d.optimizer)),
            learning_rate=float(genes.get("learning_rate", d.learning_rate)),
            momentum=float(genes.get("momentum", d.momentum)),
            batch_size=int(genes.get("batch_size", d.batch_size)),
            l2=float(genes.get("l2", d.l2)),
            lr_step=int(genes.get("lr_step", d.lr_step)),
            lr_factor=float(genes.get("lr_factor", d.lr_factor)),
            l2_as_weight_decay=not l2_in_loss,
        )


class TrainTask(Protocol):
    """Training samples and a validation scorer for one data set."""

    @property
    def n_train(self) -> int: ...

    def train_batch(self, rows: IntArray) -> Batch:
        """The batch of training samples ``rows``."""
        ...

    def validate(self, model: torch.nn.Module) -> tuple[float, float]:
        """``(mean loss, accuracy)`` of ``model`` (in eval mode) on the validation split."""
        ...


def loss_of(model: torch.nn.Module, batch: Batch, logits: torch.Tensor) -> torch.Tensor:
    """``model.loss(batch, logits)`` (the generated ``Net.loss``)."""
    fn = cast(Callable[[Batch, torch.Tensor], torch.Tensor], model.loss)
    return fn(batch, logits)


def data_loss_of(model: torch.nn.Module, batch: Batch, logits: torch.Tensor) -> torch.Tensor:
    """The loss without regularisers (``Net.data_loss`` where the network defines it, else
    ``Net.loss``): the *loss* of the fitness, which measures the predictions."""
    fn = getattr(model, "data_loss", None)
    if callable(fn):
        out: torch.Tensor = fn(batch, logits)
        return out
    return loss_of(model, batch, logits)


def model_loss(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """``model.loss(batch, model(batch))``."""
    return loss_of(model, batch, model(batch))


@contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was)


def train_epochs(
    model: torch.nn.Module,
    task: TrainTask,
    hyper: Hyper,
    generator: torch.Generator,
    *,
    progress: Any = None,
    diverge_factor: float | None = None,
) -> Callable[[int], float]:
    """An ``epoch(e) -> mean training loss`` closure: sets the step-decayed rate of epoch
    ``e``, shuffles the training samples with ``generator`` and runs one pass of minibatch
    updates. Raises :class:`Diverged` as soon as a batch loss is NaN/inf or exceeds
    ``diverge_factor`` times the first batch's loss."""
    optimizer = make_optimizer(
        model.parameters(),
        hyper.optimizer,
        learning_rate=hyper.learning_rate,
        momentum=hyper.momentum,
        weight_decay=hyper.l2 if hyper.l2_as_weight_decay else 0.0,
        sparse=row_sparse_parameters(model),
    )
    n = task.n_train
    bs = max(1, min(hyper.batch_size, n))
    first: list[float] = []

    def epoch(e: int) -> float:
        apply_step_decay(optimizer, hyper.learning_rate, e, hyper.lr_step, hyper.lr_factor)
        model.train()
        order = torch.randperm(n, generator=generator).numpy().astype(np.int64)
        total, count = 0.0, 0
        n_batches = math.ceil(n / bs)
        if progress is not None:
            progress.start_epoch(e, n_batches)
        for b in range(n_batches):
            rows = order[b * bs : (b + 1) * bs]
            batch = task.train_batch(rows)
            optimizer.zero_grad(set_to_none=True)
            loss = model_loss(model, batch)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise Diverged(f"training loss {value} at epoch {e}, batch {b}")
            if not first:
                first.append(abs(value))
            elif diverge_factor is not None and first[0] > 0 and value > diverge_factor * first[0]:
                raise Diverged(
                    f"training loss {value:.4g} at epoch {e}, batch {b} is over "
                    f"{diverge_factor:g} times the initial loss {first[0]:.4g}"
                )
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            total += value * len(rows)
            count += len(rows)
            if progress is not None:
                progress.advance()
        return total / max(count, 1)

    return epoch


def fit_model(
    model: torch.nn.Module,
    task: TrainTask,
    hyper: Hyper,
    options: TrainOptions,
    generator: torch.Generator,
    *,
    on_epoch: Callable[[EpochReport], None] | None = None,
    max_epochs: int | None = None,
    early_stop: bool = True,
    progress: Any = None,
) -> FitOutcome:
    """Train ``model`` on ``task`` with early-stopped fitness (:mod:`autorec.train.fitness`).

    With ``early_stop=False`` it trains exactly ``max_epochs`` epochs (used to retrain a
    purchase genome on the real protocol for the epochs its validation run took); the
    outcome's status is then "ok" unless the run diverged or failed."""
    run_epoch = train_epochs(
        model, task, hyper, generator, progress=progress, diverge_factor=options.diverge_factor
    )
    epochs = max_epochs if max_epochs is not None else options.max_epochs

    def epoch_fn(e: int) -> EpochScores:
        train_loss = run_epoch(e)
        with _eval_mode(model):
            val_loss, acc = task.validate(model)
        if not math.isfinite(val_loss):
            raise Diverged(f"validation loss {val_loss} at epoch {e}")
        if progress is not None:
            progress.end_epoch(e, train_loss, val_loss, acc)
        return EpochScores(train_loss, val_loss, acc)

    if not early_stop:
        # pi = inf, tested from the last epoch on: bounded exactly there, scored on the
        # last ``window`` epochs like an early-stopped run
        return run_early_stopped(
            epoch_fn,
            max_epochs=epochs,
            pi=math.inf,
            window=min(options.window, epochs),
            on_epoch=on_epoch,
            min_epochs=epochs,
        )
    return run_early_stopped(
        epoch_fn,
        max_epochs=epochs,
        pi=options.pi,
        window=options.window,
        max_wall_s=options.max_wall_s,
        on_epoch=on_epoch,
        n_val=getattr(task, "n_val", None),  # the adaptive π's sample count
        min_epochs=min(options.min_epochs, epochs),
    )
