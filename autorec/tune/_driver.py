"""The search driver: the run directory, the Tuner, resume.

``run_search(options)`` starts a search in a new run directory; ``resume_search(run_dir)``
continues one whose driver stopped (``kill -9`` included). The pieces live beside it: the
options and their validation (:mod:`autorec.tune._options`), Ray's start-up
(:mod:`autorec.tune._ray_local`), the progress display (:mod:`autorec.tune._progress`), the
generation files (:mod:`autorec.tune._generations`), the trainable
(:mod:`autorec.tune._trainable`) and the GA as a Tune searcher
(:mod:`autorec.tune._searcher`). The strategy comes from the registry of
:mod:`autorec.evolution` by its name (``--algorithm``), so a registered strategy runs
without a change here.

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
import math
import os
import platform
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autorec.data import PurchaseData, SessionData, load_family_data
from autorec.errors import AutorecError
from autorec.families import get_family
from autorec.tune._checkpoints import KeepWeights
from autorec.tune._checks import (
    all_failed_line,
    check_fingerprint,
    check_objectives,
    checked_config,
    data_fingerprint,
    status_counts,
)
from autorec.tune._failures import raise_if_strict
from autorec.tune._fidelity import fidelity_for
from autorec.tune._finish import finish_search
from autorec.tune._generations import GenerationWriter
from autorec.tune._lock import run_dir_lock
from autorec.tune._noise import NoiseCheck
from autorec.tune._options import SearchOptions, default_run_dir, objectives_for, train_options
from autorec.tune._progress import Progress, progress_callback
from autorec.tune._ray_local import start_ray
from autorec.tune._report import build_report
from autorec.tune._resources import alive_nodes, largest_node, placement_for
from autorec.tune._rundir import RunDir, jsonable
from autorec.tune._searcher import GeneticSearcher, TrialRecord
from autorec.tune._trainable import (
    Trainer,
    run_trial,
    trial_dirname,
    trial_name,
    trial_resources_fn,
)
from autorec.tune._warm import warm_start_genomes, warm_start_records

if TYPE_CHECKING:
    from rich.console import Console

    from autorec.evolution import Evolution
    from autorec.train import TrainOptions

__all__ = [
    "SearchSummary",
    "build_evolution",
    "load_options",
    "resume_search",
    "run_search",
]

#: What a search trains on: a family's data, loaded once by the driver.
SearchData = SessionData | PurchaseData


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
    #: trials per status over the whole run (``ok``, ``diverged``, ``unsettled``, ``error``)
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        """Trials that raised (status ``error``): a bug or a broken setup, not a genome's
        outcome; each record keeps its traceback."""
        return int(self.statuses.get("error", 0))

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
            "statuses": dict(self.statuses),
            "errors": self.errors,
        }


@dataclass
class _Run:
    """How this process runs the search: the trainer (``None``: the real one), the data,
    the terminal."""

    data: SearchData
    train_fn: Trainer | None = None
    quiet: bool = False
    console: Console | None = None


@dataclass
class _Search:
    """One session's search objects: the evolution, its Tune searcher and scheduler (the
    ``--fidelity``), the trials' options and the writers."""

    session: int
    evolution: Evolution
    searcher: GeneticSearcher
    writer: GenerationWriter
    progress: Progress
    train_options: TrainOptions
    scheduler: Any = None


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    import autorec

    out = {"python": platform.python_version(), "autorec": autorec.__version__}
    for dist in ("ray", "torch", "deap", "numpy", "pandas"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = "missing"
    return out


def build_evolution(options: SearchOptions) -> Evolution:
    """The evolution of a search: the space, the registered strategy ``options.algorithm``
    and the GA settings (warm-start genomes in generation 0)."""
    from autorec.evolution import Evolution, make_strategy
    from autorec.genome import SearchSpace

    space = SearchSpace.from_yaml(options.space)
    return Evolution(
        space,
        make_strategy(options.algorithm),
        population_size=options.population,
        generations=options.generations,
        seed=options.seed,
        p_c=options.p_c,
        p_m=options.p_m,
        objectives=objectives_for(options, str(space.family)),
        initial=warm_start_genomes(options.warm_start, space) if options.warm_start else (),
    )


# --------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------
def run_search(
    options: SearchOptions,
    *,
    quiet: bool = False,
    train_fn: Trainer | None = None,
    data: SearchData | None = None,
    console: Console | None = None,
) -> SearchSummary:
    """Start a new search in ``options.run_dir`` (default :func:`default_run_dir`).

    ``train_fn`` replaces the trainer (:class:`~autorec.tune.Trainer`); ``data`` is the
    family's data when the caller loaded it already (else the driver loads it)."""
    options.validate()
    rd = RunDir(options.run_dir or default_run_dir(options.space))
    _refuse_existing(rd)
    # Every option is checked (the data loaded with its split) before Ray or a file.
    run = _Run(_preflight(options, data, new=True), train_fn, quiet, console)
    options.run_dir = str(rd.root)
    with run_dir_lock(rd.root):
        _refuse_existing(rd)
        rd.write_config(
            {
                **dataclasses.asdict(options),
                "versions": _versions(),
                "created": datetime.now().isoformat(timespec="seconds"),
                "sessions": [],
                "data_fingerprint": data_fingerprint(options.data, options.split),
            }
        )
        return _execute(rd, options, run)


def resume_search(
    run_dir: str | Path,
    *,
    address: str | None = None,
    quiet: bool = False,
    train_fn: Trainer | None = None,
    data: SearchData | None = None,
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
        return _execute(rd, opts, _Run(_preflight(opts, data), train_fn, quiet, console))


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


def _refuse_existing(rd: RunDir) -> None:
    if rd.exists():
        raise AutorecError(
            f"run dir {rd.root}",
            "already holds a search (config.yaml)",
            f"continue it with 'autorec resume {rd.root}' or pick another --run-dir",
        )


def _preflight(options: SearchOptions, data: SearchData | None, *, new: bool = False) -> SearchData:
    """Check the space and the objectives and load the data (parsing the split against it),
    unless the caller passed it."""
    from autorec.genome import SearchSpace

    space = SearchSpace.from_yaml(options.space)
    family = str(space.family)
    if new and options.warm_start:  # a bad --warm-start, before config.yaml is written
        warm_start_genomes(options.warm_start, space)
    check_objectives(objectives_for(options, family))
    if data is not None:
        get_family(family).check_data(data)  # the space's family's data, or one error line
        return data
    return load_family_data(
        family,
        options.data,
        options.split,
        seed=options.seed,
        train_windows=options.train_windows,
        autoencoder=options.autoencoder,
    )


# --------------------------------------------------------------------------------------
# One session
# --------------------------------------------------------------------------------------
def _execute(rd: RunDir, options: SearchOptions, run: _Run) -> SearchSummary:
    started = time.monotonic()
    search = _prepare(rd, options, _open_session(rd), run.console)
    dashboard = start_ray(options.address, num_cpus=options.num_cpus, quiet=run.quiet)
    _fit(rd, _tuner(rd, options, search, run), search, run.quiet)
    finished = _close(rd, search)
    raise_if_strict(search.searcher.records)  # AUTOREC_STRICT=1: a failed trial raises
    comparison = finish_search(
        rd.root,
        run.data,
        keep=[h["key"] for h in search.writer.hall_of_fame()],
        data_path=options.data,
        epochs=options.epochs,
        seed=options.seed,
        real_trainer=run.train_fn is None,
        baselines=options.baselines,
        say=None if run.quiet else search.progress.say,
    )
    build_report(rd)
    summary = _summary(rd, search, finished, time.monotonic() - started, dashboard)
    summary.comparison = comparison
    return summary


def _open_session(rd: RunDir) -> int:
    """Append this session (number, start, pid) to ``config.yaml``; its number."""
    config = rd.read_config()
    sessions = list(config.get("sessions") or [])
    session = len(sessions) + 1
    started = datetime.now().isoformat(timespec="seconds")
    sessions.append({"session": session, "started": started, "pid": os.getpid()})
    rd.write_config({**config, "sessions": sessions})
    return session


def _prepare(rd: RunDir, options: SearchOptions, session: int, console: Console | None) -> _Search:
    """The evolution with the run directory's fitness cache (and the warm start's), its
    writers, and the searcher that records every trial before telling the evolution."""
    evolution = build_evolution(options)
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

    trial_options = train_options(options, str(evolution.space.family))
    tracker, scheduler = fidelity_for(options.fidelity, trial_options)
    searcher = GeneticSearcher(
        evolution,
        known=known,
        on_record=persist,
        session=session,
        state_path=rd.searcher_state,
        fidelity=tracker,
    )
    return _Search(session, evolution, searcher, writer, progress, trial_options, scheduler)


def _tuner(rd: RunDir, options: SearchOptions, search: _Search, run: _Run) -> Any:
    """The Tune experiment ``tune/session-NN``: the trainable with the data (sent once
    through the object store) and each trial's planned resources, the GA as its searcher."""
    from ray import tune

    cluster = largest_node(alive_nodes())  # a trial's bundle must fit on one node
    wanted_fn = trial_resources_fn(options, run.data, cluster)
    trainable = tune.with_resources(
        tune.with_parameters(
            run_trial,
            data=run.data,
            options=search.train_options,
            train_fn=run.train_fn,
            keep_weights=True,
            check=getattr(wanted_fn, "check", None),
        ),
        lambda config: placement_for(wanted_fn(config)),
    )
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=search.searcher,
            scheduler=search.scheduler,
            num_samples=-1,
            trial_name_creator=lambda t: trial_name(t.config),
            trial_dirname_creator=lambda t: trial_dirname(t.config, t.trial_id),
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=f"session-{search.session:02d}",
            storage_path=str(rd.tune),
            failure_config=tune.FailureConfig(max_failures=options.max_failures),
            verbose=0,
            callbacks=[progress_callback(search.progress), KeepWeights(rd.root)],
        ),
    )


def _fit(rd: RunDir, tuner: Any, search: _Search, quiet: bool) -> None:
    """Run the trials. Ctrl-C keeps what is finished (the fitness cache is on disk) and
    re-raises, so the CLI exits 130 and names ``autorec resume``."""
    try:
        with _tune_env(), _quiet_stdout(quiet), search.progress:
            tuner.fit()
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            search.searcher.save(str(rd.searcher_state))
            build_report(rd)
        raise


@contextlib.contextmanager
def _tune_env() -> Iterator[None]:
    """Tune's switches for this process, while the trials run: its console reporter is
    replaced by ours (rich, stderr) and the report; Ctrl-C stops at once
    (KeyboardInterrupt) instead of Tune's own handler, which ends normally and suggests
    Tuner.restore. A value the user set wins; afterwards the environment is as it was."""
    wanted = {"RAY_AIR_NEW_OUTPUT": "0", "TUNE_DISABLE_SIGINT_HANDLER": "1"}
    added = [name for name in wanted if name not in os.environ]
    os.environ.update({name: wanted[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


@contextlib.contextmanager
def _quiet_stdout(quiet: bool) -> Iterator[None]:
    """With ``--json`` nothing but the JSON may reach stdout: send stray prints to stderr."""
    if not quiet:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _close(rd: RunDir, search: _Search) -> bool:
    """Save the searcher; ``DONE`` when the last generation closed and some trial worked.
    Whether the search finished."""
    finished = bool(search.evolution.done)
    search.searcher.save(str(rd.searcher_state))
    if finished and all_failed_line(rd.read_records(), str(rd.root)) is None:
        rd.write_json(
            rd.done,
            {"finished": datetime.now().isoformat(timespec="seconds"), "session": search.session},
        )
    return finished


def _summary(
    rd: RunDir, search: _Search, finished: bool, wall_s: float, dashboard: str | None
) -> SearchSummary:
    hof = search.writer.hall_of_fame()
    best = hof[0] if hof else None
    records = rd.read_records()
    fitness = best["fitness"] if best else None
    return SearchSummary(
        run_dir=str(rd.root),
        finished=finished,
        best_key=best["key"] if best else None,
        best_fitness=float(fitness) if fitness is not None and math.isfinite(fitness) else None,
        best_genome=jsonable(best["genome"]) if best else None,
        best_metrics=dict(best["metrics"] or {}) if best else {},
        best_status=best["status"] if best else None,
        generations=len(search.writer.history),
        trials=len(records),
        trial_epochs=sum(int(r.get("epochs") or 0) for r in records),
        trained_this_session=len(search.searcher.records),
        replayed=search.searcher.replayed,
        wall_s=wall_s,
        dashboard_url=dashboard,
        history=[dict(h) for h in search.writer.history],
        statuses=status_counts(records),
    )
