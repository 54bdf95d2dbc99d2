"""``autorec data``: inspect event data and write synthetic data sets."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from autorec.cli.common import (
    AutorecGroup,
    JsonOption,
    MinRatingOption,
    SeedOption,
    TimeoutOption,
    echo_table,
    emit_json,
    progress,
)
from autorec.errors import AutorecError

__all__ = ["DEFAULT_MIN_RATING", "DEFAULT_SESSION_TIMEOUT_S", "app", "inspect", "synth"]

# autorec.data's defaults, spelt out so that `--help` need not import pandas and numpy
# (tests/cli/test_newcomer_cli.py checks they equal autorec.data's).
DEFAULT_MIN_RATING = 3.5
DEFAULT_SESSION_TIMEOUT_S = 1800

app = typer.Typer(
    cls=AutorecGroup,
    name="data",
    help="Inspect event data, or write a synthetic data set to a file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class SynthKind(str, Enum):
    sessions = "sessions"
    purchases = "purchases"


def _human(info: dict[str, Any]) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [
        ("source", info["source"]),
        ("format", info["format"]),
        ("kind", info["kind"]),
        ("rows", f"{info['rows']:,} ({info['source_rows']:,} read)"),
    ]
    for reason, count in info["ignored_rows"].items():
        rows.append(("ignored", f"{count:,} rows: {reason}"))
    rows.append(("users", f"{info['users']:,}"))
    if "buying_sessions" in info:
        rows.append(
            (
                "sessions",
                f"{info['sessions']:,} ({info['buying_sessions']:,} with a "
                f"purchase; {info['samples']:,} prefix samples)",
            )
        )
        rows.append(("pages", f"{info['pages']:,}"))
    elif info["sessions"]:
        rows.append(("sessions", f"{info['sessions']:,}"))
    else:
        rows.append(("sessions", "- (no page views: a purchase log)"))
    rows += [
        ("items", f"{info['items']:,}"),
        ("views", f"{info['views']:,}"),
        ("purchases", f"{info['purchases']:,}"),
        ("time range", f"{info['first']} .. {info['last']}"),
    ]
    return rows


@app.command("inspect")
def inspect(
    path: Annotated[
        Path,
        typer.Argument(
            help="Events file or folder (format detected from the name: .csv/.tsv, .parquet, "
            ".jsonl, u.data, ratings.dat, ratings.csv, .inter, or a clicks.csv + buys.csv "
            "folder).",
            show_default=False,
        ),
    ],
    json_out: JsonOption = False,
    min_rating: MinRatingOption = DEFAULT_MIN_RATING,
    timeout: TimeoutOption = DEFAULT_SESSION_TIMEOUT_S,
) -> None:
    """Summarise an event file: kind (sessions or purchases), rows, users, sessions, items,
    views, purchases and time range."""
    with progress(f"reading {path}", enabled=not json_out):
        from autorec.data import describe_events, detect_format, load_events

        events = load_events(path, min_rating=min_rating)
        info = describe_events(events, session_timeout_s=timeout)
    info = {"path": str(path), "format": detect_format(path), **info}
    if json_out:
        emit_json(info)
    else:
        echo_table(_human(info))


@app.command("synth")
def synth(
    out: Annotated[
        Path,
        typer.Argument(
            help="File to write: .csv, .parquet or .jsonl (generic events format).",
            show_default=False,
        ),
    ],
    kind: Annotated[
        SynthKind,
        typer.Option(
            "--kind",
            help="sessions: browsing sessions with purchases (DRNN); "
            "purchases: dated purchase histories (predictor / auto-encoder).",
        ),
    ] = SynthKind.sessions,
    seed: SeedOption = 0,
    size: Annotated[
        int | None,
        typer.Option(
            "--size",
            min=1,
            show_default=False,
            help="Number of sessions (default 3000) or customers (default 1500).",
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Write a synthetic data set (seeded; the same data every command uses when given no
    --data) as a generic events file that --data and `autorec data inspect` read back."""
    if out.exists() and out.is_dir():
        raise AutorecError(
            str(out), "is a folder", "give a file name ending in .csv, .parquet or .jsonl"
        )
    import numpy as np

    from autorec.data import synthesize_purchases, synthesize_sessions, write_events

    rng = np.random.default_rng(seed)
    if kind is SynthKind.sessions:
        events = (
            synthesize_sessions(rng)
            if size is None
            else synthesize_sessions(rng, n_sessions=size, n_users=max(1, size // 5))
        )
    else:
        events = (
            synthesize_purchases(rng)
            if size is None
            else synthesize_purchases(rng, n_customers=size)
        )
    written = write_events(events, out)
    info = {
        "path": str(written),
        "kind": kind.value,
        "seed": seed,
        "rows": len(events.frame),
        "views": int((events.frame["event"] == "view").sum()),
        "purchases": int((events.frame["event"] == "buy").sum()),
        "source": f"synthetic:{kind.value}(seed={seed})",
    }
    if json_out:
        emit_json(info)
    else:
        typer.echo(
            f"wrote {info['rows']:,} synthetic {kind.value} events ({info['views']:,} views, "
            f"{info['purchases']:,} purchases; seed {seed}) to {written}"
        )
