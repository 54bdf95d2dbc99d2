"""``autorec resume RUN_DIR``: continue a search whose driver stopped (kill -9 included)."""

from __future__ import annotations

from typing import Annotated

import typer

from autorec.cli.common import JsonOption

__all__ = ["resume"]


def resume(
    run_dir: Annotated[
        str, typer.Argument(metavar="RUN_DIR", help="Run directory of the search to continue.")
    ],
    address: Annotated[
        str | None,
        typer.Option("--address", help="Join this Ray cluster instead of the one the search used."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Continue a search: finished trials come from the fitness cache, never retrained."""
    from autorec.cli.search import _shutdown_ray, interrupted, print_summary
    from autorec.tune import resume_search

    try:
        summary = resume_search(run_dir, address=address, quiet=as_json)
    except KeyboardInterrupt:
        interrupted(run_dir)
    finally:
        _shutdown_ray()
    print_summary(summary, as_json)
