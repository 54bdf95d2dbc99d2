"""The search driver: Ray startup, the Tuner, the run directory, resume.

``run_search(options)`` starts a search in a new run directory; ``resume_search(run_dir)``
continues one whose driver stopped (``kill -9`` included).

Resume strategy (robust to a kill at any instant): the run directory's fitness cache
(``fitness_cache.json``, rewritten atomically after *every* finished trial, before the
evolution is told) is the source of truth. ``resume`` rebuilds the evolution from the saved
options and seed and replays it: every genome the evolution asks for whose key is in the
cache is told its recorded evaluation at once, without a trial, so the evolution retraces
exactly the trajectory of the interrupted run (its RNG draws are the same, because ask/tell
see the same genomes and evaluations), and only genomes never finished are trained, in a
fresh Tune experiment ``tune/session-NN`` of the same run directory. We do not rely on
``Tuner.restore``: Tune checkpoints its experiment state and the searcher state
periodically, so after a ``kill -9`` the two can disagree (a trial Tune already marked
finished whose result the saved searcher never saw would be neither retrained nor told,
and the generation would never close). Trials that were running when the driver died are
simply trained again; finished ones never are. ``searcher_state.pkl`` (the evolution's
``state_dict`` with its RNG state, written after every tell) is kept for inspection and for
Tune's own ``Searcher.save``/``restore``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from autorec._env import torch_env
from autorec.data import load_family_data
from autorec.errors import AutorecError
from autorec.tune._checkpoints import KeepWeights, prune_weights
from autorec.tune._checks import (
    all_failed_line,
    check_fingerprint,
    check_objectives,
    checked_config,
    data_fingerprint,
)
from autorec.tune._fidelity import check_fidelity, fidelity_for
from autorec.tune._finish import finish_search
from autorec.tune._lock import run_dir_lock
from autorec.tune._noise import NoiseCheck
from autorec.tune._progress import Progress
from autorec.tune._ray_local import is_loopback_address, loopback_only
from autorec.tune._report import build_report
from autorec.tune._resources import alive_nodes, largest_node, placement_for, planner_cluster
from autorec.tune._rundir import RunDir, jsonable
from autorec.tune._searcher import GeneticSearcher, TrialRecord
from autorec.tune._trainable import (
    Trainer,
    data_dims,
    planned_resources_fn,
    resources_for,
    run_trial,
    trial_dirname,
    trial_name,
)
from autorec.tune._warm import warm_start_genomes, warm_start_records

if TYPE_CHECKING:
    from rich.console import Console

    from autorec.evolution import Evolution

__all__ = [
    "SearchOptions",
    "SearchSummary",
    "default_run_dir",
    "load_options",
    "resume_search",
    "run_search",
    "start_ray",
]

logger = logging.getLogger(__name__)

ALGORITHMS = ("paper", "elitist", "nsga2")


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
        check_fidelity(self.fidelity)
        if self.population < 2:
            raise AutorecError("option --population", f"got {self.population}", "pass 2 or more")
        if self.generations < 0:
            raise AutorecError("option --generations", f"got {self.generations}", "pass 0 or more")
        if self.algorithm not in ALGORITHMS:
            raise AutorecError(
                "option --algorithm",
                f"unknown algorithm {self.algorithm!r}",
                f"use one of {', '.join(ALGORITHMS)}",
            )
        for name, p in (("--p-c", self.p_c), ("--p-m", self.p_m)):
            if not 0.0 <= p <= 1.0:
                raise AutorecError(
                    f"option {name}",
                    f"probability {p} is outside [0, 1]",
                    "pass a value between 0 and 1",
                )
        if self.epochs < 1:
            raise AutorecError("option --epochs", f"got {self.epochs}", "pass 1 or more")
        # search's range checks live here, so they read as one `error:` line, not click's box
        if self.num_cpus is not None and self.num_cpus < 1:
            raise AutorecError("option --num-cpus", f"got {self.num_cpus}", "pass 1 or more")
        if self.train_windows < 1:
            raise AutorecError(
                "option --train-windows", f"got {self.train_windows}", "pass 1 or more"
            )
        if self.cpus_per_trial is not None and self.cpus_per_trial <= 0:
            raise AutorecError(
                "option --cpus-per-trial", f"got {self.cpus_per_trial}", "pass a positive number"
            )
        if self.gpus_per_trial is not None and self.gpus_per_trial < 0:
            raise AutorecError(
                "option --gpus-per-trial", f"got {self.gpus_per_trial}", "pass 0 or more"
            )
        if self.baselines is not None:
            from autorec.baselines import baseline_names

            baseline_names(self.baselines)  # an unknown name fails before Ray starts
        if self.max_failures < 0:
            raise AutorecError(
                "option --max-failures", f"got {self.max_failures}", "pass 0 or more"
            )


@dataclass
class SearchSummary:
    """What a finished (or stopped) search produced; ``--json`` prints :meth:`to_json`."""

    run_dir: str
    finished: bool
    best_key: str | None
    best_fitness: float | None
    best_genome: dict[str, Any] | None
    best_metrics: dict[str, float]
    best_status: str | None
    generations: int
    trials: int
    trained_this_session: int
    replayed: int
    wall_s: float
    dashboard_url: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    #: the best network's test metrics beside the best baseline's (autorec.tune._compare)
    comparison: dict[str, Any] | None = None
    #: the budget spent: epochs trained, summed over every trial of the run
    trial_epochs: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "run_dir": self.run_dir,
            "finished": self.finished,
            "best": {
                "genome_key": self.best_key,
                "fitness": self.best_fitness,
                "status": self.best_status,
                "genome": self.best_genome,
                "metrics": self.best_metrics,
            },
            # bred generations, as --generations counts them; populations = generations + 1
            "generations": max(0, self.generations - 1),
            "populations": self.generations,
            "trials": self.trials,
            "trial_epochs": self.trial_epochs,
            "trained_this_session": self.trained_this_session,
            "replayed": self.replayed,
            "wall_s": round(self.wall_s, 3),
            "dashboard_url": self.dashboard_url,
            "best_fitness_per_generation": [h.get("best_so_far") for h in self.history],
            "comparison": self.comparison,
        }


def default_run_dir(space: str, now: datetime | None = None) -> Path:
    """``./autorec_runs/<YYYYmmdd-HHMMSS>-<space>``."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    name = Path(space).stem if space.endswith((".yaml", ".yml")) else space
    return Path("autorec_runs") / f"{stamp}-{name}"


def _token_hint() -> str:
    """How to sign in to the dashboard when Ray's token authentication is on (the default for
    a local cluster since Ray 2.5x): the page asks for the token kept in ~/.ray/auth_token."""
    if os.environ.get("RAY_AUTH_MODE", "token").lower() != "token":
        return ""
    token_file = Path.home() / ".ray" / "auth_token"
    if not token_file.is_file():
        return ""
    return f"  (sign in with the token in {token_file}, or `ray get-auth-token`)"


# --------------------------------------------------------------------------------------
# Ray
# --------------------------------------------------------------------------------------
def start_ray(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    quiet: bool = False,
    err: TextIO | None = None,
) -> str | None:
    """Join ``address`` or start a new local Ray listening on 127.0.0.1 only (dashboard
    included; see :mod:`autorec.tune._ray_local`).

    Returns the dashboard URL (``None`` when it could not start; the search goes on).
    Does nothing (returns ``None``) when Ray is already initialised in this process.
    """
    import ray

    err = err or sys.stderr
    if ray.is_initialized():
        return None
    # Local workers import autorec like the driver does, even when it is not installed.
    root = str(Path(__file__).resolve().parents[2])
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *paths])
    common: dict[str, Any] = {
        "logging_level": logging.WARNING if quiet else logging.INFO,
        "log_to_driver": not quiet,
        "configure_logging": True,
        "runtime_env": {"env_vars": torch_env()},  # before workers load torch (autorec._env)
    }
    if address:
        try:
            with loopback_only() if is_loopback_address(address) else contextlib.nullcontext():
                ctx = ray.init(address=address, **common)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise AutorecError(
                "option --address",
                f"cannot join Ray cluster {address!r} ({exc})",
                "check the address (ray status) or leave it out to start a local Ray",
            ) from None
    else:
        # address="local": always a new local Ray, never a cluster some other process on
        # this machine happens to run (ray.init() alone joins that one); loopback_only: every
        # port on 127.0.0.1 (autorec/tune/_ray_local.py).
        with loopback_only():
            try:
                ctx = ray.init(
                    address="local",
                    num_cpus=num_cpus,
                    include_dashboard=True,
                    dashboard_host="127.0.0.1",
                    **common,
                )
            except Exception as exc:  # dashboard dependencies missing or port trouble
                print(f"Ray dashboard could not start ({exc}); continuing without it", file=err)
                if ray.is_initialized():
                    ray.shutdown()
                ctx = ray.init(
                    address="local", num_cpus=num_cpus, include_dashboard=False, **common
                )
    url = getattr(ctx, "dashboard_url", None) or None
    if url and not str(url).startswith("http"):
        url = f"http://{url}"
    if url:
        print(f"Ray dashboard: {url}{_token_hint()}", file=err)
    elif not address:
        print("Ray dashboard is not running; the search continues without it", file=err)
    return str(url) if url else None


# --------------------------------------------------------------------------------------
# Generation bookkeeping
# --------------------------------------------------------------------------------------
def _gene_diversity(genomes: list[Mapping[str, Any]]) -> float:
    """Mean over pairs of the fraction of genes that differ (0 = clones, 1 = all differ)."""
    n = len(genomes)
    if n < 2:
        return 0.0
    names = sorted({k for g in genomes for k in g if k != "family"})
    if not names:
        return 0.0
    total, pairs = 0.0, 0
    for i in range(n):
        for j in range(i + 1, n):
            diff = sum(1 for k in names if genomes[i].get(k) != genomes[j].get(k))
            total += diff / len(names)
            pairs += 1
    return total / pairs


def _summary_dict(summary: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(summary) and not isinstance(summary, type):
        return {f.name: getattr(summary, f.name) for f in dataclasses.fields(summary)}
    if isinstance(summary, Mapping):
        return dict(summary)
    return {}


def _evaluation_dict(ev: Any) -> dict[str, Any] | None:
    if ev is None:
        return None
    return {
        "fitness": float(ev.fitness),
        "objectives": [float(o) for o in ev.objectives],
        "status": str(ev.status),
        "epochs": int(ev.epochs),
        "metrics": {k: float(v) for k, v in dict(ev.metrics).items()},
    }


def _member_refs(value: Any) -> Any:
    """(genome, evaluation) pairs (and lists of them) as ``{genome_key, fitness, status}``."""
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and hasattr(value[0], "key")
        and hasattr(value[1], "fitness")
    ):
        return {
            "genome_key": value[0].key,
            "fitness": float(value[1].fitness),
            "status": str(value[1].status),
        }
    if isinstance(value, list):
        return [_member_refs(v) for v in value]
    return value


def _members(summary: Mapping[str, Any], evolution: Evolution) -> list[tuple[Any, Any]]:
    """The closed generation's (genome, evaluation) pairs (from the summary when it has
    them, else the evolution's population)."""
    for name in ("population", "members", "individuals"):
        value = summary.get(name)
        if isinstance(value, (list, tuple)) and value and isinstance(value[0], tuple):
            return [tuple(x) for x in value]
    return list(evolution.population)


class GenerationWriter:
    """``Evolution.on_generation`` hook: writes ``generations/gen_XXX.json``, the logbook,
    the hall of fame, the best genome and the report, and updates the progress display."""

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
        self.history: list[dict[str, Any]] = []

    def __call__(self, summary: Any) -> None:
        s = _summary_dict(summary)
        generation = int(s.get("generation", len(self.history)))
        members = _members(s, self.evolution)
        pop = []
        fitnesses = []
        genome_dicts = []
        for genome, ev in members:
            if ev is None:
                ev = self.evolution.cache.get(genome.key)
            gd = genome.to_dict()
            genome_dicts.append(gd)
            evd = _evaluation_dict(ev)
            if evd is not None:
                fitnesses.append(evd["fitness"])
            rec = self.records.get(genome.key)
            pop.append(
                {
                    "genome_key": genome.key,
                    "genome": gd,
                    "evaluation": evd,
                    "trial_id": rec.trial_id if rec else None,
                }
            )
        hof = self._hall_of_fame()
        best_so_far = hof[0]["fitness"] if hof else (max(fitnesses) if fitnesses else None)
        entry = {
            "generation": generation,
            "best_fitness": max(fitnesses) if fitnesses else None,
            "mean_fitness": sum(fitnesses) / len(fitnesses) if fitnesses else None,
            "min_fitness": min(fitnesses) if fitnesses else None,
            "best_so_far": best_so_far,
            "n_evaluated": len(fitnesses),
            "size": len(members),
            "unique_fraction": (len({p["genome_key"] for p in pop}) / len(pop)) if pop else 0.0,
            "gene_diversity": _gene_diversity(genome_dicts),
            "time": time.time(),
        }
        extra = {
            k: _member_refs(v)
            for k, v in s.items()
            if k not in entry and k not in ("population", "members", "individuals")
        }
        self.rd.write_json(
            self.rd.generation_file(generation), {**entry, "summary": extra, "population": pop}
        )
        self.history = [h for h in self.history if h["generation"] != generation] + [entry]
        self.history.sort(key=lambda h: int(h["generation"]))
        self.rd.write_json(
            self.rd.logbook,
            {"generations": self.history, "deap_logbook": _logbook_rows(self.evolution)},
        )
        self.rd.write_yaml(self.rd.hall_of_fame, hof)
        best = next((h for h in hof if h.get("status") != "error"), None)
        if best is not None:  # never a failed genome
            self.rd.write_yaml(self.rd.best_genome, best["genome"])
        prune_weights(self.rd.root, [h["key"] for h in hof])
        self.progress.generation_closed(entry)
        try:
            build_report(self.rd)
        except Exception as exc:  # the report must never stop the search
            logger.warning("report not written: %s", exc)

    def _hall_of_fame(self) -> list[dict[str, Any]]:
        out = []
        for item in list(self.evolution.hall_of_fame):
            genome, ev = item if isinstance(item, tuple) else (item, None)
            if ev is None:
                ev = self.evolution.cache.get(genome.key)
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


def _logbook_rows(evolution: Evolution) -> list[dict[str, Any]]:
    book = getattr(evolution, "logbook", None)
    try:
        return [dict(row) for row in book] if book is not None else []
    except TypeError:
        return []


def _progress_callback(progress: Progress) -> Any:
    from ray.tune import Callback

    class _Cb(Callback):
        def on_trial_start(
            self, iteration: int, trials: list[Any], trial: Any, **info: Any
        ) -> None:
            progress.trial_started(trial.trial_id)

        def on_trial_complete(
            self, iteration: int, trials: list[Any], trial: Any, **info: Any
        ) -> None:
            progress.running.discard(trial.trial_id)
            progress.refresh()

        def on_trial_error(
            self, iteration: int, trials: list[Any], trial: Any, **info: Any
        ) -> None:
            progress.running.discard(trial.trial_id)
            progress.refresh()

        def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
            progress.refresh()

    return _Cb()


# --------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------
def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    import autorec

    out["autorec"] = autorec.__version__
    for dist in ("ray", "torch", "deap", "numpy", "pandas"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = "missing"
    return out


def objectives_for(options: SearchOptions, family: str) -> tuple[str, ...]:
    """The objective names of the search: ``--objectives`` when given; for ``nsga2`` by
    default accuracy-fitness vs. model size (sessions) and also vs. coverage PCC@10
    (purchase histories, soft-split paper Sec. 5); ``("fitness",)`` otherwise. A name is
    ``fitness``, a trial metric (``val_top10``, ``val_pcc@10``, ``n_params``) or ``-name``
    (minimised)."""
    if options.objectives:
        return tuple(o.strip() for o in options.objectives.split(",") if o.strip())
    if options.algorithm == "nsga2":
        from autorec.families import get_family

        return get_family(family).nsga2_objectives
    return ("fitness",)


def _build_evolution(options: SearchOptions) -> Evolution:
    from autorec.evolution import Evolution, make_strategy
    from autorec.genome import SearchSpace

    space = SearchSpace.from_yaml(options.space)
    strategy = make_strategy(options.algorithm)
    return Evolution(
        space,
        strategy,
        population_size=options.population,
        generations=options.generations,
        seed=options.seed,
        p_c=options.p_c,
        p_m=options.p_m,
        objectives=objectives_for(options, str(space.family)),
        initial=warm_start_genomes(options.warm_start, space) if options.warm_start else (),
    )


#: Objective names every trial reports without the full validation/test evaluation.
_CHEAP_OBJECTIVES = frozenset(
    {"fitness", "n_params", "loss", "val_loss", "val_top1", "val_precision@10"}
)


def _train_options(options: SearchOptions, family: str) -> Any:
    """Trial options: R epochs, the search's seed; the full metrics (``test=True``: every
    validation metric such as PCC@K, plus the test split, and for purchase data the retraining
    on the real protocol) only when an objective needs a metric the fitness run alone does not
    give."""
    from autorec.train import TrainOptions

    names = {o.lstrip("-") for o in objectives_for(options, family)}
    return TrainOptions(
        max_epochs=options.epochs, seed=options.seed, test=not names <= _CHEAP_OBJECTIVES
    )


def trial_resources_fn(
    options: SearchOptions, data: Any, cluster: Mapping[str, float]
) -> Callable[[Mapping[str, Any]], dict[str, float]]:
    """``config -> {"cpu": .., "gpu": ..}`` for ``tune.with_resources``.

    ``--gpus-per-trial`` given (pinned): that many GPUs and ``--cpus-per-trial`` (default 1)
    CPUs for every trial, as before the planner. Not given: the planner
    (:func:`autorec.tune._trainable.planned_resources_fn`) on the trial's genome, the data's
    sizes and the largest Ray node (``cluster``: :func:`~autorec.tune._resources.largest_node`,
    since one trial is one bundle on one node; GPU memory per
    :func:`~autorec.tune._resources.planner_cluster`); ``--cpus-per-trial``, when given,
    still fixes the CPUs. Data the driver cannot size (a test's stand-in) keeps the
    old default: one CPU, and one GPU when the cluster has GPUs."""
    cpus = options.cpus_per_trial
    n_gpus = float(cluster.get("GPU", 0.0))
    gpus = options.gpus_per_trial
    dims = data_dims(data) if gpus is None else None
    if dims is None:
        pinned_cpus = 1.0 if cpus is None else cpus
        pinned_gpus = (1.0 if n_gpus >= 1 else 0.0) if gpus is None else gpus

        def pinned(config: Mapping[str, Any]) -> dict[str, float]:
            return resources_for(config, cpus_per_trial=pinned_cpus, gpus_per_trial=pinned_gpus)

        return pinned
    return planned_resources_fn(dims, planner_cluster(cluster), cpus_per_trial=cpus)


def run_search(
    options: SearchOptions,
    *,
    quiet: bool = False,
    train_fn: Trainer | None = None,
    data: Any = None,
    console: Console | None = None,
) -> SearchSummary:
    """Start a new search in ``options.run_dir`` (default :func:`default_run_dir`).

    ``train_fn`` / ``data`` override the trainer and the loaded data (tests)."""
    options.validate()
    rd = RunDir(options.run_dir or default_run_dir(options.space))
    _refuse_existing(rd)
    # Every option is checked (the data loaded with its split) before Ray or a file.
    data = _preflight(options, data, new=True)
    options.run_dir = str(rd.root)
    with run_dir_lock(rd.root):
        _refuse_existing(rd)
        config = {
            **dataclasses.asdict(options),
            "versions": _versions(),
            "created": datetime.now().isoformat(timespec="seconds"),
            "sessions": [],
            "data_fingerprint": data_fingerprint(options.data, options.split),
        }
        rd.write_config(config)
        return _execute(rd, options, quiet=quiet, train_fn=train_fn, data=data, console=console)


def _refuse_existing(rd: RunDir) -> None:
    if rd.exists():
        raise AutorecError(
            f"run dir {rd.root}",
            "already holds a search (config.yaml)",
            f"continue it with 'autorec resume {rd.root}' or pick another --run-dir",
        )


def _preflight(options: SearchOptions, data: Any, *, new: bool = False) -> Any:
    """Check the space and the objectives and load the data (parsing the split against it):
    the data a search would load, or ``data`` as given (tests)."""
    from autorec.genome import SearchSpace

    space = SearchSpace.from_yaml(options.space)
    family = str(space.family)
    if new and options.warm_start:  # a bad --warm-start, before config.yaml is written
        warm_start_genomes(options.warm_start, space)
    check_objectives(objectives_for(options, family))
    if data is not None:
        return data
    return load_family_data(
        family,
        options.data,
        options.split,
        seed=options.seed,
        train_windows=options.train_windows,
        autoencoder=options.autoencoder,
    )


def load_options(run_dir: str | Path) -> tuple[RunDir, SearchOptions]:
    """The run directory and the options its ``config.yaml`` saved."""
    rd = RunDir(run_dir)
    if not rd.exists():
        raise AutorecError(
            f"run dir {rd.root}",
            "has no config.yaml (not a search run dir)",
            "pass the folder 'autorec search' created (see --run-dir)",
        )
    config = checked_config(rd.config, SearchOptions)
    names = {f.name for f in dataclasses.fields(SearchOptions)}
    opts = SearchOptions(**{k: v for k, v in config.items() if k in names})
    opts.run_dir = str(rd.root)
    return rd, opts


def resume_search(
    run_dir: str | Path,
    *,
    address: str | None = None,
    quiet: bool = False,
    train_fn: Trainer | None = None,
    data: Any = None,
    console: Console | None = None,
) -> SearchSummary:
    """Continue the search in ``run_dir``: finished trials are replayed from the fitness
    cache (never retrained), the rest run in a new Tune session. A finished search just
    replays (no trial) and rebuilds its files."""
    rd, opts = load_options(run_dir)
    if address is not None:
        opts.address = address
    opts.validate()
    with run_dir_lock(rd.root):
        rd.read_records()  # its schema, before anything is written
        check_fingerprint(
            rd.config,
            rd.read_config().get("data_fingerprint"),
            data_fingerprint(opts.data, opts.split),
        )
        data = _preflight(opts, data)
        return _execute(rd, opts, quiet=quiet, train_fn=train_fn, data=data, console=console)


def _execute(
    rd: RunDir,
    options: SearchOptions,
    *,
    quiet: bool,
    train_fn: Trainer | None,
    data: Any,
    console: Console | None,
) -> SearchSummary:
    from ray import tune
    from ray.tune import PlacementGroupFactory

    started = time.monotonic()
    config = rd.read_config()
    sessions = list(config.get("sessions") or [])
    session = len(sessions) + 1
    sessions.append(
        {
            "session": session,
            "started": datetime.now().isoformat(timespec="seconds"),
            "pid": os.getpid(),
        }
    )
    config["sessions"] = sessions
    rd.write_config(config)

    evolution = _build_evolution(options)
    family = str(evolution.space.family)
    records = [TrialRecord.from_dict(r) for r in rd.read_records()]
    known = {r.genome_key: r for r in records}
    if options.warm_start:  # the earlier run's fitness, where it is the same measurement
        known = {**warm_start_records(options.warm_start, options), **known}
    progress = Progress(options.generations + 1, options.population, console=console)
    progress.cached = len(known)
    writer = GenerationWriter(rd, evolution, known, progress)
    evolution.on_generation.append(writer)
    evolution.on_generation.append(NoiseCheck())  # warns when validation noise > spread

    def persist(record: TrialRecord) -> None:
        records.append(record)
        known[record.genome_key] = record
        rd.write_records([r.to_dict() for r in records])
        progress.trial_finished(record.trial_id, record.status, record)

    train_options = _train_options(options, family)
    tracker, scheduler = fidelity_for(options.fidelity, train_options)
    searcher = GeneticSearcher(
        evolution,
        known=known,
        on_record=persist,
        session=session,
        state_path=rd.searcher_state,
        fidelity=tracker,
    )

    # ``data`` is what _preflight loaded (or was given): it is never loaded twice.
    dashboard = start_ray(options.address, num_cpus=options.num_cpus, quiet=quiet)
    cluster = largest_node(alive_nodes())  # a trial's bundle must fit on one node
    wanted_fn = trial_resources_fn(options, data, cluster)

    def resources(config: dict[str, Any]) -> PlacementGroupFactory:
        return placement_for(wanted_fn(config))

    trainable = tune.with_resources(
        tune.with_parameters(
            run_trial,
            data=data,
            options=train_options,
            train_fn=train_fn,
            keep_weights=True,
            check=getattr(wanted_fn, "check", None),
        ),
        resources,
    )
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=-1,
            trial_name_creator=lambda t: trial_name(t.config),
            trial_dirname_creator=lambda t: trial_dirname(t.config, t.trial_id),
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=f"session-{session:02d}",
            storage_path=str(rd.tune),
            failure_config=tune.FailureConfig(max_failures=options.max_failures),
            verbose=0,
            callbacks=[_progress_callback(progress), KeepWeights(rd.root)],
        ),
    )
    # Tune's own console reporter is replaced by ours (rich, stderr) and the report.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # Ctrl-C stops at once (KeyboardInterrupt; the CLI exits 130 and names `autorec resume`)
    # instead of Tune's own handler, which ends normally and suggests Tuner.restore.
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    try:
        with _quiet_stdout(quiet), progress:
            tuner.fit()
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):  # the fitness cache is already on disk
            searcher.save(str(rd.searcher_state))
            build_report(rd)
        raise

    finished = bool(evolution.done)
    searcher.save(str(rd.searcher_state))
    if finished and all_failed_line(rd.read_records(), str(rd.root)) is None:
        rd.write_json(
            rd.done, {"finished": datetime.now().isoformat(timespec="seconds"), "session": session}
        )
    comparison = finish_search(
        rd.root,
        data,
        keep=[h["key"] for h in writer._hall_of_fame()],
        data_path=options.data,
        epochs=options.epochs,
        seed=options.seed,
        real_trainer=train_fn is None,
        baselines=options.baselines,
        say=None if quiet else progress.say,
    )
    build_report(rd)
    summary = _summary(
        rd, evolution, writer, searcher, finished, time.monotonic() - started, dashboard
    )
    summary.comparison = comparison
    return summary


@contextlib.contextmanager
def _quiet_stdout(quiet: bool) -> Iterator[None]:
    """With ``--json`` nothing but the JSON may reach stdout: send stray prints to stderr."""
    if not quiet:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _summary(
    rd: RunDir,
    evolution: Evolution,
    writer: GenerationWriter,
    searcher: GeneticSearcher,
    finished: bool,
    wall_s: float,
    dashboard: str | None,
) -> SearchSummary:
    hof = writer._hall_of_fame()
    best = hof[0] if hof else None
    records = rd.read_records()
    fitness = best.get("fitness") if best else None
    return SearchSummary(
        run_dir=str(rd.root),
        finished=finished,
        best_key=best["key"] if best else None,
        best_fitness=float(fitness) if fitness is not None and math.isfinite(fitness) else None,
        best_genome=jsonable(best["genome"]) if best else None,
        best_metrics=dict(best.get("metrics") or {}) if best else {},
        best_status=best.get("status") if best else None,
        generations=len(writer.history),
        trials=len(records),
        trial_epochs=sum(int(r.get("epochs") or 0) for r in records),
        trained_this_session=len(searcher.records),
        replayed=searcher.replayed,
        wall_s=wall_s,
        dashboard_url=dashboard,
        history=list(writer.history),
    )
