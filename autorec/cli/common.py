"""Shared CLI pieces: typed options every command reuses, the error-mapping command group,
JSON output and a progress bar on stderr.

Conventions (docs/design.md#command-line): with ``--json`` a command prints exactly one JSON
object on stdout and nothing else there; human-readable text also goes to stdout, progress
and messages to stderr. User errors (:class:`~autorec.errors.AutorecError`, a missing file)
become one line ``error: ...`` on stderr and exit code 2, with no traceback — also under
``typer.testing.CliRunner``, because :class:`AutorecGroup` converts them inside click's
own invocation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from autorec._io import dump_json
from autorec.errors import AutorecError, ExitCode

if TYPE_CHECKING:  # rich and numpy load when used, so `autorec --help` starts fast
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = [
    "AutorecGroup",
    "DataOption",
    "JsonOption",
    "MinRatingOption",
    "ProgressHandle",
    "SeedOption",
    "SplitOption",
    "TimeoutOption",
    "echo_table",
    "emit_json",
    "fail",
    "progress",
    "stderr_console",
]

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        metavar="PATH",
        show_default=False,
        help="Event data: a CSV / Parquet / JSON-lines events file, MovieLens u.data / "
        "ratings.dat / ratings.csv, a RecBole .inter file, or a folder with clicks.csv + "
        "buys.csv. Default: the built-in synthetic data.",
    ),
]
SplitOption = Annotated[
    str | None,
    typer.Option(
        "--split",
        metavar="DATES",
        show_default=False,
        help="Date split, ISO dates. Sessions: VAL_START,TEST_START (a session belongs to "
        "the period of its first view). Purchases: DX,DXY,DYZ,DZ (half-open windows "
        "X=[DX,DXY), Y=[DXY,DYZ), Z=[DYZ,DZ)). Default: sessions at the 80%/90% quantiles "
        "of session starts; purchases the last two 14-day windows.",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON object on stdout and nothing else.")
]
SeedOption = Annotated[
    int, typer.Option("--seed", help="Random seed (synthetic data, sampling, training).")
]
MinRatingOption = Annotated[
    float,
    typer.Option(
        "--min-rating",
        help="In files with ratings, a rating at or above this counts as a purchase "
        "(3.5: ratings > 3); lower ratings are dropped.",
    ),
]
ProgressOption = Annotated[
    bool | None,
    typer.Option("--progress/--no-progress", help="Progress bar on stderr (default: tty)."),
]
ProtocolOption = Annotated[
    str,
    typer.Option(
        "--protocol",
        metavar="rolling|paper",
        help="Purchase histories: rolling = every rolling X->Y training window before dyz "
        "plus XY->XY auto-encoder examples (the data as far as it goes, never Z); paper = "
        "the soft-split paper's single X->Y window, exactly.",
    ),
]
TrainWindowsOption = Annotated[
    int | None,
    typer.Option(
        "--train-windows",
        help="Purchase histories: at most K rolling X->Y training windows (dxy, dyz shifted "
        "back by k*(dyz-dxy), k < K; only purchases before dyz). Default: every window "
        "that fits (--protocol rolling), 1 (--protocol paper).",
    ),
]
AutoencoderOption = Annotated[
    bool | None,
    typer.Option(
        "--autoencoder/--no-autoencoder",
        help="Purchase histories: one XY->XY auto-encoder training example per customer "
        "(every customer's history in [dx, dyz), as the baselines see it; never Z). "
        "Default: on (--protocol rolling), off (--protocol paper).",
    ),
]
TimeoutOption = Annotated[
    int,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        min=1,
        help="Session inactivity timeout for events without a session id: a user's "
        "events more than this apart start a new session.",
    ),
]


def _flag_type_hidden() -> None:
    """Typer prints ``<bool>`` as the "type" of every on/off flag (``--json``, ``--help``),
    which reads as if the flag took a value: show no type for flags instead."""
    from typer.core import TyperOption

    original = TyperOption.display_type_rich
    if getattr(original, "_autorec", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        if self.is_flag and self.metavar is None:
            return None
        return original(self, ctx)

    display_type_rich._autorec = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flag_type_hidden()


def fail(message: str) -> NoReturn:
    """Print ``error: <message>`` as one line on stderr and exit with code 2."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(ExitCode.BAD_INPUT)


class AutorecGroup(TyperGroup):
    """A typer command group that turns user errors (:class:`AutorecError`, a missing file)
    into one ``error: ...`` line on stderr and exit code 2 inside click's invocation, so the
    console script and ``typer.testing.CliRunner`` behave the same (typer vendors its own
    click, so a ``click.ClickException`` subclass would not be recognised)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except AutorecError as err:
            fail(str(err))
        except FileNotFoundError as err:
            fail(f"{err.filename or err}: no such file or folder; check the path")
        except IsADirectoryError as err:
            fail(f"{err.filename or err}: is a folder; give a file")


def emit_json(obj: Any) -> None:
    """Print ``obj`` as one JSON object on stdout (strict JSON: NaN/inf become null)."""
    typer.echo(dump_json(obj, indent=None))


def echo_table(rows: Sequence[tuple[str, object]]) -> None:
    """Print ``name  value`` lines, names padded to one column, on stdout."""
    width = max((len(name) for name, _ in rows), default=0)
    for name, value in rows:
        typer.echo(f"{name.ljust(width)}  {value}")


def stderr_console() -> Console:
    """A rich console on stderr (stdout stays clean for ``--json``)."""
    from rich.console import Console

    return Console(stderr=True)


class ProgressHandle:
    """What :func:`progress` yields: advance the bar or change its text/total."""

    def __init__(self, bar: Progress | None, task: TaskID | None) -> None:
        self._bar = bar
        self._task = task

    def advance(self, steps: float = 1.0) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, steps)

    def update(self, *, description: str | None = None, total: float | None = None) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=description, total=total)


@contextmanager
def progress(
    description: str, total: float | None = None, *, enabled: bool = True
) -> Iterator[ProgressHandle]:
    """A rich progress bar on stderr for long work (a spinner when ``total`` is None).

    Disabled (a no-op handle) when ``enabled`` is false or stderr is not a terminal, so
    tests and pipes see no control characters.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = stderr_console()
    if not enabled or not console.is_terminal:
        yield ProgressHandle(None, None)
        return
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield ProgressHandle(bar, task)
