"""The genetic algorithm as a Ray Tune searcher (docs/design.md#ray-tune).

:class:`GeneticSearcher` adapts the Ray-free :class:`autorec.evolution.Evolution` (ask / tell)
to :class:`ray.tune.search.Searcher` (suggest / on_trial_complete), the way Tune's Optuna
adapter maps trial ids to Optuna trials: it keeps ``trial_id -> genome key``.

- ``suggest(trial_id)`` asks the evolution for the next genome of the current generation and
  returns its Tune config (``family``, one entry per gene, ``genome_key``, ``generation``);
  ``None`` while the generation waits for results; :data:`Searcher.FINISHED` once the last
  generation closed. A genome whose key is already in the searcher's *known* evaluations
  (the fitness cache restored from a run directory) is told straight away and never becomes
  a trial: this is how ``autorec resume`` replays a killed search without training anything
  twice.
- ``on_trial_complete(trial_id, result, error)`` turns the trial's last result into an
  :class:`~autorec.evolution.Evaluation` and tells it. An error, or a result without a finite
  fitness, scores fitness 0 with status ``"error"``; the search goes on.
- ``save(path)`` / ``restore(path)`` pickle the evolution's ``state_dict()`` (population, hall
  of fame, logbook, RNG state) with the trial maps, atomically.

Nothing here needs a running Ray cluster: unit tests call ``suggest`` / ``on_trial_complete``
directly.
"""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune.search import Searcher

from autorec._io import finite_or_none as _finite
from autorec.tune._checks import trial_error
from autorec.tune._rundir import atomic_write_bytes

if TYPE_CHECKING:
    from autorec.evolution import Evaluation, Evolution
    from autorec.genome import Genome
    from autorec.tune._fidelity import RungTracker

__all__ = [
    "RESERVED_CONFIG_KEYS",
    "GeneticSearcher",
    "TrialRecord",
    "evaluation_from_result",
    "genome_config",
    "genome_from_config",
]

logger = logging.getLogger(__name__)

#: Config entries the searcher adds beside the genes.
RESERVED_CONFIG_KEYS = ("family", "genome_key", "generation")

_STATUSES = ("ok", "diverged", "unsettled", "error")

#: Result entries copied into an evaluation's metrics when numeric.
_METRIC_FIELDS = ("n_params", "loss", "val_loss", "train_loss", "val_accuracy")


def genome_config(genome: Genome, generation: int) -> dict[str, Any]:
    """The Tune config of ``genome``: ``family``, one entry per gene, ``genome_key`` and
    ``generation`` (flat, so Tune's tables and the dashboard show every gene)."""
    config: dict[str, Any] = {"family": genome.family}
    for name, value in genome.genes.items():
        if name in RESERVED_CONFIG_KEYS:  # pragma: no cover - schema has no such gene
            raise ValueError(f"gene name {name!r} clashes with a reserved config key")
        config[name] = value
    config["genome_key"] = genome.key
    config["generation"] = generation
    return config


def genome_from_config(config: Mapping[str, Any]) -> Genome:
    """Rebuild the genome a trial's config describes (inverse of :func:`genome_config`)."""
    from autorec.genome import Genome

    genes = {k: v for k, v in config.items() if k not in RESERVED_CONFIG_KEYS}
    return Genome.from_dict({"family": config["family"], **genes}, where="trial config")


def default_objectives(fitness: float, metrics: Mapping[str, float]) -> tuple[float, ...]:
    """No explicit objectives: the evolution derives them from its ``objectives`` names
    (``"fitness"``, a metric name such as ``"val_pcc@10"``, or ``"-n_params"``)."""
    return ()


def evaluation_from_result(
    key: str,
    result: Mapping[str, Any] | None,
    error: bool,
    objectives_fn: Callable[[float, Mapping[str, float]], tuple[float, ...]] = default_objectives,
) -> Evaluation:
    """The :class:`Evaluation` of a finished trial from its last reported result.

    Errors (Tune's ``error=True``, a result missing or without a finite ``fitness``) score
    fitness 0 with status ``"error"``; ``diverged`` / ``unsettled`` keep their status and
    fitness 0 (DRNN paper Sec. IV.B: such a network gets fit 0 and the search goes on).
    Metrics are the numeric ``val_*`` / ``test_*`` entries and ``n_params`` / losses.
    """
    from autorec.evolution import Evaluation

    result = dict(result or {})
    metrics: dict[str, float] = {}
    for name, value in result.items():
        if name.startswith(("val_", "test_")) or name in _METRIC_FIELDS:
            x = _finite(value)
            if x is not None and not isinstance(value, bool):
                metrics[name] = x
    fitness = _finite(result.get("fitness"))
    status = str(result.get("status", "ok" if fitness is not None else "error"))
    if error or fitness is None or status not in _STATUSES or not result.get("final", True):
        status, fitness = "error", 0.0
    if status != "ok":
        fitness = 0.0
    epochs_value = _finite(result.get("epochs", result.get("epoch", 0)))
    epochs = int(epochs_value) if epochs_value is not None else 0
    objectives = tuple(float(o) for o in objectives_fn(fitness, metrics))
    return Evaluation(
        key=key,
        fitness=fitness,
        objectives=objectives,
        metrics=metrics,
        status=status,  # type: ignore[arg-type]
        epochs=epochs,
    )


@dataclass
class TrialRecord:
    """One finished trial: what the run directory's fitness cache and trials.csv hold."""

    genome_key: str
    trial_id: str
    generation: int
    family: str
    status: str
    fitness: float
    epochs: int
    wall_s: float
    n_params: float | None
    loss: float | None
    metrics: dict[str, float]
    objectives: tuple[float, ...]
    genome: dict[str, Any]
    trial_name: str = ""
    session: int = 0
    error: str = ""
    #: a failed trial's traceback (status ``error``; autorec.tune._failures)
    traceback: str = ""
    finished_at: float = field(default_factory=time.time)
    #: the Ray node the trial ran on and the GPU ids Ray gave it, comma-joined ("" when
    #: unknown, e.g. records of older runs, or on CPU)
    node_id: str = ""
    gpu_ids: str = ""
    #: ``--fidelity halving``: the rung the trial was stopped at (None: it trained to its
    #: end) and its fitness at every rung it reached (milestone epochs -> rung fitness)
    rung: int | None = None
    rungs: dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "genome_key": self.genome_key,
            "trial_id": self.trial_id,
            "trial_name": self.trial_name,
            "generation": self.generation,
            "session": self.session,
            "family": self.family,
            "status": self.status,
            "fitness": self.fitness,
            "epochs": self.epochs,
            "wall_s": self.wall_s,
            "n_params": self.n_params,
            "loss": self.loss,
            "metrics": dict(self.metrics),
            "objectives": list(self.objectives),
            "genome": dict(self.genome),
            "error": self.error,
            "traceback": self.traceback,
            "finished_at": self.finished_at,
            "node_id": self.node_id,
            "gpu_ids": self.gpu_ids,
            "rung": self.rung,
            "rungs": {str(k): v for k, v in self.rungs.items()},
        }

    def evaluation(self) -> Evaluation:
        from autorec.evolution import Evaluation

        return Evaluation(
            key=self.genome_key,
            fitness=self.fitness,
            objectives=tuple(self.objectives),
            metrics=dict(self.metrics),
            status=self.status,  # type: ignore[arg-type]
            epochs=self.epochs,
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrialRecord:
        def opt(x: Any) -> float | None:
            return None if x is None else float(x)

        return cls(
            genome_key=str(d["genome_key"]),
            trial_id=str(d.get("trial_id", "")),
            trial_name=str(d.get("trial_name", "")),
            generation=int(d.get("generation", 0)),
            session=int(d.get("session", 0)),
            family=str(d.get("family", "")),
            status=str(d.get("status", "error")),
            fitness=float(d.get("fitness") or 0.0),
            epochs=int(d.get("epochs") or 0),
            wall_s=float(d.get("wall_s") or 0.0),
            n_params=opt(d.get("n_params")),
            loss=opt(d.get("loss")),
            metrics={
                str(k): float(v) for k, v in dict(d.get("metrics") or {}).items() if v is not None
            },
            objectives=tuple(float(o) for o in d.get("objectives") or ()),
            genome=dict(d.get("genome") or {}),
            error=str(d.get("error", "")),
            traceback=str(d.get("traceback") or ""),
            finished_at=float(d.get("finished_at") or 0.0),
            node_id=str(d.get("node_id") or ""),
            gpu_ids=str(d.get("gpu_ids") or ""),
            rung=None if d.get("rung") is None else int(d["rung"]),
            rungs={int(k): float(v) for k, v in dict(d.get("rungs") or {}).items()},
        )


class GeneticSearcher(Searcher):
    """A :class:`ray.tune.search.Searcher` driving an :class:`~autorec.evolution.Evolution`.

    ``known`` maps genome keys to evaluations already measured (the restored fitness cache);
    such genomes are told without a trial. ``on_record`` is called with a
    :class:`TrialRecord` after every finished trial (the run directory persists it before the
    searcher asks for more work). ``objectives_fn(fitness, metrics)`` gives the
    objectives of an evaluation (``(fitness,)`` unless a multi-objective strategy needs more).
    ``fidelity`` (``--fidelity halving``, :mod:`autorec.tune._fidelity`): a trial its
    scheduler stopped at a rung is told with its rung fitness.
    """

    def __init__(
        self,
        evolution: Evolution,
        *,
        metric: str = "fitness",
        mode: str = "max",
        known: Mapping[str, TrialRecord] | None = None,
        on_record: Callable[[TrialRecord], None] | None = None,
        objectives_fn: Callable[
            [float, Mapping[str, float]], tuple[float, ...]
        ] = default_objectives,
        session: int = 0,
        state_path: str | Path | None = None,
        requeue_pending: bool = False,
        fidelity: RungTracker | None = None,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        self.evolution = evolution
        self.known: dict[str, TrialRecord] = dict(known or {})
        self.on_record = on_record
        self.objectives_fn = objectives_fn
        self.session = session
        self.state_path = Path(state_path) if state_path is not None else None
        self.requeue_pending = requeue_pending
        self.fidelity = fidelity
        #: trial id -> (genome key, generation, genome dict)
        self.trials: dict[str, tuple[str, int, dict[str, Any]]] = {}
        #: genome key -> trial id, for trials not finished yet
        self.pending: dict[str, str] = {}
        #: last intermediate result of each running trial (bookkeeping for progress)
        self.last_results: dict[str, dict[str, Any]] = {}
        self.records: list[TrialRecord] = []
        self.replayed = 0

    # Tune API ----------------------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        """The next genome's config, ``None`` (wait for results) or ``FINISHED``."""
        while True:
            if self.evolution.done:
                return Searcher.FINISHED
            genome = self.evolution.ask()
            if genome is None:
                return Searcher.FINISHED if self.evolution.done else None
            key = genome.key
            record = self.known.get(key)
            if record is not None:  # measured before (resume): tell, never retrain
                self.replayed += 1
                if self.fidelity is not None:
                    self.fidelity.seed(int(self.evolution.generation), key, record.rungs)
                self.evolution.tell(key, record.evaluation())
                continue
            generation = int(self.evolution.generation)
            self.trials[trial_id] = (key, generation, _genome_dict(genome))
            self.pending[key] = trial_id
            return genome_config(genome, generation)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        if trial_id in self.trials:
            self.last_results[trial_id] = dict(result)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Tell the evolution how the trial scored (fitness 0, ``"error"`` on failure)."""
        entry = self.trials.get(trial_id)
        if entry is None:
            logger.warning("result of unknown trial %s ignored", trial_id)
            return
        key, generation, genome = entry
        if self.pending.get(key) != trial_id:
            logger.warning("trial %s (%s) completed twice; ignored", trial_id, key)
            return
        del self.pending[key]
        if result is None and error:
            result = self.last_results.get(trial_id)
            result = {**result, "final": False} if result else None
        self.last_results.pop(trial_id, None)
        rungs: dict[int, float] = {}
        if self.fidelity is not None:  # a trial stopped at a rung: its rung fitness
            result = self.fidelity.final_result(trial_id, result)
            rungs = self.fidelity.rungs_of(trial_id)
            self.fidelity.forget(trial_id)
        evaluation = evaluation_from_result(key, result, error, self.objectives_fn)
        res = dict(result or {})
        record = TrialRecord(
            genome_key=key,
            trial_id=trial_id,
            trial_name=str(res.get("trial_name", "")),
            generation=generation,
            session=self.session,
            family=str(genome.get("family", "")),
            status=evaluation.status,
            fitness=evaluation.fitness,
            epochs=evaluation.epochs,
            wall_s=float(_finite(res.get("wall_s", res.get("time_total_s"))) or 0.0),
            n_params=_finite(res.get("n_params")),
            loss=_finite(res.get("loss")),
            metrics=dict(evaluation.metrics),
            objectives=tuple(evaluation.objectives),
            genome=genome,
            error=trial_error(
                key, str(res.get("error_message") or ""), error or evaluation.status == "error"
            ),
            traceback=str(res.get("traceback") or "") if evaluation.status == "error" else "",
            node_id=str(res.get("node_id") or ""),
            gpu_ids=str(res.get("gpu_ids") or ""),
            rung=None if res.get("rung") is None else int(res["rung"]),
            rungs=rungs,
        )
        self.records.append(record)
        self.known[key] = record
        if self.on_record is not None:
            self.on_record(record)
        self.evolution.tell(key, evaluation)
        if self.state_path is not None:
            self.save(str(self.state_path))

    # persistence -------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        return {
            "version": 1,
            "evolution": self.evolution.state_dict(),
            "trials": dict(self.trials),
            "pending": dict(self.pending),
            "known": {k: r.to_dict() for k, r in self.known.items()},
            "records": [r.to_dict() for r in self.records],
            "replayed": self.replayed,
            "session": self.session,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Load :meth:`get_state` output. Trials pending at save time are expected to
        complete later with the same trial ids (Tune's restore); with
        ``requeue_pending=True`` their genomes are asked again instead."""
        self.evolution.load_state_dict(state["evolution"], requeue_pending=self.requeue_pending)
        self.trials = {k: (v[0], int(v[1]), dict(v[2])) for k, v in state["trials"].items()}
        self.pending = dict(state["pending"])
        if self.requeue_pending:
            for trial_id in self.pending.values():
                self.trials.pop(trial_id, None)
            self.pending = {}
        self.known = {k: TrialRecord.from_dict(r) for k, r in state["known"].items()}
        self.records = [TrialRecord.from_dict(r) for r in state["records"]]
        self.replayed = int(state.get("replayed", 0))
        self.session = int(state.get("session", 0))
        self.last_results = {}

    def __getstate__(self) -> dict[str, Any]:
        """Pickling (Tune pickles its config, searcher included): the state without the
        callbacks (``on_record``, the evolution's ``on_generation`` hooks), which hold the
        driver's files and terminal. Re-attach an evolution with :meth:`attach`."""
        state = dict(self.__dict__)
        state["on_record"] = None
        state["evolution"] = None
        state["_evolution_state"] = self.evolution.state_dict() if self.evolution else None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def attach(self, evolution: Evolution) -> None:
        """Give an unpickled searcher an evolution (loaded with the pickled state)."""
        saved = self.__dict__.pop("_evolution_state", None)
        if saved is not None:
            evolution.load_state_dict(saved)
        self.evolution = evolution

    def save(self, checkpoint_path: str) -> None:
        """Pickle the searcher's state (evolution state_dict incl. RNG, maps) atomically."""
        atomic_write_bytes(
            Path(checkpoint_path), pickle.dumps(self.get_state(), pickle.HIGHEST_PROTOCOL)
        )

    def restore(self, checkpoint_path: str) -> None:
        """Load what :meth:`save` wrote (trials pending then complete as usual)."""
        with open(checkpoint_path, "rb") as fh:
            self.set_state(pickle.load(fh))


def _genome_dict(genome: Genome) -> dict[str, Any]:
    to_dict = getattr(genome, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    return {"family": genome.family, **dict(genome.genes)}
