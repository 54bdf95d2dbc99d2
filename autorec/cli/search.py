"""``autorec search``: evolve genomes with the genetic algorithm on Ray Tune."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from autorec.cli.common import (
    AutoencoderOption,
    DataOption,
    JsonOption,
    ProtocolOption,
    SeedOption,
    SplitOption,
    TrainWindowsOption,
    emit_json,
)
from autorec.errors import ExitCode
from autorec.tune import SearchOptions

# Defaults come from SearchOptions and every range check from SearchOptions.validate (run by
# run_search), so the command line, --config and resume agree; nothing is repeated here.

__all__ = ["interrupted", "print_summary", "search"]


def interrupted(run_dir: object) -> NoReturn:
    """Ctrl-C: say how to continue and exit 130 (the shell's code for SIGINT)."""
    typer.echo(f"interrupted; continue the search with: autorec resume {run_dir}", err=True)
    raise typer.Exit(130)


def print_summary(summary: Any, as_json: bool) -> None:
    """Print a :class:`autorec.tune.SearchSummary`: one JSON object, or a few lines; when
    every trial failed, one more line on stderr and exit code 1."""
    if as_json:
        emit_json(summary.to_json())
    else:
        _print_lines(summary)
    from autorec.tune import RunDir, all_failed_line

    failed = all_failed_line(RunDir(summary.run_dir).read_records(), summary.run_dir)
    if failed is not None:  # nothing to use: no best_genome.yaml, no DONE, exit 1
        typer.echo(f"error: {failed}", err=True)
        raise typer.Exit(ExitCode.FAILURE)


def _print_lines(summary: Any) -> None:
    data = summary.to_json()
    best = data["best"]
    state = "finished" if data["finished"] else "stopped before the last generation"
    bred = int(data["generations"])
    typer.echo(
        f"search {state}: initial population + {bred} bred generation(s), {data['trials']} "
        f"trials ({data['trained_this_session']} trained now, {data['replayed']} from the "
        f"cache) in {data['wall_s']:.1f}s"
    )
    if data.get("errors"):  # failures, not genome outcomes: each record keeps its traceback
        typer.echo(
            f"{data['errors']} trial(s) failed with status error (scored 0; tracebacks in "
            f"{data['run_dir']}/fitness_cache.json and report.html)"
        )
    if best["genome_key"] is not None:
        typer.echo(
            f"best genome {best['genome_key']}  fitness {best['fitness']:.4f}  "
            f"status {best['status']}"
        )
        for name, value in (best["metrics"] or {}).items():
            typer.echo(f"  {name}: {value:.4g}")
    for line in (data.get("comparison") or {}).get("lines") or []:
        typer.echo(line)
    typer.echo(f"run dir: {data['run_dir']}")
    typer.echo(
        f"report: {data['run_dir']}/report.html  best genome: {data['run_dir']}/best_genome.yaml"
    )


def search(
    ctx: typer.Context,
    space: Annotated[
        str,
        typer.Option("--space", help="Search space: drnn, predictor, soft_split or a FILE.yaml."),
    ] = SearchOptions.space,
    data: DataOption = None,
    split: SplitOption = SearchOptions.split,
    population: Annotated[int, typer.Option("--population", help="Genomes per generation.")] = (
        SearchOptions.population
    ),
    generations: Annotated[
        int,
        typer.Option(
            "--generations",
            help="Generations bred after the initial population (G+1 populations in all).",
        ),
    ] = SearchOptions.generations,
    algorithm: Annotated[
        str,
        typer.Option(
            "--algorithm", help="GA strategy: paper (DRNN Algorithm 2), elitist or nsga2."
        ),
    ] = SearchOptions.algorithm,
    p_c: Annotated[float, typer.Option("--p-c", help="Crossover probability.")] = SearchOptions.p_c,
    p_m: Annotated[float, typer.Option("--p-m", help="Mutation probability.")] = SearchOptions.p_m,
    epochs: Annotated[
        int, typer.Option("--epochs", help="R: the most epochs one trial trains.")
    ] = SearchOptions.epochs,
    seed: SeedOption = SearchOptions.seed,
    run_dir: Annotated[
        str | None,
        typer.Option(
            "--run-dir", help="Run directory (default ./autorec_runs/<timestamp>-<space>)."
        ),
    ] = SearchOptions.run_dir,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            help="Join this Ray cluster (e.g. auto or HOST:6379) instead of starting a local Ray.",
        ),
    ] = SearchOptions.address,
    num_cpus: Annotated[
        int | None, typer.Option("--num-cpus", help="CPUs of the local Ray (default: all).")
    ] = SearchOptions.num_cpus,
    cpus_per_trial: Annotated[
        float | None,
        typer.Option(
            "--cpus-per-trial",
            help="CPUs (and torch threads) per trial (default: the planner's: "
            "half a CPU for tiny networks, else 1).",
        ),
    ] = SearchOptions.cpus_per_trial,
    gpus_per_trial: Annotated[
        float | None,
        typer.Option(
            "--gpus-per-trial",
            help="GPUs per trial (default: the planner's from each genome's "
            "estimated memory: none, a fraction, one or k sharded).",
        ),
    ] = SearchOptions.gpus_per_trial,
    max_failures: Annotated[
        int, typer.Option("--max-failures", help="Retries of a trial whose worker was lost.")
    ] = SearchOptions.max_failures,
    objectives: Annotated[
        str | None,
        typer.Option(
            "--objectives",
            help="nsga2 objectives, comma-separated: fitness, a metric such as "
            "val_pcc@10, or -name to minimise (default: fitness,-n_params "
            "for sessions; fitness,val_pcc@10,-n_params for purchases).",
        ),
    ] = SearchOptions.objectives,
    protocol: ProtocolOption = "rolling",
    train_windows: TrainWindowsOption = None,
    autoencoder: AutoencoderOption = None,
    baselines: Annotated[
        str | None,
        typer.Option(
            "--baselines",
            metavar="NAMES",
            show_default=False,
            help="Baselines the best network is compared with on the test split, "
            "comma-separated (default: every one: popularity, itemknn, als, ease, "
            "session-views, gru, gru-copy; the GRUs train for a while).",
        ),
    ] = SearchOptions.baselines,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE.yaml",
            show_default=False,
            help="Read options from this YAML file (e.g. a run dir's config.yaml); options "
            "given on the command line win.",
        ),
    ] = None,
    warm_start: Annotated[
        Path | None,
        typer.Option(
            "--warm-start",
            metavar="RUN_DIR|BUNDLE",
            help="Seed generation 0 with an earlier run's hall of fame (or a bundle's genome), "
            "repaired into this space; its fitness is reused only when data, split and every "
            "training option are identical.",
        ),
    ] = None,
    fidelity: Annotated[
        str,
        typer.Option(
            "--fidelity",
            metavar="none|halving",
            help="none: every genome trains to its early-stopped end; halving: a generation's "
            "genomes train on rungs of 1, 3, 9, ... epochs and only the best third of each "
            "rung goes on (successive halving); a stopped genome keeps its rung fitness.",
        ),
    ] = SearchOptions.fidelity,
    as_json: JsonOption = False,
) -> None:
    """Evolve genomes with the genetic algorithm; every trial is a Ray Tune trial."""
    from autorec.data import training_protocol
    from autorec.tune import run_search

    train_windows, autoencoder = training_protocol(protocol, train_windows, autoencoder)
    options = SearchOptions(
        space=space,
        data=str(data) if data is not None else None,
        split=split,
        population=population,
        generations=generations,
        algorithm=algorithm,
        p_c=p_c,
        p_m=p_m,
        epochs=epochs,
        seed=seed,
        run_dir=run_dir,
        address=address,
        num_cpus=num_cpus,
        cpus_per_trial=cpus_per_trial,
        gpus_per_trial=gpus_per_trial,
        max_failures=max_failures,
        objectives=objectives,
        train_windows=train_windows,
        autoencoder=autoencoder,
        baselines=baselines,
        warm_start=str(warm_start) if warm_start is not None else None,
        fidelity=fidelity,
    )
    if config is not None:
        _apply_config(ctx, options, config)
    try:
        summary = run_search(options, quiet=as_json)
    except KeyboardInterrupt:
        interrupted(options.run_dir)
    finally:
        _shutdown_ray()
    print_summary(summary, as_json)


def _apply_config(ctx: typer.Context, options: SearchOptions, config: Path) -> None:
    """Set every option of the file ``config`` that the command line left at its default."""
    from typer._click.core import ParameterSource

    from autorec.cli.search_config import read_search_config

    for name, value in read_search_config(config, type(options)).items():
        source = ctx.get_parameter_source(name)
        if source in (None, ParameterSource.DEFAULT):
            setattr(options, name, value)


def _shutdown_ray() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()
