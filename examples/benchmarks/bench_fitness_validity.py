"""Does the validation fitness predict test quality? Spearman(validation fitness, test metric).

    PYTHONPATH=. python examples/benchmarks/bench_fitness_validity.py
        [--data ml-100k|yoochoose|PATH] [--split DATES] [--space predictor|drnn|FILE.yaml]
        [--genomes 60] [--epochs 8] [--seed 0] [--protocol rolling|paper] [--origins V]
        [--out FILE.jsonl]

``--genomes`` genomes are drawn at random from the search space (``SearchSpace.sample`` with
``numpy.random.default_rng(seed)``), and each is trained exactly as a search trial is
(:func:`autorec.train.train_genome`, R = ``--epochs``, the trainer's π and window, the search's
seed): the early-stopped fitness ``fit = accuracy + 1/(1+loss)`` on the validation protocol,
then, for purchase histories, the network retrained on the real protocol and scored on the
test window (sessions: the same network on the test sessions). Every genome's row is appended
to ``--out`` as it finishes (``--out`` is read back first, so an interrupted run resumes).

Printed, over the genomes that settled (status ok; a genome with fit 0 has no estimate):

- Spearman's rank correlation between the test metric (precision@10 / top-1) and several
  estimates taken from the *same* runs: the product's fitness (means over the bounded window),
  the last epoch's fitness, the best epoch's, the window-mean validation accuracy alone and
  the loss term ``1/(1+loss)`` alone -- the estimator is chosen by measuring;
- the same for the fitness over the better half of the settled genomes (by fitness): how
  well it ranks the good genomes a search chooses its winner from;
- with ``--origins V`` (purchase histories): each genome's fitness run is repeated on the
  validation protocols shifted 2 .. V months back (rolling origins; the first is the usual
  one month), and the mean fitness over the V origins is one more estimate (a genome unsettled
  on any origin counts with fit 0 there, as a search would score it) -- V times the cost;
- the noise figures that explain a low correlation: the standard error of the validation
  accuracy (binomial, at the median accuracy, on the ``n_val`` validation customers or
  samples) and of the test metric, against the spread (standard deviation) of the genomes'
  fitness and test metric. When the validation noise is comparable to the spread, no
  estimate from that validation set can rank the genomes.
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
from scipy.stats import spearmanr

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATA = Path(os.environ.get("AUTOREC_DATA", REPO.parent / "shared" / "data"))
#: Named data sets: path, split, search space.
DATASETS: dict[str, tuple[Path, str, str]] = {
    "ml-100k": (
        DATA / "ml-100k" / "ml-100k.inter",
        "1997-09-19,1998-03-26,1998-04-09,1998-04-23",
        "predictor",
    ),
    "yoochoose": (DATA / "yoochoose-sample", "2014-06-01,2014-06-16", "drnn"),
}


def _row(index: int, result: Any, window: int) -> dict[str, Any]:
    """What the figures need from one trained genome."""
    hist = list(result.history)
    fits = [r.fitness for r in hist]
    span = hist[-window:]
    acc = statistics.fmean(r.val_accuracy for r in span) if span else 0.0
    loss = statistics.fmean(r.val_loss for r in span) if span else math.nan
    test = dict(result.test_metrics)
    test_name = "precision@10" if "precision@10" in test else "top1"
    return {
        "index": index,
        "key": result.key,
        "status": result.status,
        "epochs": result.epochs,
        "fitness": result.fitness,
        "last_fitness": fits[-1] if fits else 0.0,
        "best_fitness": max(fits) if fits else 0.0,
        "val_accuracy": acc,
        "loss_term": 1.0 / (1.0 + loss) if math.isfinite(loss) and loss >= 0 else 0.0,
        "n_val": int(result.val_metrics.get("n_val", 0)),
        "n_train_examples": int(result.val_metrics.get("n_train_examples", 0)),
        "test_name": test_name,
        "test": test.get(test_name),
        "n_test": int(test.get("n_customers", test.get("n_samples", 0)) or 0),
        "wall_s": round(result.wall_s, 2),
        "genome": result.genome.to_dict(),
    }


def origin_fitness(
    genome: Any, data: Any, options: Any, origins: int, windows: int, autoencoder: bool
) -> list[float]:
    """The early-stopped fitness of ``genome`` on the validation protocols shifted 2 ..
    ``origins`` months back (the trainer's validation run only, no test retrain)."""
    import dataclasses

    from autorec.data import build_protocol, shift_month_back
    from autorec.train import train_genome

    fits = []
    dates = data.validation.dates
    for _ in range(2, origins + 1):
        dates = shift_month_back(dates)
        shifted = build_protocol(
            data.log,
            dates,
            train_windows=windows,
            autoencoder=autoencoder,
            check=False,
        )
        moved = dataclasses.replace(data, validation=shifted)
        fits.append(train_genome(genome, moved, dataclasses.replace(options, test=False)).fitness)
    return fits


def _read(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line]


def _binomial_se(p: float, n: int) -> float:
    p = min(max(p, 0.0), 1.0)
    return math.sqrt(p * (1.0 - p) / n) if n > 0 else math.nan


def figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Spearman of every estimate vs the test metric, and the noise vs spread figures."""
    ok = [r for r in rows if r["status"] == "ok" and r["test"] is not None]
    out: dict[str, Any] = {"genomes": len(rows), "settled": len(ok)}
    if len(ok) < 3:
        return out
    test = [float(r["test"]) for r in ok]
    names = ["fitness", "last_fitness", "best_fitness", "val_accuracy", "loss_term"]
    if all("origin_fitness" in r for r in ok):
        for r in ok:
            r["origins_fitness"] = statistics.fmean([r["fitness"], *r["origin_fitness"]])
        names.append("origins_fitness")
        out["origins"] = 1 + max(len(r["origin_fitness"]) for r in ok)
    for name in names:
        rho = spearmanr([r[name] for r in ok], test).statistic
        out[f"spearman_{name}"] = None if math.isnan(rho) else round(float(rho), 4)
    # among the better half by an estimate: what choosing a search's winner needs
    for name in ("fitness", "origins_fitness")[: 1 + ("origins_fitness" in names)]:
        top = sorted(ok, key=lambda r: float(r[name]), reverse=True)[: max(3, len(ok) // 2)]
        rho_top = spearmanr([r[name] for r in top], [float(r["test"]) for r in top]).statistic
        out[f"spearman_{name}_top_half"] = None if math.isnan(rho_top) else round(float(rho_top), 4)
        out[f"top_half_{name}_spread"] = round(statistics.pstdev(r[name] for r in top), 4)
        out[f"top_half_{name}_test_median"] = round(statistics.median(r["test"] for r in top), 4)
    n_val = max(r["n_val"] for r in ok)
    n_test = max(r["n_test"] for r in ok)
    acc = statistics.median(r["val_accuracy"] for r in ok)
    out["n_val"], out["n_test"] = n_val, n_test
    out["val_accuracy_median"] = round(acc, 4)
    out["val_accuracy_se"] = round(_binomial_se(acc, n_val), 4)
    out["val_accuracy_spread"] = round(statistics.pstdev(r["val_accuracy"] for r in ok), 4)
    out["fitness_spread"] = round(statistics.pstdev(r["fitness"] for r in ok), 4)
    out["test_median"] = round(statistics.median(test), 4)
    out["test_se"] = round(_binomial_se(statistics.median(test), n_test), 4)
    out["test_spread"] = round(statistics.pstdev(test), 4)
    out["n_train_examples"] = max(r["n_train_examples"] for r in ok)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="ml-100k", help="ml-100k | yoochoose | a file/folder")
    p.add_argument("--split", default=None)
    p.add_argument("--space", default=None, help="predictor | drnn | FILE.yaml")
    p.add_argument("--genomes", type=int, default=60)
    p.add_argument("--epochs", type=int, default=8, help="R of each fitness run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--protocol", default="rolling", choices=("rolling", "paper"))
    p.add_argument(
        "--origins", type=int, default=1, help="purchases: validation origins averaged (1..6)"
    )
    p.add_argument("--out", default=None, help="JSON lines, one per genome (resumes)")
    args = p.parse_args(argv)

    from autorec.data import load_family_data, training_protocol
    from autorec.genome import SearchSpace
    from autorec.train import TrainOptions, train_genome

    path, split, space_name = DATASETS.get(args.data, (Path(args.data), args.split, args.space))
    split = args.split or split
    space = SearchSpace.from_yaml(args.space or space_name)
    if not path.exists():
        p.error(f"data {path} not found (set AUTOREC_DATA or pass --data PATH)")
    windows, autoencoder = training_protocol(args.protocol)
    data = load_family_data(
        str(space.family),
        str(path),
        split,
        seed=args.seed,
        train_windows=windows,
        autoencoder=autoencoder,
    )
    options = TrainOptions(max_epochs=args.epochs, seed=args.seed, threads=1)
    out = Path(args.out or f"fitness_validity_{args.data.replace('/', '_')}.jsonl")
    rows = _read(out)
    done = {r["index"] for r in rows}
    rng = np.random.default_rng(args.seed)
    genomes = [space.sample(rng) for _ in range(args.genomes)]
    print(f"{len(genomes)} genomes from {space_name} on {path} ({args.protocol}), R={args.epochs}")
    for i, genome in enumerate(genomes):
        if i in done:
            continue
        t0 = time.perf_counter()
        row = _row(i, train_genome(genome, data, options), options.window)
        if args.origins > 1 and space.family == "predictor":
            row["origin_fitness"] = origin_fitness(
                genome, data, options, args.origins, windows, autoencoder
            )
        rows.append(row)
        with out.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        print(
            f"[{i + 1}/{len(genomes)}] {row['status']:<9} fit {row['fitness']:.4f}  "
            f"{row['test_name']} {row['test'] if row['test'] is not None else float('nan'):.4f}"
            f"  {time.perf_counter() - t0:.0f}s",
            flush=True,
        )
    print(json.dumps(figures(rows), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
