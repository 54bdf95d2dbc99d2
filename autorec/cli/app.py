"""The ``autorec`` entry point: registers one command per module and maps user errors to
a one-line message on stderr with exit code 2 (no traceback)."""

from __future__ import annotations

import sys

import typer

from autorec.cli.common import AutorecGroup
from autorec.errors import AutorecError, ExitCode

app = typer.Typer(
    cls=AutorecGroup,  # user errors -> one stderr line, exit 2 (also under CliRunner)
    name="autorec",
    help="AutoML tuning of neural recommenders: evolve, train, export and serve networks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One line per command module; each module owns its options and validation.
from autorec.cli import data as _data  # noqa: E402

app.add_typer(_data.app, name="data")
from autorec.cli import baseline as _baseline  # noqa: E402

app.command("baseline")(_baseline.baseline)
from autorec.cli import report as _report  # noqa: E402
from autorec.cli import resume as _resume  # noqa: E402
from autorec.cli import search as _search  # noqa: E402

app.command("search")(_search.search)
app.command("resume")(_resume.resume)
app.command("report")(_report.report)
from autorec.cli import export as _export  # noqa: E402

app.command("export")(_export.export)
from autorec.cli import recommend as _recommend  # noqa: E402

app.command("recommend")(_recommend.recommend)
from autorec.cli import serve as _serve  # noqa: E402

app.command("serve")(_serve.serve)
from autorec.cli import retrain as _retrain  # noqa: E402

app.command("retrain")(_retrain.retrain)
from autorec.cli import codegen_cmd as _codegen  # noqa: E402

app.command("codegen")(_codegen.codegen)
from autorec.cli import evaluate as _evaluate  # noqa: E402
from autorec.cli import train as _train  # noqa: E402

app.command("train")(_train.train)
app.command("evaluate")(_evaluate.evaluate)
from autorec.cli import runs as _runs  # noqa: E402

app.command("runs")(_runs.runs)


def main() -> None:
    """Console-script entry. Typer runs standalone (usage errors print click's message and
    exit 2); :class:`~autorec.cli.common.AutorecGroup` turns user errors raised by commands
    into one ``error: ...`` stderr line and exit code 2; the handlers below catch the same
    errors raised outside a command's body (e.g. while parsing options)."""
    try:
        app()
    except AutorecError as err:
        typer.echo(f"error: {' '.join(str(err).split())}", err=True)
        sys.exit(ExitCode.BAD_INPUT)
    except FileNotFoundError as err:
        typer.echo(f"error: {err.filename}: no such file or folder; check the path", err=True)
        sys.exit(ExitCode.BAD_INPUT)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
