"""``autorec export RUN_DIR --out BUNDLE``: the best network as a production bundle."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from autorec._io import dump_json
from autorec.cli.common import JsonOption, ProgressOption

__all__ = ["export"]


def export(
    source: Annotated[
        Path,
        typer.Argument(
            metavar="RUN_DIR",
            help="Search run dir (best genome) or an `autorec train --save` folder.",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Bundle folder to write (replaced atomically when it is a bundle)."
        ),
    ],
    retrain: Annotated[
        bool,
        typer.Option(
            "--retrain",
            help="Retrain the best genome on the run's data and split instead of copying the "
            "network the search kept.",
        ),
    ] = False,
    retrain_all: Annotated[
        bool,
        typer.Option(
            "--retrain-all", help="Retrain on all data up to the last date before export."
        ),
    ] = False,
    data: Annotated[
        str | None, typer.Option("--data", metavar="PATH", help="Override the run's data path.")
    ] = None,
    split: Annotated[
        str | None, typer.Option("--split", metavar="DATES", help="Override the run's split.")
    ] = None,
    devices: Annotated[str, typer.Option("--devices", help="Training devices, e.g. cpu.")] = "cpu",
    as_json: JsonOption = False,
    progress: ProgressOption = None,
) -> None:
    """Export the best network (genome, model.py, safetensors weights, id maps, metrics,
    data card, manifest with sha256) as a bundle loadable with torch alone."""
    from autorec.export import export_bundle, export_plan

    typer.echo(f"export: {export_plan(source, retrain=retrain, retrain_all=retrain_all)}", err=True)
    summary = export_bundle(
        source,
        out,
        retrain=retrain,
        retrain_all=retrain_all,
        data=data,
        split=split,
        devices=tuple(d.strip() for d in devices.split(",") if d.strip()),
        progress=sys.stderr.isatty() if progress is None else progress,
    )
    manifest = summary["manifest"]
    if as_json:
        typer.echo(
            dump_json(
                (
                    {
                        "bundle": summary["bundle"],
                        "model_version": manifest["model_version"],
                        "family": manifest["family"],
                        "genome_key": manifest["genome_key"],
                        "files": manifest["files"],
                        "metrics": summary["metrics"].get("test_metrics"),
                        "data_card": summary["data_card"],
                        "comparison": summary.get("comparison"),
                    }
                ),
                indent=1,
            )
        )
        return
    typer.echo(f"bundle {summary['bundle']}  model_version {manifest['model_version']}")
    typer.echo(
        f"family {manifest['family']}  items {manifest['n_items']}  "
        f"how: {summary['data_card']['how']}"
    )
    typer.echo(f"test metrics: {summary['metrics'].get('test_metrics')}")
    for line in (summary.get("comparison") or {}).get("lines") or []:
        typer.echo(line)
