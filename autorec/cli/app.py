"""The ``autorec`` entry point: registers one command per module and maps user errors to
a one-line message on stderr with exit code 2 (no traceback)."""

from __future__ import annotations

import sys

import typer

from autorec.errors import AutorecError, ExitCode

app = typer.Typer(
    name="autorec",
    help="AutoML tuning of neural recommenders: evolve, train, export and serve networks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One line per command module; each module owns its options and validation.
from autorec.cli import data as _data  # noqa: E402

app.add_typer(_data.app, name="data")


def main() -> None:
    """Console-script entry: run the app, turning :class:`AutorecError` into exit code 2."""
    try:
        app(standalone_mode=False)
    except AutorecError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(ExitCode.BAD_INPUT)
    except FileNotFoundError as err:
        typer.echo(f"error: {err.filename}: no such file or folder; check the path", err=True)
        sys.exit(ExitCode.BAD_INPUT)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as err:  # click usage errors etc.
        _handle_click(err)


def _handle_click(err: Exception) -> None:
    import click

    if isinstance(err, click.exceptions.Exit):
        sys.exit(err.exit_code)
    if isinstance(err, click.ClickException):
        err.show()
        sys.exit(err.exit_code)
    if isinstance(err, click.exceptions.Abort):
        typer.echo("aborted", err=True)
        sys.exit(ExitCode.FAILURE)
    raise err
