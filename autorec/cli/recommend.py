"""``autorec recommend BUNDLE --out recs.sqlite``: top-K for every customer or session."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from autorec.cli.common import JsonOption, ProgressOption

__all__ = ["recommend"]


def recommend(
    bundle: Annotated[Path, typer.Argument(metavar="BUNDLE", help="Bundle folder.")],
    out: Annotated[Path, typer.Option("--out", help="recs.sqlite (SQLite) or recs.parquet.")],
    data: Annotated[
        str | None,
        typer.Option(
            "--data", metavar="PATH", help="Event log / data folder (default: the bundle's data)."
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option("--split", metavar="DATES", help="Split (default: the bundle's data card)."),
    ] = None,
    k: Annotated[int, typer.Option("--k", help="Items per customer / session.")] = 10,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Customers / sessions scored at once.")
    ] = 1024,
    protocol_test: Annotated[
        bool,
        typer.Option(
            "--protocol-test",
            help="Purchases: rank exactly the protocol's test customers from their XY "
            "window and report Precision@K against Z (equals `autorec train`'s).",
        ),
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Purchases: end of the input window (default: the data card's end date).",
        ),
    ] = None,
    as_json: JsonOption = False,
    progress: ProgressOption = None,
) -> None:
    """Write the top-K items of every customer (already-bought items excluded) or every
    session to SQLite or Parquet; rerunning replaces the table atomically."""
    from autorec.export import recommend as run

    summary = run(
        bundle,
        out,
        data=data,
        split=split,
        k=k,
        batch_size=batch_size,
        protocol_test=protocol_test,
        as_of=as_of,
        progress=sys.stderr.isatty() if progress is None else progress,
    )
    if as_json:
        typer.echo(json.dumps(summary, indent=1))
        return
    typer.echo(
        f"{summary['rows']} rows for {summary['entities']} "
        f"{'customers' if summary['family'] == 'predictor' else 'sessions'} → {out} "
        f"(model_version {summary['model_version']}, {summary['wall_s']}s)"
    )
    if "metrics" in summary:
        typer.echo("  ".join(f"{k_} {v:.6g}" for k_, v in summary["metrics"].items()))
