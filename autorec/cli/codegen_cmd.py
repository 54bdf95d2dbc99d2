"""``autorec codegen GENOME.yaml``: print (or write) the generated source of a genome's network.

The source is exactly what training imports and export copies (:func:`codegen.render` of
:func:`autorec.models.spec_for`); ``--devices cpu,cpu`` prints the file of a network whose item
layers are split over two devices (it differs from the one-device file in its ``DEVICES``
line). Data sizes default to those of the built-in synthetic data
of the genome's kind (sessions for ``drnn``, purchase histories for ``predictor``); give
``--data``/``--split`` for the sizes of a data set (as ``autorec train`` would build the
network), or ``--items/--pages/--users`` to render for other sizes without loading any data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autorec.cli.common import DataOption, JsonOption, SplitOption, emit_json
from autorec.errors import AutorecError

__all__ = ["codegen"]


def _data_dims(family: str, path: Path | None, split: str | None) -> tuple[int, int, int]:
    """(n_pages, n_items, n_users) of the network ``autorec train`` builds for the family on
    these data (``path`` None: the built-in synthetic data of the family's kind)."""
    from autorec.data import load_family_data
    from autorec.families import get_family

    data = load_family_data(family, None if path is None else str(path), split)
    d = get_family(family).model_dims(data)
    return d["n_pages"], d["n_items"], d["n_users"]


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise AutorecError(f"option {name}", f"must be >= 1, got {value}", "pass a positive size")


def codegen(
    genome_file: Annotated[
        Path, typer.Argument(metavar="GENOME.yaml", help="Genome whose network to generate.")
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the source to this file (atomically) instead of stdout."),
    ] = None,
    items: Annotated[
        int | None, typer.Option("--items", help="Number of items (default: synthetic data's).")
    ] = None,
    pages: Annotated[
        int | None, typer.Option("--pages", help="Number of pages (DRNN; default: synthetic).")
    ] = None,
    users: Annotated[
        int | None, typer.Option("--users", help="Number of users (default: synthetic data's).")
    ] = None,
    devices: Annotated[
        str,
        typer.Option(
            "--devices",
            help="Comma-separated devices the file places the network on (e.g. cpu,cpu or "
            "cuda:0,cuda:1: the item layers split over them; default cpu).",
        ),
    ] = "cpu",
    data: DataOption = None,
    split: SplitOption = None,
    json_out: JsonOption = False,
) -> None:
    """Print the generated PyTorch source (imports only torch) of the genome's network."""
    import codegen as cg
    from autorec.families import get_family
    from autorec.genome import load_genome
    from autorec.models import Dims, param_count, spec_for, write_source

    for name, value in (("--items", items), ("--pages", pages), ("--users", users)):
        _positive(name, value)
    genome = load_genome(genome_file)
    needs_pages = get_family(genome.family).needs_pages
    if items is None or users is None or (needs_pages and pages is None):
        d_pages, d_items, d_users = _data_dims(genome.family, data, split)
    else:
        d_pages, d_items, d_users = 0, 0, 0
    dims = Dims(
        n_pages=pages if pages is not None else (d_pages if needs_pages else 0),
        n_items=items if items is not None else d_items,
        n_users=users if users is not None else d_users,
    )
    placed = tuple(d.strip() for d in devices.split(",") if d.strip())
    if not placed:
        raise AutorecError("option --devices", "names no device", "pass e.g. --devices cpu,cpu")
    spec = spec_for(genome, dims, devices=placed)
    summary = {
        "family": genome.family,
        "key": genome.key,
        "n_pages": dims.n_pages,
        "n_items": dims.n_items,
        "n_users": dims.n_users,
        "n_params": param_count(spec),
    }
    if out is not None:
        write_source(spec, out)
        if json_out:
            emit_json({**summary, "out": str(out)})
        else:
            typer.echo(
                f"wrote {out} ({genome.family}, key {genome.key}, "
                f"{summary['n_params']} parameters)",
                err=True,
            )
        return
    source = cg.render(spec)
    if json_out:
        emit_json({**summary, "source": source})
    else:
        typer.echo(source, nl=False)
