"""Network genomes against the purchase baselines on several test windows (rolling origin).

    PYTHONPATH=. python examples/benchmarks/bench_rolling_origin.py
        [--genome FILE.yaml ...] [--data PATH] [--split DX,DXY,DYZ,DZ] [--origins 4]
        [--baselines popularity,itemknn,ease] [--epochs 20] [--window 20] [--pi 1|auto]
        [--train-windows 13] [--autoencoder] [--seed 0] [--k 10] [--out FILE.jsonl] [--quick]

ml-100k's test window has 56 customers: one hit more or less moves precision@10 by 0.0018,
and the standard error of one ranker's precision@10 is about 0.02. A single window cannot
tell a network from EASE or itemknn when they differ by a few hits. This benchmark moves the
whole split back ``m`` calendar months for ``m = 0 .. origins-1`` (``m = 0`` is the split as
given; every origin is a full, disjoint-in-Z copy of the real protocol) and, on each origin:

- trains every ``--genome`` exactly as ``autorec train`` does (the early-stopped fitness run
  on that origin's own validation protocol, one month further back, then the retraining on
  the origin's X/Y windows) and scores the origin's Z window;
- fits every baseline on the same origin (EASE's λ chosen on the origin's validation
  protocol, as ``autorec baseline ease`` does) and scores the same customers.

Printed: precision@K per origin with its standard error, the mean over origins, and for each
genome against the best baseline *of each origin* the paired difference (per customer, so
the customers' own noise cancels) with its standard error, and the win count. The test
windows of later origins are the validation windows of earlier ones only for the choosing a
network does inside its own training run; no genome here was chosen on origins 1..M-1
unless its header says so.

``--quick`` runs on the synthetic purchase data with a tiny genome, one epoch, popularity and
itemknn, and 2 origins (seconds).
Rows are appended to ``--out`` as they finish, and an existing ``--out`` is read back first,
so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATA = Path(os.environ.get("AUTOREC_DATA", REPO.parent / "shared" / "data"))
ML100K = DATA / "ml-100k" / "ml-100k.inter"
ML100K_SPLIT = "1997-09-19,1998-03-26,1998-04-09,1998-04-23"
GENOME = REPO / "examples" / "genomes" / "ml100k_predictor.yaml"


def shifted_split(split: str, months: int) -> str:
    """All four dates of ``split`` ``months`` calendar months earlier (as the validation
    protocol moves them one month)."""
    dates = [pd.Timestamp(d) - pd.DateOffset(months=months) for d in split.split(",")]
    return ",".join(d.date().isoformat() for d in dates)


def per_customer_precision(ranker: Any, examples: Any, k: int) -> np.ndarray:
    """Each test customer's precision@k (the mean of these is ``evaluate_customers``')."""
    from autorec.evaluation import iter_customer_batches
    from autorec.metrics import hit_matrix

    parts = [ranker.topk_customers(b, k) for b in iter_customer_batches(examples, 2048)]
    recs = np.concatenate(parts) if parts else np.zeros((0, k), dtype=np.int64)
    hits = hit_matrix(recs, examples.target_ptr, examples.target_item)
    return np.asarray(hits.sum(axis=1) / k, dtype=np.float64)


def _se(values: np.ndarray) -> float:
    from autorec.evaluation import mean_se

    return float(mean_se(values))


def _network_row(path: Path, data: Any, args: argparse.Namespace) -> dict[str, Any]:
    from autorec.genome import load_genome
    from autorec.models import batches
    from autorec.train import ModelCustomerRanker, TrainOptions, train_genome

    genome = load_genome(path)
    options = TrainOptions(
        max_epochs=args.epochs,
        pi=args.pi,
        window=args.window,
        k=args.k,
        seed=args.seed,
        threads=args.threads,
    )
    start = time.perf_counter()
    result = train_genome(genome, data, options)
    row: dict[str, Any] = {"ranker": path.stem, "status": str(result.status)}
    if result.status != "ok" or result.retrain_status != "ok" or result.model is None:
        row["error"] = (result.error or str(result.retrain_status))[-300:]
        return row
    ranker = ModelCustomerRanker(
        result.model, batches.purchase_batch, device=_cpu(), batch_size=1024
    )
    row["values"] = per_customer_precision(ranker, data.protocol.test, args.k).tolist()
    row["epochs"] = result.epochs
    row["wall_s"] = round(time.perf_counter() - start, 1)
    return row


def _cpu() -> Any:
    import torch

    return torch.device("cpu")


def _baseline_row(name: str, data: Any, args: argparse.Namespace) -> dict[str, Any]:
    from autorec.baselines import make_baseline

    start = time.perf_counter()
    model = make_baseline(name).fit(data)
    values = per_customer_precision(model, data.protocol.test, args.k)
    return {
        "ranker": name,
        "status": "ok",
        "values": values.tolist(),
        "wall_s": round(time.perf_counter() - start, 1),
    }


def _load(args: argparse.Namespace, split: str) -> Any:
    from autorec.data import load_purchase_data

    return load_purchase_data(
        args.data,
        split,
        seed=args.seed,
        train_windows=args.train_windows,
        autoencoder=args.autoencoder,
    )


def _read(out: Path | None) -> list[dict[str, Any]]:
    if out is None or not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def _append(out: Path | None, row: dict[str, Any]) -> None:
    if out is not None:
        with out.open("a") as fh:
            fh.write(json.dumps(row) + "\n")


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every (origin, ranker) row, trained or read back from ``--out``."""
    rows = _read(args.out)
    done = {(r["origin"], r["ranker"]) for r in rows}
    for origin in range(args.origins):
        split = shifted_split(args.split, origin) if args.split else None
        data = None
        todo = [("genome", Path(g)) for g in args.genome] + [
            ("baseline", b) for b in args.baselines
        ]
        for kind, what in todo:
            name = what.stem if isinstance(what, Path) else what
            if (origin, name) in done:
                continue
            data = data or _load(args, split or "")
            if kind == "genome":
                row = _network_row(Path(what), data, args)
            else:
                row = _baseline_row(str(what), data, args)
            row.update(origin=origin, split=split, n_customers=data.protocol.test.n_customers)
            print(f"origin {origin} {name}: {_fmt(row)}", file=sys.stderr, flush=True)
            rows.append(row)
            _append(args.out, row)
    return rows


def _fmt(row: dict[str, Any]) -> str:
    if "values" not in row:
        return f"{row['status']} ({row.get('error', '')[-80:]})"
    v = np.asarray(row["values"])
    return f"{v.mean():.4f} ± {_se(v):.4f} ({row.get('wall_s', 0)} s)"


def _table(rows: list[dict[str, Any]], genomes: list[str], baselines: list[str]) -> list[str]:
    by = {(r["origin"], r["ranker"]): r for r in rows}
    origins = sorted({r["origin"] for r in rows})
    names = genomes + baselines
    lines = ["| origin (split) | customers | " + " | ".join(names) + " |"]
    lines.append("|---" * (len(names) + 2) + "|")
    for o in origins:
        cells = []
        for n in names:
            r = by.get((o, n))
            cells.append(_fmt(r).split(" (")[0] if r else "—")
        split = by.get((o, names[-1]), {}).get("split", "")
        n_c = next((by[(o, n)].get("n_customers", "") for n in names if (o, n) in by), "")
        lines.append(f"| {o} ({split}) | {n_c} | " + " | ".join(cells) + " |")
    means = []
    for n in names:
        vals = [np.mean(by[(o, n)]["values"]) for o in origins if "values" in by.get((o, n), {})]
        means.append(f"{statistics.fmean(vals):.4f}" if vals else "—")
    lines.append("| mean over origins | | " + " | ".join(means) + " |")
    return lines


def _paired(rows: list[dict[str, Any]], genome: str, baselines: list[str]) -> list[str]:
    """The genome against each origin's best baseline, paired per customer."""
    by = {(r["origin"], r["ranker"]): r for r in rows}
    lines, wins, total, diffs = [], 0, 0, []
    for o in sorted({r["origin"] for r in rows}):
        net = by.get((o, genome), {}).get("values")
        scored = [(np.mean(by[(o, b)]["values"]), b) for b in baselines if (o, b) in by]
        if net is None or not scored:
            continue
        best = max(scored)[1]
        d = np.asarray(net) - np.asarray(by[(o, best)]["values"])
        diffs.append(d)
        total += 1
        wins += int(d.mean() > 0)
        lines.append(f"  origin {o}: {genome} - {best} = {d.mean():+.4f} ± {_se(d):.4f}")
    if diffs:
        pooled = np.concatenate(diffs)
        lines.append(
            f"  pooled over {total} origins ({pooled.size} customers): "
            f"{pooled.mean():+.4f} ± {_se(pooled):.4f}; wins {wins}/{total}"
        )
    return lines


def _pi(text: str) -> float | str:
    return "auto" if text == "auto" else float(text)


def add_training_args(p: argparse.ArgumentParser) -> None:
    """The training, metric and output flags this benchmark shares with ``bench_blend.py``."""
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--window", type=int, default=20)
    p.add_argument("--pi", type=_pi, default=1.0, help="π: a number or auto")
    p.add_argument("--train-windows", type=int, default=13)
    p.add_argument("--autoencoder", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--quick", action="store_true", help="synthetic data, tiny genome, 2 origins")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--genome", action="append", default=None, help="genome YAML (repeatable)")
    p.add_argument("--data", default=str(ML100K))
    p.add_argument("--split", default=ML100K_SPLIT)
    p.add_argument("--origins", type=int, default=4)
    p.add_argument("--baselines", default="popularity,itemknn,ease")
    add_training_args(p)
    args = p.parse_args(argv)
    if args.quick:
        args.data, args.split, args.origins = None, "2023-06-01,2023-09-01,2023-10-01,2023-11-01", 2
        args.genome = args.genome or [str(REPO / "examples" / "genomes" / "predictor.yaml")]
        args.epochs, args.window, args.train_windows = 1, 1, 1
        args.baselines = "popularity,itemknn"
    args.genome = args.genome or [str(GENOME)]
    args.baselines = [b for b in args.baselines.split(",") if b]
    if args.origins < 1:
        p.error(f"--origins must be at least 1, got {args.origins}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    start = time.perf_counter()
    rows = run(args)
    genomes = [Path(g).stem for g in args.genome]
    print(f"precision@{args.k} by test window (mean ± standard error over its customers)")
    print("\n".join(_table(rows, genomes, args.baselines)))
    for g in genomes:
        print(f"{g} against the best baseline of each origin (paired per customer):")
        print("\n".join(_paired(rows, g, args.baselines)))
    print(f"wall {time.perf_counter() - start:.0f} s")
    return 0 if all(math.isfinite(np.mean(r.get("values", [0.0]))) for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
