"""``autorec serve BUNDLE``: answer live recommendation requests over HTTP (FastAPI +
uvicorn), bound to 127.0.0.1 unless told otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autorec._net import is_loopback_host
from autorec.errors import AutorecError

__all__ = ["serve"]


def _positive(value: float, option: str, example: str) -> None:
    if not value > 0:
        raise AutorecError(f"option {option}", f"must be positive, got {value}", f"pass {example}")


def serve(
    bundle: Annotated[Path, typer.Argument(metavar="BUNDLE", help="Bundle folder to serve.")],
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (default: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    max_k: Annotated[
        int, typer.Option("--max-k", help="Largest k a request may ask for (more: 422).")
    ] = 1000,
    max_body_kb: Annotated[
        int, typer.Option("--max-body-kb", help="Largest request body in KiB (more: 413).")
    ] = 1024,
    max_batch: Annotated[
        int,
        typer.Option("--max-batch", help="Requests scored together at most (1: no batching)."),
    ] = 32,
    max_wait_ms: Annotated[
        float,
        typer.Option(
            "--max-wait-ms",
            help="How long a batch waits for more requests (0: it takes those already "
            "waiting, so a lone request is never delayed).",
        ),
    ] = 0.0,
    threads: Annotated[
        int,
        typer.Option(
            "--threads",
            help="Torch threads. 1 by default: a micro-batch is small, and spare threads "
            "spin against other work on shared cores (measured: 9 ms vs 61 ms per session "
            "query with 2 threads on a loaded 2-core machine).",
        ),
    ] = 1,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = False,
) -> None:
    """Serve the bundle: POST /recommend (a session prefix or a customer's dated purchases
    plus k -> top-K original item ids with scores), GET /health, GET /model. The bundle's
    checksums are verified before any of its code is imported."""
    import uvicorn

    from autorec.serve import ServeOptions, create_app

    if not 0 < port < 65536:
        raise AutorecError("option --port", f"{port} is not a TCP port", "pass e.g. --port 8000")
    for value, option, example in (
        (max_k, "--max-k", "--max-k 1000"),
        (max_body_kb, "--max-body-kb", "--max-body-kb 1024"),
        (max_batch, "--max-batch", "--max-batch 32"),
    ):
        _positive(value, option, example)
    if max_wait_ms < 0:
        raise AutorecError(
            "option --max-wait-ms", f"must be >= 0, got {max_wait_ms}", "pass --max-wait-ms 0"
        )
    import torch

    _positive(threads, "--threads", "--threads 1")
    torch.set_num_threads(threads)
    options = ServeOptions(
        max_k=max_k,
        max_body_bytes=max_body_kb * 1024,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
    )
    app = create_app(bundle, options)  # verifies the bundle first: a bad one exits 2 here
    model = app.state.model
    typer.echo(
        f"serving {model.family} bundle {bundle} (model_version "
        f"{model.bundle.model_version}, {model.n_items} items) on http://{host}:{port}",
        err=True,
    )
    if not is_loopback_host(host):
        typer.echo(
            f"warning: bound to {host}, reachable from other machines; the service has no "
            "authentication",
            err=True,
        )
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=access_log)
