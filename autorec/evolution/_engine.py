"""The Ray-free evolution engine: ask/tell over generations, with cache, hall of fame, logbook.

Protocol (the Ray Tune searcher drives it; tests drive it directly)::

    evo = Evolution(space, "elitist", population_size=6, generations=3, seed=1)
    while not evo.done:
        g = evo.ask()                       # None: wait for pending results
        if g is None: ...wait for a result...; continue
        evo.tell(g.key, train(g))           # may close the generation and start the next

Generations: generation 0 is the initial population (sampled, plus ``initial`` genomes);
``generations`` more are bred from it (τ = 1..N in Algorithm 2, DEAP's ``ngen``), so
``generations + 1`` populations are evaluated and :attr:`done` turns true when generation
``generations`` closes. A genome whose canonical key is in the fitness cache is never asked:
it is assigned from the cache when its generation starts; duplicates within a generation are
asked once. The trajectory depends only on the seed and the evaluations, not on the order in
which results arrive (random draws happen only when a generation closes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from deap import base, tools

from autorec._io import json_safe
from autorec.evolution._strategies import (
    NextGeneration,
    Strategy,
    StrategyContext,
    make_strategy,
)
from autorec.evolution._types import (
    Evaluation,
    GenerationSummary,
    Individual,
    Member,
    safe_fitness,
)
from autorec.genome import Genome, SearchSpace

__all__ = ["STATE_VERSION", "Evolution"]

STATE_VERSION = 1
LOG_HEADER = ("gen", "evals", "cached", "best", "mean", "std", "min", "diversity")


class Evolution:
    """A generational GA over a :class:`SearchSpace`, driven by ``ask()``/``tell()``.

    ``objectives`` names the values NSGA-II maximises: an :class:`Evaluation` whose
    ``objectives`` tuple is non-empty is used as is (its length must match); otherwise each
    name is looked up: ``"fitness"`` -> ``evaluation.fitness``, ``"m"`` -> ``metrics["m"]``,
    ``"-m"`` -> ``-metrics["m"]`` (missing metrics count as 0). Single-objective strategies use
    ``fitness`` only. ``indpb`` is the per-gene mutation probability, ``hof_size`` the hall of
    fame size, ``initial`` genomes seed generation 0 (the rest is sampled).
    """

    def __init__(
        self,
        space: SearchSpace,
        strategy: Strategy | str = "elitist",
        *,
        population_size: int,
        generations: int,
        seed: int,
        p_c: float = 0.7,
        p_m: float = 0.3,
        objectives: Sequence[str] = ("fitness",),
        indpb: float = 0.2,
        hof_size: int = 10,
        initial: Iterable[Genome] = (),
        on_generation: Callable[[GenerationSummary], None]
        | Sequence[Callable[[GenerationSummary], None]]
        | None = None,
    ) -> None:
        if population_size < 1:
            raise ValueError("population_size must be >= 1")
        if generations < 0:
            raise ValueError("generations must be >= 0")
        for name, p in (("p_c", p_c), ("p_m", p_m), ("indpb", indpb)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {p}")
        if not objectives:
            raise ValueError("at least one objective is needed")
        self.space = space
        self.strategy = make_strategy(strategy) if isinstance(strategy, str) else strategy
        self.population_size = int(population_size)
        self.generations = int(generations)
        self.seed = int(seed)
        self.p_c = float(p_c)
        self.p_m = float(p_m)
        self.indpb = float(indpb)
        self.objectives: tuple[str, ...] = tuple(objectives)
        self.hof_size = int(hof_size)
        self.rng = np.random.default_rng(self.seed)
        if on_generation is None:
            self.on_generation: list[Callable[[GenerationSummary], None]] = []
        elif callable(on_generation):
            self.on_generation = [on_generation]
        else:
            self.on_generation = list(on_generation)

        self.toolbox = base.Toolbox()
        self.toolbox.register("sample", space.sample)
        self.toolbox.register("mate", space.crossover)
        self.toolbox.register("mutate", space.mutate, indpb=self.indpb)
        self.toolbox.register("repair", space.repair)

        self.cache: dict[str, Evaluation] = {}
        self.genomes: dict[str, Genome] = {}  # every genome ever placed in a generation
        self.logbook = tools.Logbook()
        self.logbook.header = list(LOG_HEADER)
        self._hof = tools.HallOfFame(max(1, self.hof_size), similar=_same_key)
        self._pareto = tools.ParetoFront(similar=_same_key)
        self.history: list[list[str]] = []  # keys of every closed generation, in order
        self.generation = 0
        self.done = False
        self._archive: list[Member] = []
        self._members: list[Genome] = []
        self._to_ask: list[str] = []
        self._pending: set[str] = set()
        self._evals_this_gen = 0

        pop = [space.repair(g) for g in initial][: self.population_size]
        while len(pop) < self.population_size:
            pop.append(space.sample(self.rng))
        self._start_generation(pop)

    # -- public API ------------------------------------------------------------------------
    @property
    def population(self) -> list[tuple[Genome, Evaluation | None]]:
        """The current generation's members with their evaluations (None: not yet known)."""
        return [(g, self.cache.get(g.key)) for g in self._members]

    @property
    def pending(self) -> frozenset[str]:
        """Keys asked and not yet told."""
        return frozenset(self._pending)

    @property
    def waiting(self) -> int:
        """How many keys of this generation still have to be asked."""
        return len(self._to_ask)

    @property
    def hall_of_fame(self) -> list[Member]:
        """The best distinct genomes ever evaluated, best first (by fitness)."""
        return [ind.member for ind in self._hof]

    @property
    def deap_hall_of_fame(self) -> tools.HallOfFame:
        return self._hof

    @property
    def best(self) -> Member | None:
        return self.hall_of_fame[0] if len(self._hof) else None

    @property
    def pareto_front(self) -> list[Member]:
        """Non-dominated members over ``objectives`` among everything evaluated so far."""
        return [ind.member for ind in self._pareto]

    def genome(self, key: str) -> Genome:
        """The genome with this key (one the engine has placed in a generation)."""
        return self.genomes[key]

    def ask(self) -> Genome | None:
        """A genome to evaluate, or None (all of this generation asked, or done)."""
        while self._to_ask:
            key = self._to_ask.pop(0)
            if key in self.cache:  # told out of band meanwhile
                continue
            self._pending.add(key)
            return self.genomes[key]
        return None

    def tell(self, key: str, evaluation: Evaluation) -> None:
        """Record a result; closes the generation (and breeds the next) once all are in.

        A result for a key never asked (e.g. restored from a previous run) is cached too.
        """
        if evaluation.key != key:
            if evaluation.key:
                raise ValueError(f"evaluation.key {evaluation.key!r} != told key {key!r}")
            evaluation = dataclasses.replace(evaluation, key=key)
        self._objective_values(evaluation)  # validate the objectives now, not at close
        if key not in self.cache:
            self.cache[key] = evaluation
            if key in self._pending or key in self._to_ask:
                self._evals_this_gen += 1
        self._pending.discard(key)
        if key in self._to_ask:
            self._to_ask.remove(key)
        self._maybe_close()

    def add_callback(self, fn: Callable[[GenerationSummary], None]) -> None:
        self.on_generation.append(fn)

    # -- generations ------------------------------------------------------------------------
    def _start_generation(self, genomes: list[Genome]) -> None:
        self._members = list(genomes)
        self._to_ask = []
        self._pending = set()
        self._evals_this_gen = 0
        for g in self._members:
            self.genomes.setdefault(g.key, g)
            if g.key not in self.cache and g.key not in self._to_ask:
                self._to_ask.append(g.key)

    def _maybe_close(self) -> None:
        while not self.done and not self._to_ask and not self._pending:
            self._close_generation()

    def _close_generation(self) -> None:
        members: list[Member] = [(g, self.cache[g.key]) for g in self._members]
        inds = [Individual(g, ev, (safe_fitness(ev.fitness),)) for g, ev in members]
        self._hof.update(inds)
        if self.strategy.multi_objective:
            self._pareto.update(
                [Individual(g, ev, self._objective_values(ev)) for g, ev in members]
            )
        fits = np.array([safe_fitness(ev.fitness) for _, ev in members], dtype=float)
        best_i = int(np.argmax(fits))
        record: dict[str, float] = {
            "gen": self.generation,
            "evals": self._evals_this_gen,
            "cached": len(members) - self._evals_this_gen,
            "best": float(fits.max()),
            "mean": float(fits.mean()),
            "std": float(fits.std()),
            "min": float(fits.min()),
            "diversity": len({g.key for g, _ in members}),
        }
        self.logbook.record(**record)
        self.history.append([g.key for g in self._members])
        closing = self.generation
        self.done = closing >= self.generations
        if not self.done:
            ctx = StrategyContext(
                rng=self.rng,
                toolbox=self.toolbox,
                population_size=self.population_size,
                p_c=self.p_c,
                p_m=self.p_m,
                generation=closing,
                objectives=lambda m: self._objective_values(m[1]),
                archive=list(self._archive),
                known=self.cache.__contains__,
            )
            nxt: NextGeneration = self.strategy.select_next(members, ctx)
            if len(nxt.genomes) != self.population_size:
                raise RuntimeError(
                    f"strategy {self.strategy.name} returned "
                    f"{len(nxt.genomes)} genomes, expected "
                    f"{self.population_size}"
                )
            self._archive = list(nxt.archive)
            self.generation = closing + 1
            self._start_generation([self.space.repair(g) for g in nxt.genomes])
        summary = GenerationSummary(
            generation=closing,
            population=members,
            best=members[best_i],
            best_ever=self.hall_of_fame[0],
            stats=record,
            done=self.done,
            pareto_front=self.pareto_front,
        )
        for fn in self.on_generation:
            fn(summary)

    def _objective_values(self, ev: Evaluation) -> tuple[float, ...]:
        if ev.objectives:
            if len(ev.objectives) != len(self.objectives):
                raise ValueError(
                    f"evaluation {ev.key} has {len(ev.objectives)} objectives, "
                    f"expected {len(self.objectives)} ({', '.join(self.objectives)})"
                )
            return tuple(safe_fitness(float(x)) for x in ev.objectives)
        out: list[float] = []
        for name in self.objectives:
            sign = -1.0 if name.startswith("-") else 1.0
            base_name = name.lstrip("-")
            v = ev.fitness if base_name == "fitness" else ev.metrics.get(base_name, 0.0)
            out.append(sign * safe_fitness(float(v)))
        return tuple(out)

    # -- persistence ---------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {
            "space": self.space.name,
            "family": self.space.family,
            "strategy": self.strategy.name,
            "strategy_params": self.strategy.params(),
            "population_size": self.population_size,
            "generations": self.generations,
            "seed": self.seed,
            "p_c": self.p_c,
            "p_m": self.p_m,
            "indpb": self.indpb,
            "objectives": list(self.objectives),
            "hof_size": self.hof_size,
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue identically (plain, picklable, JSON-friendly data):
        config, generation, RNG state (``bit_generator.state``), current members, keys still to
        ask and pending, the strategy archive, the fitness cache, genomes, hall of fame, Pareto
        front, logbook and history."""
        return {
            "version": STATE_VERSION,
            "config": self.config(),
            "generation": self.generation,
            "done": self.done,
            "rng": json_safe(self.rng.bit_generator.state),
            "members": [g.key for g in self._members],
            "to_ask": list(self._to_ask),
            "pending": sorted(self._pending),
            "evals_this_gen": self._evals_this_gen,
            "archive": [g.key for g, _ in self._archive],
            "genomes": {k: dict(g.to_dict()) for k, g in self.genomes.items()},
            "cache": {k: ev.to_dict() for k, ev in self.cache.items()},
            "hall_of_fame": [ind.key for ind in self._hof],
            "pareto_front": [ind.key for ind in self._pareto],
            "logbook": [dict(r) for r in self.logbook],
            "history": [list(h) for h in self.history],
        }

    def load_state_dict(self, state: Mapping[str, Any], *, requeue_pending: bool = True) -> None:
        """Restore :meth:`state_dict` output into an engine built with the same settings.

        Keys that were asked but not told are asked again (``requeue_pending``, the default)
        in front of the rest; with ``requeue_pending=False`` they stay pending and the caller
        must tell their results (e.g. Tune restores and finishes those trials itself).
        """
        if int(state.get("version", -1)) != STATE_VERSION:
            raise ValueError(f"unsupported evolution state version {state.get('version')!r}")
        cfg = state["config"]
        mine = self.config()
        for k in ("family", "strategy", "population_size", "generations", "seed"):
            if cfg.get(k) != mine[k]:
                raise ValueError(
                    f"state was saved with {k}={cfg.get(k)!r}, this engine has {mine[k]!r}"
                )
        self.genomes = {k: Genome.from_dict(d) for k, d in state["genomes"].items()}
        self.cache = {k: Evaluation.from_dict(d) for k, d in state["cache"].items()}
        self.generation = int(state["generation"])
        self.done = bool(state["done"])
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = dict(state["rng"])
        self._members = [self.genomes[k] for k in state["members"]]
        pending = [k for k in state["pending"] if k not in self.cache]
        to_ask = [k for k in state["to_ask"] if k not in self.cache]
        if requeue_pending:
            ordered = [
                k
                for k in dict.fromkeys(g.key for g in self._members)
                if k in set(pending) | set(to_ask)
            ]
            self._to_ask = ordered
            self._pending = set()
        else:
            self._to_ask = to_ask
            self._pending = set(pending)
        self._evals_this_gen = int(state["evals_this_gen"])
        self._archive = [(self.genomes[k], self.cache[k]) for k in state["archive"]]
        self._hof = tools.HallOfFame(max(1, self.hof_size), similar=_same_key)
        for k in reversed(state["hall_of_fame"]):
            ev = self.cache[k]
            self._hof.insert(Individual(self.genomes[k], ev, (safe_fitness(ev.fitness),)))
        self._pareto = tools.ParetoFront(similar=_same_key)
        for k in reversed(state["pareto_front"]):
            ev = self.cache[k]
            self._pareto.insert(Individual(self.genomes[k], ev, self._objective_values(ev)))
        self.logbook = tools.Logbook()
        self.logbook.header = list(LOG_HEADER)
        for rec in state["logbook"]:
            self.logbook.record(**rec)
        self.history = [list(h) for h in state["history"]]
        self._maybe_close()


def _same_key(a: Individual, b: Individual) -> bool:
    return a.key == b.key
