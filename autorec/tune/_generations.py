"""The generation writer: what a search keeps on disk each time a generation closes.

:class:`GenerationWriter` is an ``Evolution.on_generation`` hook. For every closed
generation it writes ``generations/gen_XXX.json`` (the members, their evaluations and
trial ids, the generation's figures), the logbook, the hall of fame, ``best_genome.yaml``
(never a failed genome) and the report, prunes the weights of genomes that left the hall of
fame, and tells the progress display.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from autorec.tune._checkpoints import prune_weights
from autorec.tune._progress import Progress
from autorec.tune._report import build_report
from autorec.tune._rundir import RunDir
from autorec.tune._searcher import TrialRecord

if TYPE_CHECKING:
    from autorec.evolution import Evaluation, Evolution, GenerationSummary, Member

__all__ = ["GenerationEntry", "GenerationWriter", "HallOfFameEntry", "gene_diversity"]

logger = logging.getLogger(__name__)


class GenerationEntry(TypedDict):
    """One closed generation's figures (``logbook.json``'s ``generations``, the summary's
    history)."""

    generation: int
    best_fitness: float | None
    mean_fitness: float | None
    min_fitness: float | None
    best_so_far: float | None
    n_evaluated: int
    size: int
    unique_fraction: float
    gene_diversity: float
    time: float


class HallOfFameEntry(TypedDict):
    """One genome of ``hall_of_fame.yaml``, best first."""

    key: str
    fitness: float | None
    status: str | None
    epochs: int | None
    metrics: dict[str, float]
    genome: dict[str, Any]


def gene_diversity(genomes: Sequence[Mapping[str, Any]]) -> float:
    """Mean over pairs of the fraction of genes that differ (0 = clones, 1 = all differ)."""
    n = len(genomes)
    names = sorted({k for g in genomes for k in g if k != "family"})
    if n < 2 or not names:
        return 0.0
    total, pairs = 0.0, 0
    for i in range(n):
        for j in range(i + 1, n):
            diff = sum(1 for k in names if genomes[i].get(k) != genomes[j].get(k))
            total += diff / len(names)
            pairs += 1
    return total / pairs


def _evaluation_dict(ev: Evaluation | None) -> dict[str, Any] | None:
    if ev is None:
        return None
    return {
        "fitness": float(ev.fitness),
        "objectives": [float(o) for o in ev.objectives],
        "status": str(ev.status),
        "epochs": int(ev.epochs),
        "metrics": {k: float(v) for k, v in dict(ev.metrics).items()},
    }


def _member_ref(member: Member) -> dict[str, Any]:
    genome, ev = member
    return {"genome_key": genome.key, "fitness": float(ev.fitness), "status": str(ev.status)}


def _summary_refs(summary: GenerationSummary) -> dict[str, Any]:
    """The summary beside the population (``gen_XXX.json``'s ``summary``), members as
    ``{genome_key, fitness, status}``."""
    return {
        "best": _member_ref(summary.best),
        "best_ever": _member_ref(summary.best_ever),
        "stats": dict(summary.stats),
        "done": summary.done,
        "pareto_front": [_member_ref(m) for m in summary.pareto_front],
    }


def _entry(
    generation: int, pop: list[dict[str, Any]], hof: list[HallOfFameEntry]
) -> GenerationEntry:
    fitnesses = [float(p["evaluation"]["fitness"]) for p in pop if p["evaluation"]]
    best_so_far = hof[0]["fitness"] if hof else (max(fitnesses) if fitnesses else None)
    return {
        "generation": generation,
        "best_fitness": max(fitnesses) if fitnesses else None,
        "mean_fitness": sum(fitnesses) / len(fitnesses) if fitnesses else None,
        "min_fitness": min(fitnesses) if fitnesses else None,
        "best_so_far": best_so_far,
        "n_evaluated": len(fitnesses),
        "size": len(pop),
        "unique_fraction": (len({p["genome_key"] for p in pop}) / len(pop)) if pop else 0.0,
        "gene_diversity": gene_diversity([p["genome"] for p in pop]),
        "time": time.time(),
    }


class GenerationWriter:
    """``Evolution.on_generation`` hook (module docstring). ``records`` maps genome keys to
    their trial records (for the trial ids); ``history`` holds every closed generation's
    :class:`GenerationEntry`, in order."""

    def __init__(
        self,
        rd: RunDir,
        evolution: Evolution,
        records: Mapping[str, TrialRecord],
        progress: Progress,
    ) -> None:
        self.rd = rd
        self.evolution = evolution
        self.records = records
        self.progress = progress
        self.history: list[GenerationEntry] = []

    def __call__(self, summary: GenerationSummary) -> None:
        pop = [self._member(genome, ev) for genome, ev in summary.population]
        hof = self.hall_of_fame()
        entry = _entry(summary.generation, pop, hof)
        self.rd.write_json(
            self.rd.generation_file(summary.generation),
            {**entry, "summary": _summary_refs(summary), "population": pop},
        )
        self._log(entry)
        self._write_best(hof)
        self.progress.generation_closed(entry)
        try:
            build_report(self.rd)
        except Exception as exc:  # the report must never stop the search
            logger.warning("report not written: %s", exc)

    def _member(self, genome: Any, ev: Evaluation | None) -> dict[str, Any]:
        record = self.records.get(genome.key)
        return {
            "genome_key": genome.key,
            "genome": genome.to_dict(),
            "evaluation": _evaluation_dict(ev or self.evolution.cache.get(genome.key)),
            "trial_id": record.trial_id if record else None,
        }

    def _log(self, entry: GenerationEntry) -> None:
        kept = [h for h in self.history if h["generation"] != entry["generation"]]
        self.history = sorted([*kept, entry], key=lambda h: int(h["generation"]))
        rows = [dict(row) for row in self.evolution.logbook]
        self.rd.write_json(self.rd.logbook, {"generations": self.history, "deap_logbook": rows})

    def _write_best(self, hof: list[HallOfFameEntry]) -> None:
        self.rd.write_yaml(self.rd.hall_of_fame, hof)
        best = next((h for h in hof if h["status"] != "error"), None)
        if best is not None:  # never a failed genome
            self.rd.write_yaml(self.rd.best_genome, best["genome"])
        prune_weights(self.rd.root, [h["key"] for h in hof])

    def hall_of_fame(self) -> list[HallOfFameEntry]:
        """The evolution's hall of fame, best first, as written to ``hall_of_fame.yaml``."""
        out: list[HallOfFameEntry] = []
        for genome, ev in self.evolution.hall_of_fame:
            evd = _evaluation_dict(ev) or {}
            out.append(
                {
                    "key": genome.key,
                    "fitness": evd.get("fitness"),
                    "status": evd.get("status"),
                    "epochs": evd.get("epochs"),
                    "metrics": evd.get("metrics", {}),
                    "genome": genome.to_dict(),
                }
            )
        return out
