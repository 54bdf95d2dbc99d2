"""Options and results of one training run (the trainer API of :mod:`autorec.train`)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeAlias

from autorec.errors import AutorecError

if TYPE_CHECKING:
    import torch

    from autorec.families import Family
    from autorec.genome import Genome

__all__ = [
    "DEFAULT_MAX_EPOCHS",
    "DEFAULT_PI",
    "DEFAULT_WINDOW",
    "PI_FLOOR",
    "EpochReport",
    "Pi",
    "Status",
    "TrainOptions",
    "TrainResult",
    "parse_pi",
]

Status = Literal["ok", "diverged", "unsettled", "error"]

#: R: the most epochs one fitness evaluation trains (DRNN paper Sec. IV.B leaves R to the
#: experiments, which never state it; 30 keeps a trial in minutes on a CPU).
DEFAULT_MAX_EPOCHS = 30
#: π: the accuracy counts as bounded when its spread (max - min) over the last ``window``
#: epochs is at most π. ``"auto"`` (default): π adapts to the validation noise, two binomial
#: standard errors of the current accuracy (:func:`autorec.train.fitness.auto_pi`); a number
#: is a fixed threshold.
Pi: TypeAlias = float | Literal["auto"]
DEFAULT_PI: Pi = "auto"
#: The smallest adaptive π (a huge validation split still needs a spread it can reach).
PI_FLOOR = 0.002
#: The number of most recent epochs whose accuracy spread is compared with π.
DEFAULT_WINDOW = 3


def parse_pi(text: str) -> Pi:
    """``--pi`` as given on a command line: ``auto`` or a number >= 0."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise AutorecError(
            "option --pi", f"π must be 'auto' or a number, got {text!r}", "pass auto or e.g. 0.01"
        ) from None
    if not value >= 0:
        raise AutorecError("option --pi", f"π must be >= 0, got {text!r}", "pass π >= 0")
    return value


_ACCURACY = re.compile(r"^(top(?P<topk>\d+)|precision@(?P<pk>\d+))$")


@dataclass(frozen=True)
class TrainOptions:
    """How to train one genome and score its early-stopped fitness.

    ``max_epochs`` (R), ``pi`` (π: ``"auto"`` or a number), ``window`` and ``min_epochs``
    (no bound test before that many epochs; ``min_epochs = R`` with ``pi = inf`` trains
    exactly R epochs and scores the last ``window``): see :mod:`autorec.train.fitness`.
    ``accuracy`` names the validation accuracy inside the fitness: ``"top1"`` (``"topK"``)
    for sessions, ``"precision@K"`` for purchase histories; ``None`` picks the family's
    default (``top1`` for sessions, ``precision@{k}`` for purchase histories). ``k`` is the
    cut-off of the reported precision/PCC on purchase data. ``threads`` defaults to the
    cores available to the process. ``max_wall_s`` bounds the wall time of the fitness run
    (a run that reaches it before the accuracy is bounded is "unsettled"). ``test=False``
    skips the test metrics (and, for purchase data, the retraining on the real protocol),
    which a search does not need. ``diverge_factor``: a training batch whose loss exceeds
    this multiple of the very first batch's loss (the loss at initialisation) counts as
    diverged (``None`` turns the check off; see :mod:`autorec.train.fitness`).
    """

    max_epochs: int = DEFAULT_MAX_EPOCHS
    pi: Pi = DEFAULT_PI
    window: int = DEFAULT_WINDOW
    min_epochs: int = 0
    accuracy: str | None = None
    k: int = 10
    seed: int = 0
    devices: tuple[str, ...] = ("cpu",)
    threads: int | None = None
    progress: bool = False
    max_wall_s: float | None = None
    test: bool = True
    eval_batch_size: int = 1024
    diverge_factor: float | None = 100.0

    def __post_init__(self) -> None:
        if self.max_epochs < 1:
            raise AutorecError(
                "option --epochs", f"R must be at least 1, got {self.max_epochs}", "pass R >= 1"
            )
        if isinstance(self.pi, str):
            if self.pi != "auto":
                raise AutorecError(
                    "option --pi", f"π must be a number or 'auto', got {self.pi!r}", "pass auto"
                )
        elif not self.pi >= 0:
            raise AutorecError("option --pi", f"π must be >= 0, got {self.pi}", "pass π >= 0")
        if self.window < 1:
            raise AutorecError(
                "option --window", f"window must be at least 1, got {self.window}", "pass N >= 1"
            )
        if not 0 <= self.min_epochs <= self.max_epochs:
            raise AutorecError(
                "option min_epochs",
                f"must be in [0, R = {self.max_epochs}], got {self.min_epochs}",
                "pass 0 (test from the first full window) up to R",
            )
        if self.k < 1:
            raise AutorecError("option --k", f"k must be at least 1, got {self.k}", "pass k >= 1")
        if self.threads is not None and self.threads < 1:
            raise AutorecError(
                "option threads", f"must be at least 1, got {self.threads}", "pass 1 or more"
            )
        if not self.devices:
            raise AutorecError("option --devices", "no device given", "pass e.g. --devices cpu")
        if self.diverge_factor is not None and not self.diverge_factor > 1:
            raise AutorecError(
                "option diverge_factor",
                f"must be > 1 or None, got {self.diverge_factor}",
                "pass e.g. 100",
            )
        if self.eval_batch_size < 1:
            raise AutorecError(
                "option eval_batch_size", f"must be >= 1, got {self.eval_batch_size}", "pass >= 1"
            )
        if self.accuracy is not None and not _ACCURACY.match(self.accuracy):
            raise AutorecError(
                "option accuracy",
                f"unknown accuracy {self.accuracy!r}",
                "use top1, topK (sessions) or precision@K (purchase histories)",
            )

    def resolved_threads(self) -> int:
        """``threads`` or the number of cores this process may run on."""
        if self.threads is not None:
            return self.threads
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not Linux
            return max(1, os.cpu_count() or 1)

    def accuracy_for(self, family: str | Family) -> tuple[str, int]:
        """The accuracy's name and cut-off for a family (its name, data kind or object),
        checking they fit together."""
        from autorec.families import get_family

        fam = get_family(family) if isinstance(family, str) else family
        name = self.accuracy or fam.default_accuracy(self.k)
        m = _ACCURACY.match(name)
        assert m is not None
        problem, fix = fam.accuracy_mismatch(name, m.groupdict())
        if problem:
            raise AutorecError("option accuracy", problem, fix)
        k = int(m.group("topk") or m.group("pk"))
        if k < 1:
            raise AutorecError("option accuracy", f"cut-off must be >= 1 in {name!r}", "use K>=1")
        return name, k


@dataclass(frozen=True)
class EpochReport:
    """One epoch of a fitness run: mean training loss, validation loss and accuracy, the
    fitness estimate ``accuracy + 1/(1+val_loss)`` and the wall time since the run began."""

    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    fitness: float
    wall_s: float


@dataclass(frozen=True)
class TrainResult:
    """The outcome of :func:`autorec.train.train_genome`.

    ``fitness`` is 0 unless ``status == "ok"`` (accuracy bounded within R epochs, DRNN paper
    Sec. IV.B). ``converged`` says the accuracy was bounded. ``epochs`` is the number of
    epochs the fitness run trained. ``loss`` is the validation loss in the fitness.
    ``model`` is the trained network in eval mode (the one the test metrics score; ``None``
    when training failed before a network existed). ``error`` holds the traceback of a
    run with status "error". ``history`` has one :class:`EpochReport` per epoch.
    """

    key: str
    fitness: float
    status: Status
    converged: bool
    epochs: int
    val_metrics: Mapping[str, float]
    test_metrics: Mapping[str, float]
    loss: float
    n_params: int
    wall_s: float
    model: torch.nn.Module | None
    genome: Genome
    history: tuple[EpochReport, ...] = ()
    error: str | None = None
    accuracy_name: str = "top1"
    accuracy: float = 0.0
    dims: Mapping[str, int] = field(default_factory=dict)
    #: purchase histories: training examples of the model retrained on the real protocol
    #: (the one the test metrics score); 0 when there was no retraining
    n_train_final: int = 0
    #: purchase data with ``test=True``: how the retraining on the real protocol ended
    #: ("ok", "diverged", ...); None when there was none. Not "ok": ``model`` is the
    #: validation network, which must not be saved or exported as the final one.
    retrain_status: str | None = None

    def summary(self) -> dict[str, object]:
        """A JSON-ready dict of everything but the model (what ``autorec train --json``
        prints)."""
        return {
            "key": self.key,
            "family": self.genome.family,
            "status": self.status,
            "fitness": self.fitness,
            "converged": self.converged,
            "epochs": self.epochs,
            "accuracy_name": self.accuracy_name,
            "accuracy": self.accuracy,
            "loss": self.loss,
            "val_metrics": dict(self.val_metrics),
            "test_metrics": dict(self.test_metrics),
            "n_params": self.n_params,
            "n_train_final": self.n_train_final,
            "wall_s": self.wall_s,
            "history": [vars(r) for r in self.history],
            "error": self.error,
        }
