"""The genetic search, Ray-free: DEAP strategies and the ask/tell :class:`Evolution` engine.

Strategies: ``paper`` (Algorithm 2 of the DRNN paper), ``elitist`` (tournament + elitism, the
default) and ``nsga2`` (multi-objective). See :mod:`autorec.evolution._strategies` for the
reading of Algorithm 2 and how DEAP's randomness is kept off the global ``random`` module, and
:mod:`autorec.evolution._engine` for the ask/tell protocol and the saved state.
"""

from autorec.evolution._engine import STATE_VERSION, Evolution
from autorec.evolution._strategies import (
    STRATEGIES,
    ElitistStrategy,
    NextGeneration,
    NSGA2Strategy,
    PaperStrategy,
    Strategy,
    StrategyContext,
    make_strategy,
    register_strategy,
    sel_tournament,
    sel_tournament_dcd,
)
from autorec.evolution._types import (
    Evaluation,
    GenerationSummary,
    Individual,
    Member,
    Status,
    fitness_class,
    safe_fitness,
)

__all__ = [
    "STATE_VERSION",
    "STRATEGIES",
    "ElitistStrategy",
    "Evaluation",
    "Evolution",
    "GenerationSummary",
    "Individual",
    "Member",
    "NSGA2Strategy",
    "NextGeneration",
    "PaperStrategy",
    "Status",
    "Strategy",
    "StrategyContext",
    "fitness_class",
    "make_strategy",
    "register_strategy",
    "safe_fitness",
    "sel_tournament",
    "sel_tournament_dcd",
]
