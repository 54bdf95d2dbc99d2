"""Latency and throughput of ``autorec serve`` under load, and its scores against the
offline ``autorec recommend`` table (issue: production serving).

    PYTHONPATH=. python examples/benchmarks/bench_serve.py BUNDLE [BUNDLE ...]
        [--concurrency 1,8,64] [--requests 400] [--time-limit 30] [--max-batch 32]
        [--k 10] [--json OUT.json]

For each bundle (a session DRNN bundle, a predictor bundle):

1. ``autorec recommend BUNDLE --out T.parquet --k K`` writes the offline table (the real
   command, in its own process) -- the reference scores.
2. The request bodies asking for the same recommendations are built from the bundle's data
   (:func:`autorec.serve.replay_requests`: each session's pages and dwell times, each
   customer's dated purchases in the input window), in the order of the table.
3. ``autorec serve BUNDLE --port P`` is started (the real command: uvicorn on 127.0.0.1 in
   its own process) and polled until ``/health`` answers.
4. At each concurrency C, C clients on the loopback send the requests (each at most once,
   ``--requests`` in all, stopping at ``--time-limit`` seconds), one at a time each. Every
   answer is compared with the table's row: the item ids and scores must be EXACTLY equal.
   Reported: p50 / p99 latency (ms, client-side, request sent -> answer read), requests/s
   (answers / wall time of the level), mean micro-batch size (from ``/health``'s counters)
   and mismatches.

The clients run in this process (asyncio + httpx), so they share the CPUs with the server:
on a machine with few cores the client's own cost is part of the latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import load_note, print_machine

from autorec.export import load_bundle, read_recommendations
from autorec.serve import replay_requests

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _autorec(*args: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of the real ``autorec`` command (this checkout)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return [sys.executable, "-m", "autorec.cli.app", *args], env


def offline_table(bundle: Path, k: int, tmp: Path) -> tuple[dict[str, list[Any]], float]:
    """``autorec recommend``'s rows per entity: [(item, score), ...] best first."""
    out = tmp / f"{bundle.name}.parquet"
    cmd, env = _autorec("recommend", str(bundle), "--out", str(out), "--k", str(k))
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - t0
    recs = read_recommendations(out)
    rows = sorted(zip(recs["entity_id"], recs["rank"], recs["item_id"], recs["score"], strict=True))
    table: dict[str, list[Any]] = {}
    for entity, _, item, score in rows:
        table.setdefault(str(entity), []).append([str(item), float(score)])
    return table, wall


class Server:
    """``autorec serve BUNDLE`` in its own process on a free loopback port."""

    def __init__(self, bundle: Path, max_batch: int) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd, env = _autorec(
            "serve", str(bundle), "--port", str(self.port), "--max-batch", str(max_batch)
        )
        self.proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                httpx.get(f"{self.url}/health", timeout=2).raise_for_status()
                return
            except httpx.TransportError:
                time.sleep(0.1)  # polling the start-up
        self.stop()
        raise RuntimeError(f"autorec serve did not come up on {self.url}")

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = httpx.get(f"{self.url}/health", timeout=10).json()
        return out

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def _level(
    url: str,
    cases: list[tuple[str, dict[str, Any]]],
    table: dict[str, list[Any]],
    concurrency: int,
    time_limit: float,
) -> dict[str, Any]:
    latencies: list[float] = []
    mismatches = errors = 0
    next_case = 0
    deadline = time.monotonic() + time_limit
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal next_case, mismatches, errors
            while next_case < len(cases) and time.monotonic() < deadline:
                entity, body = cases[next_case]
                next_case += 1
                t0 = time.perf_counter()
                r = await client.post("/recommend", json=body)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1
                    continue
                got = [[x["item"], x["score"]] for x in r.json()["items"]]
                mismatches += got != table.get(entity, [])

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    ms = np.asarray(latencies) * 1000.0
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "wall_s": round(wall, 3),
        "req_per_s": round(len(latencies) / wall, 1) if wall > 0 else None,
        "p50_ms": round(float(np.percentile(ms, 50)), 2) if len(ms) else None,
        "p99_ms": round(float(np.percentile(ms, 99)), 2) if len(ms) else None,
        "mismatches": int(mismatches),
        "errors": int(errors),
    }


def bench_bundle(bundle: Path, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    b = load_bundle(bundle)
    table, offline_s = offline_table(bundle, args.k, tmp)
    cases = replay_requests(b, k=args.k, limit=args.requests)
    print(
        f"\n{b.family} bundle {bundle} ({b.model_version}, {b.n_items} items): "
        f"`autorec recommend` wrote {len(table)} entities in {offline_s:.1f}s; "
        f"{len(cases)} requests replayed"
    )
    server = Server(bundle, args.max_batch)
    levels = []
    try:
        for c in args.concurrency:
            before = server.health()
            level = asyncio.run(_level(server.url, cases, table, c, args.time_limit))
            after = server.health()
            batches = after["batches"] - before["batches"]
            level["mean_batch"] = (
                round((after["queries"] - before["queries"]) / batches, 2) if batches else None
            )
            levels.append(level)
            print(
                f"  concurrency {c:>3}: {level['requests']:>5} requests in "
                f"{level['wall_s']:.2f}s = {level['req_per_s']} req/s, p50 {level['p50_ms']} ms, "
                f"p99 {level['p99_ms']} ms, mean batch {level['mean_batch']}, "
                f"mismatches vs recommend {level['mismatches']}, errors {level['errors']}"
            )
    finally:
        server.stop()
    return {
        "bundle": str(bundle),
        "family": b.family,
        "model_version": b.model_version,
        "n_items": b.n_items,
        "offline_entities": len(table),
        "offline_wall_s": round(offline_s, 2),
        "levels": levels,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundles", nargs="+", type=Path)
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--requests", type=int, default=400, help="requests per level, at most")
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per level")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    print_machine("autorec serve under load (loopback)")
    with tempfile.TemporaryDirectory() as tmp:
        results = [bench_bundle(b, args, Path(tmp)) for b in args.bundles]
    note = load_note()
    if note:
        print(f"note: {note}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    bad = sum(lv["mismatches"] + lv["errors"] for r in results for lv in r["levels"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
