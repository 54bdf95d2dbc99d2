"""Early-stopped fitness (DRNN paper, Sec. IV.B; docs/design.md#early-stopped-fitness).

    fit = accuracy + 1 / (1 + loss)

on the validation split, where *accuracy* is top-1 accuracy for sessions and Precision@K
for purchase histories (configurable, :class:`autorec.train.TrainOptions`) and *loss* is
the mean validation multinomial cross-entropy of the item scores against the targets over the
full catalogue -- one genome-independent loss, so genes that rescale a genome's own training
cost cannot buy fitness (:func:`autorec.train._scoring.reference_loss`).

The paper trains "for at most R epochs. If the accuracy is bounded by a predefined
threshold π, we return the estimated fit value and terminate the learning process
immediately. If accuracy cannot be bounded in R epochs, we set fit value as 0." It does not
say over how many epochs "bounded" is judged; we read it as: the accuracy's spread
``max - min`` over the last ``window`` epochs is at most π (so at least ``window`` epochs
are trained, or ``min_epochs`` if more).

"The estimated fit value": the epochs of the bounded window are, by the test just passed,
equal within noise, so the fit is estimated from all of them -- the mean validation accuracy
``ā`` and mean loss ``l̄`` over the window, ``fit = ā + 1/(1+l̄)`` -- rather than from the
last epoch alone. Measured on the synthetic sessions (``bench_early_stopping.py``), a genome
with Adam at lr 0.1 and batch 32 moves its validation top-1 by ±0.07 from epoch to epoch,
four times the binomial noise of 842 samples; one epoch's value would hand the GA that
noise. A full R-epoch run (``min_epochs = R``, π = inf) is scored the same way, on its last
``window`` epochs, so the two are compared like for like.

"Bounded by a predefined threshold π": the paper gives no value. A fixed π below the
sampling noise of the validation accuracy is never met -- on 842 validation samples an
accuracy near 0.2 moves by ±0.016 from epoch to epoch by chance alone, so π = 0.005 left
every run unsettled (fit 0 for all genomes). The default π is therefore adaptive,
``pi="auto"``: after every epoch ::

    π = max(PI_FLOOR, 2 * sqrt(a (1 - a) / n_val))       (auto_pi)

where ``a`` is that epoch's validation accuracy and ``n_val`` the number of validation
samples (sessions' prefix samples, or customers): two binomial standard errors. The
accuracy is "bounded" when its recent spread lies within its sampling noise, i.e. further
epochs no longer change it measurably. ``PI_FLOOR`` = 0.002. For Precision@K, ``n_val``
counts customers (each one K trials), which overstates the noise a little: a conservative
(larger) π. A number (``--pi 0.005``) keeps a fixed threshold.

Defaults (:mod:`autorec.train._types`): R = ``DEFAULT_MAX_EPOCHS`` = 30, π =
``DEFAULT_PI`` = ``"auto"``, window = ``DEFAULT_WINDOW`` = 3 epochs.

Failures never raise: a run whose loss turns NaN/inf (checked after every training batch
and on validation) stops at once with fit 0 and status ``"diverged"``. A softmax
cross-entropy rarely overflows, though: with a learning rate of 1e3 the weights blow up, the
loss jumps to thousands and stays finite while the accuracy freezes (dead units), which the
bounded-accuracy test alone would score as settled. So a training batch whose loss exceeds
``TrainOptions.diverge_factor`` (100) times the loss of the very first batch (the loss at
initialisation; a converging run only goes down from there) is a divergence too; one that is never
bounded within R epochs (or within ``max_wall_s``) gets fit 0 and ``"unsettled"``; one that
raises gets fit 0 and ``"error"`` with the traceback kept in the outcome.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from autorec.train._types import (
    DEFAULT_MAX_EPOCHS,
    DEFAULT_PI,
    DEFAULT_WINDOW,
    PI_FLOOR,
    EpochReport,
    Pi,
    Status,
)

__all__ = [
    "Diverged",
    "EpochScores",
    "FitOutcome",
    "auto_pi",
    "fitness_value",
    "is_bounded",
    "run_early_stopped",
    "window_means",
]


class Diverged(ArithmeticError):
    """Raised by an epoch function the moment a loss turns NaN or infinite."""


@dataclass(frozen=True)
class EpochScores:
    """What one epoch of training reports to :func:`run_early_stopped`."""

    train_loss: float
    val_loss: float
    val_accuracy: float


@dataclass(frozen=True)
class FitOutcome:
    """The result of :func:`run_early_stopped`; ``fitness`` is 0 unless ``status == "ok"``."""

    status: Status
    fitness: float
    converged: bool
    epochs: int
    loss: float
    accuracy: float
    history: tuple[EpochReport, ...]
    error: str | None = None


def fitness_value(accuracy: float, loss: float) -> float:
    """``accuracy + 1/(1+loss)`` (DRNN paper Sec. IV.B); 0 when either is not finite or the
    loss is negative (no real loss function gives that)."""
    if not (math.isfinite(accuracy) and math.isfinite(loss)) or loss < 0:
        return 0.0
    return accuracy + 1.0 / (1.0 + loss)


def window_means(history: Sequence[EpochReport], window: int) -> tuple[float, float]:
    """Mean validation accuracy and loss over the last ``window`` epochs of ``history`` --
    the estimate the fitness is taken from (module docstring); ``(0, nan)`` when empty."""
    span = history[-window:]
    if not span:
        return 0.0, math.nan
    n = len(span)
    return sum(r.val_accuracy for r in span) / n, sum(r.val_loss for r in span) / n


def auto_pi(accuracy: float, n_val: int) -> float:
    """The adaptive π of ``accuracy`` measured on ``n_val`` validation samples:
    ``max(PI_FLOOR, 2 * sqrt(a (1 - a) / n_val))`` (two binomial standard errors)."""
    if n_val < 1:
        raise ValueError(f"auto π needs the number of validation samples, got {n_val}")
    a = min(max(accuracy, 0.0), 1.0)
    return max(PI_FLOOR, 2.0 * math.sqrt(a * (1.0 - a) / n_val))


def is_bounded(accuracies: Sequence[float], window: int, pi: float) -> bool:
    """True when there are at least ``window`` accuracies and the last ``window`` of them
    lie within π of each other (``max - min <= pi``)."""
    if window < 1 or len(accuracies) < window:
        return False
    last = accuracies[-window:]
    return max(last) - min(last) <= pi


def run_early_stopped(
    epoch_fn: Callable[[int], EpochScores],
    *,
    max_epochs: int = DEFAULT_MAX_EPOCHS,
    pi: Pi = DEFAULT_PI,
    window: int = DEFAULT_WINDOW,
    max_wall_s: float | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    n_val: int | None = None,
    min_epochs: int = 0,
) -> FitOutcome:
    """Call ``epoch_fn(epoch)`` for epochs 0, 1, ... until the validation accuracy is
    bounded (status "ok", fit = ā + 1/(1+l̄) over the bounded window, see the module
    docstring; not tested before ``min_epochs`` epochs), R epochs pass or
    ``max_wall_s`` is spent ("unsettled", fit 0), a loss is NaN/inf or ``epoch_fn`` raises
    :class:`Diverged` ("diverged", fit 0) or anything else raises ("error", fit 0, the
    traceback in :attr:`FitOutcome.error`). ``pi="auto"`` needs ``n_val`` (the number of
    validation samples; :func:`auto_pi`), else ValueError before training; otherwise
    never raises (except KeyboardInterrupt)."""
    if pi == "auto" and (n_val is None or n_val < 1):
        raise ValueError("pi='auto' needs n_val, the number of validation samples")
    start = time.perf_counter()
    history: list[EpochReport] = []
    accuracies: list[float] = []

    def outcome(status: Status, error: str | None = None) -> FitOutcome:
        ok = status == "ok"
        # "ok": the bounded window's means; otherwise the last epoch's values, kept for
        # the record (the fitness is 0 then)
        acc, loss = window_means(history, window if ok else 1)
        return FitOutcome(
            status=status,
            fitness=fitness_value(acc, loss) if ok else 0.0,
            converged=ok,
            epochs=len(history),
            loss=loss,
            accuracy=acc,
            history=tuple(history),
            error=error,
        )

    for epoch in range(max_epochs):
        try:
            scores = epoch_fn(epoch)
        except Diverged as err:
            return outcome("diverged", f"Diverged: {err}")
        except Exception:
            return outcome("error", traceback.format_exc())
        report = EpochReport(
            epoch=epoch,
            train_loss=float(scores.train_loss),
            val_loss=float(scores.val_loss),
            val_accuracy=float(scores.val_accuracy),
            fitness=fitness_value(scores.val_accuracy, scores.val_loss),
            wall_s=time.perf_counter() - start,
        )
        history.append(report)
        if on_epoch is not None:
            try:
                on_epoch(report)
            except Exception:
                return outcome("error", traceback.format_exc())
        if not (math.isfinite(report.train_loss) and math.isfinite(report.val_loss)):
            return outcome("diverged", f"loss not finite at epoch {epoch}")
        if not math.isfinite(report.val_accuracy):
            return outcome("error", f"accuracy not finite at epoch {epoch}")
        accuracies.append(report.val_accuracy)
        threshold = auto_pi(report.val_accuracy, n_val or 1) if pi == "auto" else float(pi)
        if len(accuracies) >= min_epochs and is_bounded(accuracies, window, threshold):
            return outcome("ok")
        if max_wall_s is not None and report.wall_s >= max_wall_s:
            break
    return outcome("unsettled")
