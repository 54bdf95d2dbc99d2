"""``autorec train GENOME.yaml``: train one genome with the early-stopped fitness and print
its validation and test metrics (DRNN paper Sec. IV.B; soft-split paper Sec. 3.1)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from autorec._io import dump_json
from autorec.cli.common import (
    AutoencoderOption,
    JsonOption,
    ProgressOption,
    ProtocolOption,
    TrainWindowsOption,
)
from autorec.errors import AutorecError

__all__ = ["data_info", "parse_devices", "print_json", "train"]


def parse_devices(text: str) -> tuple[str, ...]:
    devices = tuple(d.strip() for d in text.split(",") if d.strip())
    if not devices:
        raise AutorecError("option --devices", f"no device in {text!r}", "pass e.g. cpu")
    return devices


def data_info(data: Any, path: str | None, split: str | None) -> dict[str, Any]:
    """Where the data came from and its split, for JSON output and ``train.json``."""
    from autorec.families import family_of

    family = family_of(data)
    info: dict[str, Any] = {"path": path, "source": str(getattr(data, "source", path))}
    info["kind"] = family.data_kind
    # the full time where it is not midnight (the default session split is a quantile of
    # start times), so `evaluate` / `export` reload exactly the same split
    info["split"] = split or family.split_string(data)
    return info


def print_json(obj: dict[str, Any]) -> None:
    typer.echo(dump_json(obj))


def _fmt(metrics: dict[str, Any]) -> str:
    return "  ".join(
        f"{k} {v:.4f}" if isinstance(v, float) and not k.startswith("n_") else f"{k} {v}"
        for k, v in metrics.items()
    )


def train(
    genome_file: Annotated[Path, typer.Argument(metavar="GENOME.yaml", help="Genome to train.")],
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            metavar="PATH",
            help="Event log / data folder; default: built-in synthetic data.",
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            "--split",
            metavar="DATES",
            help="Sessions: VAL_START,TEST_START; purchases: DX,DXY,DYZ,DZ (default: the data's).",
        ),
    ] = None,
    epochs: Annotated[
        int, typer.Option("--epochs", help="R: most epochs of the fitness run.")
    ] = 30,
    pi: Annotated[
        str,
        typer.Option(
            "--pi",
            help="π: accuracy spread over --window epochs that counts as bounded: 'auto' = two "
            "binomial standard errors of the validation accuracy, max(0.002, "
            "2*sqrt(a(1-a)/n_val)); or a fixed number.",
        ),
    ] = "auto",
    window: Annotated[int, typer.Option("--window", help="Epochs the spread is taken over.")] = 3,
    accuracy: Annotated[
        str | None,
        typer.Option("--accuracy", help="top1 / topK (sessions), precision@K (purchases)."),
    ] = None,
    k: Annotated[int, typer.Option("--k", help="Cut-off of precision/PCC.")] = 10,
    devices: Annotated[str, typer.Option("--devices", help="Comma-separated devices.")] = "cpu",
    threads: Annotated[
        int | None, typer.Option("--threads", help="Torch threads (default: available cores).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    protocol: ProtocolOption = "rolling",
    train_windows: TrainWindowsOption = None,
    autoencoder: AutoencoderOption = None,
    as_json: JsonOption = False,
    save: Annotated[
        Path | None,
        typer.Option("--save", help="Write model.py, weights, genome, metrics to this folder."),
    ] = None,
    decay_plot: Annotated[
        Path | None,
        typer.Option("--decay-plot", help="Write the learnt decay curve (32 bins) as PNG."),
    ] = None,
    progress: ProgressOption = None,
) -> None:
    """Train one genome; print validation/test metrics, loss, fitness, epochs, status."""
    import sys

    from autorec.data import training_protocol
    from autorec.genome import load_genome
    from autorec.train import TrainOptions, parse_pi, train_genome
    from autorec.train import primary_device as check_device

    train_windows, autoencoder = training_protocol(protocol, train_windows, autoencoder)
    genome = load_genome(genome_file)
    options = TrainOptions(
        max_epochs=epochs,
        pi=parse_pi(pi),
        window=window,
        accuracy=accuracy,
        k=k,
        seed=seed,
        devices=parse_devices(devices),
        threads=threads,
        progress=sys.stderr.isatty() if progress is None else progress,
    )
    options.accuracy_for(genome.family)
    check_device(options)
    if decay_plot is not None and genome.genes.get("decay_mode") != "learnt":
        raise AutorecError(
            "option --decay-plot",
            f"genome {genome_file} has decay_mode {genome.genes.get('decay_mode')!r}",
            "use a predictor genome with decay_mode: learnt, or drop --decay-plot",
        )
    from autorec.data import load_family_data
    from autorec.families import get_family

    dataset = load_family_data(
        genome.family, data, split, seed=seed, train_windows=train_windows, autoencoder=autoencoder
    )
    cpu0 = time.process_time()
    result = train_genome(genome, dataset, options)
    cpu_s = time.process_time() - cpu0
    out = result.summary()
    info = data_info(dataset, data, split)
    if get_family(genome.family).training_protocols:
        info["protocol"] = protocol
        info["train_windows"] = train_windows
        info["autoencoder"] = autoencoder
    out["cpu_s"] = cpu_s
    out["data"] = info
    if save is not None and result.model is not None:
        save_dir = _save(result, save, info, options, dataset)
        out["saved"] = str(save_dir)
    if decay_plot is not None and result.model is not None:
        from autorec.train.plots import plot_decay

        out["decay_plot"] = str(plot_decay(result.model, decay_plot))
    if as_json:
        print_json(out)
    else:
        _print_human(out)
    if result.status == "error":
        typer.echo(f"training failed:\n{result.error}", err=True)
        raise typer.Exit(1)


def _save(result: Any, save: Path, data: dict[str, Any], options: Any, dataset: Any) -> Path:
    from autorec.train.saving import save_trained

    path: Path = save_trained(result, save, data=data, options=options, dataset=dataset)
    return path


def _print_human(out: dict[str, Any]) -> None:
    typer.echo(f"genome {out['key']} ({out['family']}) on {out['data']['source']}")
    typer.echo(
        f"status {out['status']}  fitness {out['fitness']:.4f}  converged {out['converged']}  "
        f"epochs {out['epochs']}  loss {out['loss']:.4f}"
    )
    typer.echo(f"validation: {_fmt(out['val_metrics'])}")
    typer.echo(f"test:       {_fmt(out['test_metrics'])}")
    typer.echo(f"parameters {out['n_params']}  wall {out['wall_s']:.1f}s  cpu {out['cpu_s']:.1f}s")
    for key in ("saved", "decay_plot"):
        if key in out:
            typer.echo(f"{key}: {out[key]}")
