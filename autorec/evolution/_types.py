"""Evaluation results, generation summaries and the DEAP individual used by the engine.

No global DEAP ``creator`` classes: :func:`fitness_class` builds a private
:class:`deap.base.Fitness` subclass per number of objectives (all maximised) and
:class:`Individual` is a small slotted class holding a genome, its evaluation and that fitness,
which is all ``deap.tools`` (HallOfFame, ParetoFront, sortNondominated, selNSGA2) need.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from deap import base

from autorec.genome import Genome

__all__ = [
    "Evaluation",
    "GenerationSummary",
    "Individual",
    "Member",
    "Status",
    "fitness_class",
    "safe_fitness",
]

Status = Literal["ok", "diverged", "unsettled", "error"]
STATUSES: tuple[Status, ...] = ("ok", "diverged", "unsettled", "error")


@dataclass(frozen=True)
class Evaluation:
    """The result of training one genome (DRNN paper Sec. IV.B: ``fit = accuracy + 1/(1+loss)``).

    ``objectives`` are the values NSGA-II maximises (e.g. ``(fitness, pcc, -n_params)``); when
    empty the engine derives them from its ``objectives`` names (see :class:`Evolution`).
    A failed trial has ``fitness`` 0 and ``status`` ``diverged``/``unsettled``/``error``.
    """

    key: str
    fitness: float
    objectives: tuple[float, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    status: Status = "ok"
    epochs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "fitness": float(self.fitness),
            "objectives": [float(x) for x in self.objectives],
            "metrics": {str(k): float(v) for k, v in self.metrics.items()},
            "status": self.status,
            "epochs": int(self.epochs),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Evaluation:
        return cls(
            key=str(d["key"]),
            fitness=float(d["fitness"]),
            objectives=tuple(float(x) for x in d.get("objectives", ())),
            metrics={str(k): float(v) for k, v in dict(d.get("metrics", {})).items()},
            status=d.get("status", "ok"),
            epochs=int(d.get("epochs", 0)),
        )

    @classmethod
    def failed(cls, key: str, status: Status = "error", epochs: int = 0) -> Evaluation:
        """A fit-0 evaluation (the paper gives fit 0 to a run that never settles)."""
        return cls(key=key, fitness=0.0, status=status, epochs=epochs)


Member = tuple[Genome, Evaluation]


def safe_fitness(value: float) -> float:
    """NaN/inf fitness counts as 0 (a diverged trial), so sorting stays well defined."""
    return float(value) if math.isfinite(value) else 0.0


@functools.cache
def fitness_class(n_objectives: int) -> type[base.Fitness]:
    """A private Fitness subclass maximising ``n_objectives`` values (no ``creator``)."""
    if n_objectives < 1:
        raise ValueError("at least one objective is needed")
    return type(
        f"AutorecFitness{n_objectives}",
        (base.Fitness,),
        {"weights": (1.0,) * n_objectives, "__module__": __name__},
    )


class Individual:
    """A genome with its evaluation and a DEAP fitness (values set from the evaluation)."""

    __slots__ = ("evaluation", "fitness", "genome")

    def __init__(self, genome: Genome, evaluation: Evaluation, values: tuple[float, ...]) -> None:
        self.genome = genome
        self.evaluation = evaluation
        self.fitness = fitness_class(len(values))(values)

    @property
    def key(self) -> str:
        return self.genome.key

    @property
    def member(self) -> Member:
        return (self.genome, self.evaluation)

    def __deepcopy__(self, memo: dict[int, Any]) -> Individual:
        # genome and evaluation are immutable; only the fitness object is copied
        new = Individual.__new__(Individual)
        new.genome = self.genome
        new.evaluation = self.evaluation
        new.fitness = copy.deepcopy(self.fitness, memo)
        return new

    def __repr__(self) -> str:
        return f"Individual({self.key}, fitness={self.fitness.values})"


@dataclass(frozen=True)
class GenerationSummary:
    """What ``on_generation`` callbacks receive when a generation closes.

    ``population`` is the generation's members in order (duplicates included), ``best`` the
    generation's best member, ``best_ever`` the hall of fame's first, ``stats`` the logbook
    record (gen, evals, cached, best, mean, std, min, diversity) and ``pareto_front`` the
    non-dominated members seen so far (multi-objective strategies; else empty).
    """

    generation: int
    population: list[Member]
    best: Member
    best_ever: Member
    stats: Mapping[str, float]
    done: bool
    pareto_front: list[Member] = field(default_factory=list)
