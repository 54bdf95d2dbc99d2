"""``autorec retrain BUNDLE --data NEW --split ... --out NEW_BUNDLE``: the bundle's genome
retrained on new data, warm-started from its weights; reported next to a from-scratch
training and the parent scored on the new test split."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from autorec.cli.common import JsonOption, ProgressOption

__all__ = ["retrain"]


def _metrics(m: dict[str, Any]) -> str:
    return "  ".join(
        f"{k} {v:.4f}" if isinstance(v, float) and not k.startswith("n_") else f"{k} {v}"
        for k, v in m.items()
    )


def retrain(
    bundle: Annotated[Path, typer.Argument(metavar="BUNDLE", help="The parent bundle.")],
    out: Annotated[Path, typer.Option("--out", help="The new bundle folder to write.")],
    data: Annotated[
        str | None,
        typer.Option("--data", help="The new data (default: the parent's, from its data card)."),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option("--split", help="The new split (sessions: VAL,TEST; purchases: 4 dates)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Count new sessions / purchases from this date on."),
    ] = None,
    min_new: Annotated[
        int | None,
        typer.Option(
            "--min-new",
            help="Retrain only when at least this many sessions (purchases) are new since "
            "--since (the DRNN paper's 'update after M new sessions').",
        ),
    ] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="R: most epochs.")] = 30,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    threads: Annotated[int | None, typer.Option("--threads", help="Torch threads.")] = None,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare/--no-compare",
            help="Also train the same genome from scratch on the same data, side by side.",
        ),
    ] = True,
    as_json: JsonOption = False,
    progress: ProgressOption = None,
) -> None:
    """Retrain BUNDLE's genome on new data, warm-started from its weights (new items get
    fresh rows, vanished ones are dropped), and write a new bundle linking its parent."""
    from autorec.cli.train import print_json
    from autorec.serve import retrain_bundle

    summary = retrain_bundle(
        bundle,
        out,
        data=data,
        split=split,
        since=since,
        min_new=min_new,
        epochs=epochs,
        seed=seed,
        threads=threads,
        compare=compare,
        progress=sys.stderr.isatty() if progress is None else progress,
    )
    if as_json:
        print_json(summary)
        return
    if not summary["retrained"]:
        typer.echo(f"not retrained: {summary['reason']}")
        return
    t = summary["transfer"]
    typer.echo(
        f"bundle {summary['bundle']}  model_version {summary['model_version']}  "
        f"(parent {summary['parent_model_version']})"
    )
    typer.echo(
        f"warm start: {len(t['copied'])} tensors copied, {len(t['remapped'])} remapped by id, "
        f"{len(t['fresh'])} fresh; items kept {t['items'].get('kept')} new "
        f"{t['items'].get('new')} dropped {t['items'].get('dropped')}"
    )
    rows = [("warm-started", summary["warm"])]
    if "scratch" in summary:
        rows.append(("from scratch", summary["scratch"]))
    for label, r in rows:
        typer.echo(
            f"{label:<13} test: {_metrics(r['test_metrics'])}  epochs {r['epochs']}  "
            f"wall {r['wall_s']:.1f}s"
        )
    p = summary["parent_on_new_test"]
    typer.echo(f"{'parent':<13} test: {_metrics(p['test_metrics'])}  (unchanged weights)")
