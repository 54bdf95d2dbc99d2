"""Multi-fidelity inside the GA: successive halving on rungs, per generation.

``--fidelity halving``: every genome of a generation trains to the first rung (a few epochs);
at each rung only the best ``1/eta`` of the genomes of *that generation* measured there so far
go on (the asynchronous successive-halving rule of Li et al., "A System for Massively
Parallel Hyperparameter Tuning", 2020 -- the rule of Tune's ``AsyncHyperBandScheduler`` --
applied per generation, since the GA compares a genome only with its own generation's).
A genome stopped at a rung is *not* wasted: the GA is told its rung fitness, the fitness
formula ``accuracy + 1/(1+loss)`` over the last ``window`` epochs it trained (the estimate
a finished trial's early-stopped fitness uses over its bounded window), with status ``ok``
and the epochs it trained; its trial record says at which rung it stopped. Genomes that pass
every rung finish as usual and keep their early-stopped fitness.

Pieces:

- :func:`rung_milestones` and :class:`RungLadder`: the pure rung logic (no Ray).
- :class:`RungTracker`: what the driver holds; it turns trial results into ladder decisions,
  rewrites a stopped trial's last result into a final one (:meth:`RungTracker.final_result`,
  called by :class:`~autorec.tune.GeneticSearcher`), and is seeded with the rung values of
  genomes replayed from the fitness cache (``autorec resume``: nothing finished, stopped
  genomes included, is trained again, and the ladder of the interrupted generation is
  rebuilt from the records).
- :func:`halving_scheduler`: a Tune ``TrialScheduler`` (a ``FIFOScheduler``) that asks the
  tracker on every result and answers ``STOP`` or ``CONTINUE``.

Budgets are counted in trial-epochs: a stopped trial's record holds the epochs it trained.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_ETA",
    "FIDELITIES",
    "RungLadder",
    "RungStop",
    "RungTracker",
    "check_fidelity",
    "fidelity_for",
    "halving_scheduler",
    "rung_milestones",
    "window_fitness",
]

FIDELITIES = ("none", "halving")
#: the reduction factor: the best 1/eta of a rung's genomes go on
DEFAULT_ETA = 3


def rung_milestones(max_epochs: int, eta: int = DEFAULT_ETA, grace: int = 1) -> tuple[int, ...]:
    """Epoch counts at which a genome is compared with its generation: ``grace * eta**k``
    below ``max_epochs`` (R). ``rung_milestones(10) == (1, 3, 9)``; none when ``grace >= R``
    (a trial then simply trains to its end)."""
    if eta < 2:
        raise ValueError(f"eta must be at least 2, got {eta}")
    if grace < 1:
        raise ValueError(f"grace must be at least 1, got {grace}")
    out: list[int] = []
    m = grace
    while m < max_epochs:
        out.append(m)
        m *= eta
    return tuple(out)


def _percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated ``q``-quantile (numpy's default ``nanpercentile`` rule)."""
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def window_fitness(reports: Sequence[tuple[float, float]], window: int) -> float:
    """``accuracy + 1/(1+loss)`` of the mean (accuracy, loss) over the last ``window`` epoch
    reports; 0 when there is none or a value is not finite (like a failed trial)."""
    span = list(reports)[-max(1, window) :]
    if not span:
        return 0.0
    acc = sum(a for a, _ in span) / len(span)
    loss = sum(lo for _, lo in span) / len(span)
    if not (math.isfinite(acc) and math.isfinite(loss)) or loss < 0:
        return 0.0
    return acc + 1.0 / (1.0 + loss)


@dataclass
class RungLadder:
    """The rung values of every generation and the promotion rule.

    ``values[generation][rung]`` maps genome keys to the fitness they had when they reached
    that rung. A genome reaching rung ``k`` goes on when its value is at least the
    ``(1 - 1/eta)`` quantile of the values recorded there before it (the first one always
    goes on), then its value is recorded -- Tune's ASHA rule, one ladder per generation."""

    milestones: tuple[int, ...]
    eta: int = DEFAULT_ETA
    values: dict[int, dict[int, dict[str, float]]] = field(default_factory=dict)

    def rung_at(self, epochs: int) -> int | None:
        """The rung whose milestone is exactly ``epochs`` (``None`` between rungs)."""
        try:
            return self.milestones.index(epochs)
        except ValueError:
            return None

    def cutoff(self, generation: int, rung: int) -> float | None:
        recorded = list(self.values.get(generation, {}).get(rung, {}).values())
        if not recorded:
            return None
        return _percentile(recorded, 1.0 - 1.0 / self.eta)

    def record(self, generation: int, rung: int, key: str, value: float) -> None:
        self.values.setdefault(generation, {}).setdefault(rung, {})[key] = float(value)

    def decide(self, generation: int, key: str, epochs: int, value: float) -> int | None:
        """The rung at which the genome ``key`` stops now, having trained ``epochs`` epochs
        with fitness ``value``; ``None``: it goes on. A genome is judged once per rung."""
        rung = self.rung_at(epochs)
        if rung is None or key in self.values.get(generation, {}).get(rung, {}):
            return None
        cut = self.cutoff(generation, rung)
        self.record(generation, rung, key, value)
        return rung if cut is not None and value < cut else None


@dataclass(frozen=True)
class RungStop:
    """A genome stopped at ``rung`` after ``epochs`` epochs with rung fitness ``fitness``."""

    rung: int
    epochs: int
    fitness: float
    accuracy: float
    loss: float


class RungTracker:
    """The driver's side of the rungs (module docstring): shared by the scheduler, which
    calls :meth:`observe` on every trial result, and the searcher, which calls
    :meth:`final_result`, :meth:`rungs_of` and :meth:`seed`."""

    def __init__(self, max_epochs: int, *, window: int, eta: int = DEFAULT_ETA, grace: int = 1):
        self.ladder = RungLadder(rung_milestones(max_epochs, eta, grace), eta)
        self.window = window
        #: trial id -> (accuracy, loss) of every epoch report so far
        self.reports: dict[str, list[tuple[float, float]]] = {}
        #: trial id -> {milestone epochs: rung fitness} of the rungs it reached
        self.rungs: dict[str, dict[int, float]] = {}
        self.stopped: dict[str, RungStop] = {}

    def observe(self, trial_id: str, config: Mapping[str, Any], result: Mapping[str, Any]) -> bool:
        """Take one reported result of a trial; True: stop the trial now (it is recorded in
        :attr:`stopped`). Final reports and results without an epoch never stop a trial."""
        if result.get("final", True) or "epoch" not in result:
            return False
        acc, loss = _float(result.get("val_accuracy")), _float(result.get("loss"))
        history = self.reports.setdefault(trial_id, [])
        history.append((acc, loss))
        epochs = len(history)
        if self.ladder.rung_at(epochs) is None:
            return False
        value = window_fitness(history, self.window)
        self.rungs.setdefault(trial_id, {})[epochs] = value
        generation = int(config.get("generation", 0))
        rung = self.ladder.decide(generation, str(config.get("genome_key", "")), epochs, value)
        if rung is None:
            return False
        n = min(len(history), self.window)
        self.stopped[trial_id] = RungStop(
            rung=rung,
            epochs=epochs,
            fitness=value,
            accuracy=sum(a for a, _ in history[-n:]) / n,
            loss=sum(lo for _, lo in history[-n:]) / n,
        )
        return True

    def final_result(
        self, trial_id: str, result: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        """A stopped trial's last (intermediate) result as the final result the GA is told:
        the rung fitness, status ``ok``, the epochs it trained and ``rung``. Other trials'
        results pass unchanged."""
        stop = self.stopped.get(trial_id)
        if stop is None:
            return dict(result) if result is not None else None
        out = dict(result or {})
        out.update(
            final=True,
            status="ok",
            fitness=stop.fitness,
            epochs=stop.epochs,
            val_accuracy=stop.accuracy,
            loss=stop.loss,
            rung=stop.rung,
        )
        return out

    def rungs_of(self, trial_id: str) -> dict[int, float]:
        """``{milestone epochs: rung fitness}`` of the rungs the trial reached."""
        return dict(self.rungs.get(trial_id, {}))

    def forget(self, trial_id: str) -> None:
        """Drop the per-trial bookkeeping of a completed trial (its ladder values stay)."""
        self.reports.pop(trial_id, None)
        self.rungs.pop(trial_id, None)
        self.stopped.pop(trial_id, None)

    def seed(self, generation: int, key: str, rungs: Mapping[int, float]) -> None:
        """Record a replayed genome's rung values in ``generation``'s ladder (resume, and
        elites the fitness cache tells again), so the next genomes meet the same cutoffs."""
        for epochs, value in rungs.items():
            rung = self.ladder.rung_at(int(epochs))
            if rung is not None:
                self.ladder.record(generation, rung, key, value)


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def halving_scheduler(tracker: RungTracker) -> Any:
    """A Tune ``FIFOScheduler`` that stops a trial when ``tracker`` says so."""
    from ray.tune.schedulers import FIFOScheduler, TrialScheduler

    class HalvingScheduler(FIFOScheduler):
        def __init__(self) -> None:
            super().__init__()  # type: ignore[no-untyped-call]

        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
            if tracker.observe(str(trial.trial_id), dict(trial.config), result):
                return str(TrialScheduler.STOP)
            return str(TrialScheduler.CONTINUE)

        def debug_string(self) -> str:
            return f"successive halving at epochs {list(tracker.ladder.milestones)}"

    return HalvingScheduler()


def fidelity_for(fidelity: str, train_options: Any) -> tuple[RungTracker | None, Any]:
    """``(tracker, scheduler)`` of a search's ``--fidelity``: ``(None, None)`` for ``none``
    (Tune's default FIFO scheduler, every trial trains to its end); for ``halving`` the rungs
    of R = ``train_options.max_epochs`` with its fitness ``window``."""
    check_fidelity(fidelity)
    if fidelity == "none":
        return None, None
    tracker = RungTracker(int(train_options.max_epochs), window=int(train_options.window))
    return tracker, halving_scheduler(tracker)


def check_fidelity(fidelity: str) -> None:
    """An unknown ``--fidelity`` as one ``error:`` line."""
    if fidelity not in FIDELITIES:
        from autorec.errors import AutorecError

        raise AutorecError(
            "option --fidelity",
            f"unknown fidelity {fidelity!r}",
            f"use one of {', '.join(FIDELITIES)}",
        )
