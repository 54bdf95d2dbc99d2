"""The options of a search: their defaults and their validation, each written once.

``autorec search`` takes its defaults from :class:`SearchOptions` (``= SearchOptions.population``
in the typer signature) and leaves every range check to :meth:`SearchOptions.validate`, which
:func:`autorec.tune.run_search` and :func:`autorec.tune.resume_search` call before Ray
starts or a file is written: one ``error:`` line, not click's box.

Ray-free and light (no numpy, torch or Ray at import): the CLI imports it to build its
signature, and ``autorec --help`` must stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autorec.errors import AutorecError

if TYPE_CHECKING:
    from autorec.train import TrainOptions

__all__ = ["SearchOptions", "default_run_dir", "objectives_for", "train_options"]


@dataclass
class SearchOptions:
    """Every option of a search (saved to ``config.yaml``; ``resume`` reads them back).

    Defaults finish on the built-in synthetic data in a few minutes on 2 CPUs.
    """

    space: str = "drnn"
    data: str | None = None
    split: str | None = None
    population: int = 6
    generations: int = 3
    #: a strategy registered in :mod:`autorec.evolution` (``register_strategy``)
    algorithm: str = "elitist"
    p_c: float = 0.7
    p_m: float = 0.3
    epochs: int = 8
    seed: int = 0
    run_dir: str | None = None
    address: str | None = None
    num_cpus: int | None = None
    cpus_per_trial: float | None = None
    gpus_per_trial: float | None = None
    max_failures: int = 2
    objectives: str | None = None
    #: purchase histories: K rolling X -> Y training windows (autorec.data, 1 = the paper's)
    train_windows: int = 1
    #: purchase histories: add one XY -> XY auto-encoder training example per customer
    autoencoder: bool = False
    #: baselines the best network is compared with on the test split (None: every one)
    baselines: str | None = None
    #: an earlier run dir or bundle whose best genomes seed generation 0 (autorec.tune._warm)
    warm_start: str | None = None
    #: multi-fidelity of a generation: none, or halving (autorec.tune._fidelity)
    fidelity: str = "none"

    def validate(self) -> None:
        """Raise :class:`AutorecError` naming the first bad option (checked in the order of
        ``autorec search --help``)."""
        for check in _CHECKS:
            check(self)


def _at_least(name: str, low: int) -> Callable[[SearchOptions], None]:
    """An integer option that must be ``low`` or more (``None`` allowed: the default)."""

    def check(options: SearchOptions) -> None:
        value = getattr(options, name)
        if value is not None and value < low:
            raise AutorecError(_flag(name), f"got {value}", f"pass {low} or more")

    return check


def _flag(name: str) -> str:
    return f"option --{name.replace('_', '-')}"


def _algorithm(options: SearchOptions) -> None:
    # the registry, not a list here: a strategy registered by a plugin is accepted
    from autorec.evolution import STRATEGIES

    if options.algorithm not in STRATEGIES:
        raise AutorecError(
            "option --algorithm",
            f"unknown algorithm {options.algorithm!r}",
            f"use one of {', '.join(STRATEGIES)}",
        )


def _probabilities(options: SearchOptions) -> None:
    for name, p in (("--p-c", options.p_c), ("--p-m", options.p_m)):
        if not 0.0 <= p <= 1.0:
            raise AutorecError(
                f"option {name}",
                f"probability {p} is outside [0, 1]",
                "pass a value between 0 and 1",
            )


def _trial_resources(options: SearchOptions) -> None:
    if options.cpus_per_trial is not None and options.cpus_per_trial <= 0:
        raise AutorecError(
            "option --cpus-per-trial", f"got {options.cpus_per_trial}", "pass a positive number"
        )
    if options.gpus_per_trial is not None and options.gpus_per_trial < 0:
        raise AutorecError(
            "option --gpus-per-trial", f"got {options.gpus_per_trial}", "pass 0 or more"
        )


def _baselines(options: SearchOptions) -> None:
    if options.baselines is not None:
        from autorec.baselines import baseline_names

        baseline_names(options.baselines)  # an unknown name fails before Ray starts


def _fidelity(options: SearchOptions) -> None:
    from autorec.tune._fidelity import check_fidelity

    check_fidelity(options.fidelity)


_CHECKS: tuple[Callable[[SearchOptions], None], ...] = (
    _fidelity,
    _at_least("population", 2),
    _at_least("generations", 0),
    _algorithm,
    _probabilities,
    _at_least("epochs", 1),
    _at_least("num_cpus", 1),
    _at_least("train_windows", 1),
    _trial_resources,
    _baselines,
    _at_least("max_failures", 0),
)


def default_run_dir(space: str, now: datetime | None = None) -> Path:
    """``./autorec_runs/<YYYYmmdd-HHMMSS>-<space>``."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    name = Path(space).stem if space.endswith((".yaml", ".yml")) else space
    return Path("autorec_runs") / f"{stamp}-{name}"


def objectives_for(options: SearchOptions, family: str) -> tuple[str, ...]:
    """The objective names of the search: ``--objectives`` when given; for a
    multi-objective strategy (``nsga2``) by default accuracy-fitness vs. model size
    (sessions) and also vs. coverage PCC@10 (purchase histories, soft-split paper Sec. 5);
    ``("fitness",)`` otherwise (the family's ``nsga2_objectives``). A name is ``fitness``, a
    trial metric (``val_top10``, ``val_pcc@10``, ``n_params``) or ``-name`` (minimised)."""
    if options.objectives:
        return tuple(o.strip() for o in options.objectives.split(",") if o.strip())
    if _multi_objective(options.algorithm):
        from autorec.families import get_family

        return get_family(family).nsga2_objectives
    return ("fitness",)


def _multi_objective(algorithm: str) -> bool:
    from autorec.evolution import STRATEGIES

    cls: Any = STRATEGIES.get(algorithm)
    return bool(cls is not None and cls.multi_objective)


#: Objective names every trial reports without the full validation/test evaluation.
CHEAP_OBJECTIVES = frozenset(
    {"fitness", "n_params", "loss", "val_loss", "val_top1", "val_precision@10"}
)


def train_options(options: SearchOptions, family: str) -> TrainOptions:
    """Trial options: R epochs, the search's seed; the full metrics (``test=True``: every
    validation metric such as PCC@K, plus the test split, and for purchase data the retraining
    on the real protocol) only when an objective needs a metric the fitness run alone does not
    give."""
    from autorec.train import TrainOptions

    names = {o.lstrip("-") for o in objectives_for(options, family)}
    return TrainOptions(
        max_epochs=options.epochs, seed=options.seed, test=not names <= CHEAP_OBJECTIVES
    )
