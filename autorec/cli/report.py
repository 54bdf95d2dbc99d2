"""``autorec report RUN_DIR``: rebuild a search's report.html and plots."""

from __future__ import annotations

from typing import Annotated

import typer

from autorec.cli.common import JsonOption, emit_json

__all__ = ["report"]


def report(
    run_dir: Annotated[str, typer.Argument(metavar="RUN_DIR", help="Run directory of a search.")],
    as_json: JsonOption = False,
) -> None:
    """Rebuild report.html and plots/*.png from the run directory's files."""
    from autorec.tune import RunDir, build_report, load_options

    rd, _ = load_options(run_dir)
    build_report(rd)
    records = rd.read_records()
    gens = rd.read_generations()
    out = {
        "report": str(rd.report),
        "plots": sorted(str(p) for p in rd.plots.glob("*.png")),
        # bred generations closed, as --generations counts them (populations = that + 1)
        "generations": max(0, len(gens) - 1),
        "populations": len(gens),
        "trials": len(records),
        "finished": RunDir(rd.root).done.is_file(),
    }
    if as_json:
        emit_json(out)
    else:
        typer.echo(
            f"report: {out['report']} (initial population + {out['generations']} bred "
            f"generation(s), {out['trials']} trials)"
        )
