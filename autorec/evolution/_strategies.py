"""GA strategies (plugin points): ``paper``, ``elitist`` and ``nsga2``.

A strategy turns a closed, evaluated generation into the genomes of the next generation
(:meth:`Strategy.select_next`). Variation goes through the engine's ``deap.base.Toolbox``
(``mate`` = :meth:`SearchSpace.crossover`, ``mutate`` = :meth:`SearchSpace.mutate`, both
repairing), so every child is valid. Genomes the engine has already evaluated are never
trained again (fitness cache by canonical key), which is how "re-evaluate only the changed
children" of Algorithm 2 is realised for every strategy.

Randomness: every draw comes from the ``numpy.random.Generator`` in the context. DEAP's
``selTournament`` (and ``selRandom``/``selTournamentDCD``) draw from the global ``random``
module, so tournament selection is reimplemented here (:func:`sel_tournament`,
:func:`sel_tournament_dcd`, a few lines each, same semantics). ``deap.tools.selNSGA2`` with
``nd="standard"`` and ``sortNondominated``/``assignCrowdingDist`` draw no random numbers and are
used as they are (checked against DEAP 1.4.4).

New strategies: subclass :class:`Strategy`, set ``name`` and decorate with
:func:`register_strategy`; :func:`make_strategy` then builds it by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np
from deap import base, tools

from autorec.errors import AutorecError
from autorec.evolution._types import Individual, Member, safe_fitness
from autorec.genome import Genome, suggest

__all__ = [
    "STRATEGIES",
    "ElitistStrategy",
    "NSGA2Strategy",
    "NextGeneration",
    "PaperStrategy",
    "Strategy",
    "StrategyContext",
    "make_strategy",
    "register_strategy",
    "sel_tournament",
    "sel_tournament_dcd",
]


@dataclass
class StrategyContext:
    """What a strategy may use: the engine's RNG, DEAP toolbox and settings.

    ``toolbox.mate(a, b, rng)``, ``toolbox.mutate(g, rng)``, ``toolbox.sample(rng)``,
    ``toolbox.repair(g)``; ``objectives(member)`` gives the maximised objective values;
    ``archive`` is what the strategy kept from the previous call (NSGA-II's parents);
    ``known(key)`` says whether a genome with that key was already evaluated.
    """

    rng: np.random.Generator
    toolbox: base.Toolbox
    population_size: int
    p_c: float
    p_m: float
    generation: int
    objectives: Callable[[Member], tuple[float, ...]]
    archive: list[Member] = field(default_factory=list)
    known: Callable[[str], bool] = lambda key: False


@dataclass
class NextGeneration:
    """The next generation's genomes, and the members the strategy wants back as ``archive``."""

    genomes: list[Genome]
    archive: list[Member] = field(default_factory=list)


class Strategy(ABC):
    """A GA strategy. ``params()`` returns the constructor arguments (saved with the run)."""

    name: ClassVar[str] = ""
    multi_objective: ClassVar[bool] = False

    @abstractmethod
    def select_next(self, population: Sequence[Member], ctx: StrategyContext) -> NextGeneration:
        """The next generation from the evaluated ``population`` (in generation order)."""

    def params(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


STRATEGIES: dict[str, type[Strategy]] = {}

S = TypeVar("S", bound=type[Strategy])


def register_strategy(cls: S) -> S:
    """Class decorator: make a strategy available to :func:`make_strategy` by its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    STRATEGIES[cls.name] = cls
    return cls


def make_strategy(name: str, **params: Any) -> Strategy:
    """Build a registered strategy: ``paper``, ``elitist`` (default of the CLI) or ``nsga2``."""
    cls = STRATEGIES.get(name)
    if cls is None:
        raise AutorecError(
            "--algorithm",
            f"unknown strategy {name!r}{suggest(name, STRATEGIES)}",
            f"use one of {', '.join(STRATEGIES)}",
        )
    try:
        return cls(**params)
    except TypeError as exc:
        raise AutorecError(
            "--algorithm",
            f"bad parameters for strategy {name!r}: {exc}",
            f"see {cls.__name__}'s documentation",
        ) from None


# -- selection helpers (numpy Generator instead of the global `random`) ------------------------
T = TypeVar("T")


def sel_tournament(
    items: Sequence[T], k: int, tournsize: int, rng: np.random.Generator, key: Callable[[T], float]
) -> list[T]:
    """DEAP ``selTournament`` with an explicit generator: ``k`` times, the best of
    ``tournsize`` aspirants drawn with replacement (ties: the first drawn)."""
    chosen: list[T] = []
    for _ in range(k):
        idx = rng.integers(len(items), size=tournsize)
        aspirants = [items[int(i)] for i in idx]
        chosen.append(max(aspirants, key=key))
    return chosen


def sel_tournament_dcd(
    items: Sequence[T],
    k: int,
    rng: np.random.Generator,
    rank: Callable[[T], int],
    crowding: Callable[[T], float],
) -> list[T]:
    """Binary tournament of NSGA-II (Deb 2002): lower front rank wins, then larger crowding
    distance, then the first drawn. ``k`` picks with replacement."""
    chosen: list[T] = []
    for _ in range(k):
        i, j = (int(x) for x in rng.integers(len(items), size=2))
        a, b = items[i], items[j]
        if rank(b) < rank(a) or (rank(b) == rank(a) and crowding(b) > crowding(a)):
            chosen.append(b)
        else:
            chosen.append(a)
    return chosen


def _vary(parents: Sequence[Genome], ctx: StrategyContext) -> list[Genome]:
    """DEAP ``varAnd`` semantics: consecutive pairs mate with p_c, then each child mutates with
    p_m. An odd last parent is only mutated."""
    children = list(parents)
    for i in range(1, len(children), 2):
        if ctx.rng.random() < ctx.p_c:
            children[i - 1], children[i] = ctx.toolbox.mate(children[i - 1], children[i], ctx.rng)
    for i in range(len(children)):
        if ctx.rng.random() < ctx.p_m:
            children[i] = ctx.toolbox.mutate(children[i], ctx.rng)
    return children


def _novel(children: list[Genome], ctx: StrategyContext, retries: int) -> list[Genome]:
    """Children that repeat an evaluated genome or an earlier child are mutated again (up to
    ``retries`` times each), so a generation spends its trials on new genomes. Small spaces may
    still yield repeats; those cost nothing (fitness cache)."""
    out: list[Genome] = []
    seen: set[str] = set()
    for child in children:
        c = child
        for _ in range(retries):
            if c.key not in seen and not ctx.known(c.key):
                break
            c = ctx.toolbox.mutate(c, ctx.rng)
        seen.add(c.key)
        out.append(c)
    return out


def _fit(m: Member) -> float:
    return safe_fitness(m[1].fitness)


@register_strategy
class PaperStrategy(Strategy):
    """Algorithm 2 (GenTune) of the DRNN paper, as written.

    Each generation: shuffle P(τ); for each pair (c1, c2) draw r1, r2, r3 in [0, 1); crossover
    if r1 < p_c; mutate c1 if r2 < p_m; mutate c2 if r3 < p_m. An odd last chromosome passes
    unchanged. Only changed children are re-evaluated (lines 17-22; unchanged ones keep their
    canonical key, so the engine's cache supplies their fitness).

    Reading of "new P(τ)": Algorithm 2 modifies P(τ) in place, so the children *replace* their
    parents and the modified population is P(τ+1) — there is no selection step. ``maxFit`` and
    ``best`` (lines 3-4, 18-22) are the best chromosome seen so far; we read line 19's "best =
    chromosome with maximum fitness in new P(τ)" together with line 18's running maximum, i.e.
    best is kept across generations (it is the engine's hall of fame, never lost even when the
    population drifts away from it). Use ``elitist`` if the best should also stay in the
    population.
    """

    name = "paper"

    def select_next(self, population: Sequence[Member], ctx: StrategyContext) -> NextGeneration:
        order = ctx.rng.permutation(len(population))
        pop = [population[int(i)][0] for i in order]
        for i in range(len(pop) // 2):
            c1, c2 = pop[2 * i], pop[2 * i + 1]
            r1, r2, r3 = (float(x) for x in ctx.rng.random(3))
            if r1 < ctx.p_c:
                c1, c2 = ctx.toolbox.mate(c1, c2, ctx.rng)
            if r2 < ctx.p_m:
                c1 = ctx.toolbox.mutate(c1, ctx.rng)
            if r3 < ctx.p_m:
                c2 = ctx.toolbox.mutate(c2, ctx.rng)
            pop[2 * i], pop[2 * i + 1] = c1, c2
        return NextGeneration(pop)


@register_strategy
class ElitistStrategy(Strategy):
    """Tournament selection + elitism (the default).

    The ``elite`` best distinct genomes of the generation survive unchanged (so the
    generation's best fitness never decreases); the other ``population_size - elite`` places
    are children of parents picked by tournaments of ``tournament_size`` (with replacement),
    varied like DEAP's ``varAnd`` (pairs mate with p_c, each child mutates with p_m).
    With ``novelty_retries > 0`` a child that repeats an evaluated genome (or a sibling) is
    mutated again, up to that many times, so small populations do not stall on copies.
    """

    name = "elitist"

    def __init__(self, tournament_size: int = 3, elite: int = 1, novelty_retries: int = 3) -> None:
        if tournament_size < 1:
            raise ValueError("tournament_size must be >= 1")
        if elite < 0:
            raise ValueError("elite must be >= 0")
        if novelty_retries < 0:
            raise ValueError("novelty_retries must be >= 0")
        self.tournament_size = int(tournament_size)
        self.elite = int(elite)
        self.novelty_retries = int(novelty_retries)

    def params(self) -> dict[str, Any]:
        return {
            "tournament_size": self.tournament_size,
            "elite": self.elite,
            "novelty_retries": self.novelty_retries,
        }

    def select_next(self, population: Sequence[Member], ctx: StrategyContext) -> NextGeneration:
        n = ctx.population_size
        ranked = sorted(range(len(population)), key=lambda i: -_fit(population[i]))
        elites: list[Genome] = []
        seen: set[str] = set()
        for i in ranked:
            g = population[i][0]
            if len(elites) >= min(self.elite, n):
                break
            if g.key not in seen:
                seen.add(g.key)
                elites.append(g)
        parents = sel_tournament(
            list(population), n - len(elites), self.tournament_size, ctx.rng, _fit
        )
        children = _vary([m[0] for m in parents], ctx)
        children = _novel(children, ctx, self.novelty_retries)
        return NextGeneration(elites + children)


@register_strategy
class NSGA2Strategy(Strategy):
    """NSGA-II (Deb et al. 2002) over the evaluations' objectives, all maximised.

    The parents P(t) are kept in the context's ``archive``. When generation t (the offspring
    Q(t)) closes, P(t+1) = ``deap.tools.selNSGA2``(P(t) ∪ Q(t), N) (distinct genomes); the next
    offspring are bred from P(t+1) by binary tournaments on (front rank, crowding distance)
    and ``varAnd`` variation (children repeating evaluated genomes are mutated again up to
    ``novelty_retries`` times). The initial population is its own parent set.
    """

    name = "nsga2"
    multi_objective = True

    def __init__(self, novelty_retries: int = 3) -> None:
        if novelty_retries < 0:
            raise ValueError("novelty_retries must be >= 0")
        self.novelty_retries = int(novelty_retries)

    def params(self) -> dict[str, Any]:
        return {"novelty_retries": self.novelty_retries}

    def select_next(self, population: Sequence[Member], ctx: StrategyContext) -> NextGeneration:
        pool: list[Individual] = []
        seen: set[str] = set()
        for g, ev in [*ctx.archive, *population]:
            if g.key in seen:
                continue
            seen.add(g.key)
            pool.append(Individual(g, ev, ctx.objectives((g, ev))))
        n = ctx.population_size
        survivors: list[Individual] = tools.selNSGA2(pool, min(n, len(pool)), nd="standard")
        fronts = tools.sortNondominated(survivors, len(survivors))
        rank: dict[str, int] = {}
        crowd: dict[str, float] = {}
        for r, front in enumerate(fronts):
            tools.emo.assignCrowdingDist(front)
            for ind in front:
                rank[ind.key] = r
                crowd[ind.key] = float(ind.fitness.crowding_dist)
        parents = sel_tournament_dcd(
            survivors, n, ctx.rng, lambda i: rank[i.key], lambda i: crowd[i.key]
        )
        children = _vary([p.genome for p in parents], ctx)
        children = _novel(children, ctx, self.novelty_retries)
        return NextGeneration(children, [ind.member for ind in survivors])
