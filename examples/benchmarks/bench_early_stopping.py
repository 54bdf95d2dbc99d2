"""Epochs saved by the early-stopped fitness vs full R-epoch training (issue 6, #4).

    PYTHONPATH=. python examples/benchmarks/bench_early_stopping.py
        [--space drnn] [--genomes 4] [--epochs 30] [--pi auto] [--window 3] [--threads N]

Samples ``--genomes`` genomes from a search space (seeded) and trains each on the built-in
synthetic data (sessions for ``drnn``, purchase histories for predictor spaces) twice with
``autorec.train.train_genome``, side by side:

- early-stopped: the trainer's fitness (DRNN paper Sec. IV.B): stop as soon as the validation
  accuracy's spread over the last ``--window`` epochs is <= π, at most R = ``--epochs``;
- full: exactly R epochs (π = inf, window = R), fitness = accuracy + 1/(1+loss) at epoch R.

Prints per genome the epochs and fitness of both, then the ratio of total epochs (target >= 4x
fewer) and the ratio of the best fitness over the genomes (target >= 0.99x), plus wall times.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import load_note, print_machine

from autorec.data import load_purchase_data, load_session_data
from autorec.genome import SearchSpace
from autorec.train import TrainOptions, train_genome
from autorec.train._types import parse_pi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--space", default="drnn")
    ap.add_argument("--genomes", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=30, help="R")
    ap.add_argument(
        "--pi", type=parse_pi, default="auto", help="auto (noise-adaptive, default) or a number"
    )
    ap.add_argument("--window", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    space = SearchSpace.from_yaml(args.space)
    data = (
        load_session_data(None, seed=args.seed)
        if space.family == "drnn"
        else load_purchase_data(None, seed=args.seed)
    )
    rng = np.random.default_rng(args.seed)
    genomes = [space.sample(rng) for _ in range(args.genomes)]
    early_opts = TrainOptions(
        max_epochs=args.epochs,
        pi=args.pi,
        window=args.window,
        test=False,
        threads=args.threads,
        seed=args.seed,
    )
    full_opts = TrainOptions(
        max_epochs=args.epochs,
        pi=math.inf,
        window=args.epochs,
        test=False,
        threads=args.threads,
        seed=args.seed,
    )
    print_machine("bench_early_stopping: early-stopped fitness vs full R-epoch training")
    print(
        f"space {args.space}, {args.genomes} genomes, R = {args.epochs}, pi = {args.pi}, "
        f"window = {args.window}, synthetic {space.family} data"
    )

    e_epochs, f_epochs, e_fit, f_fit, e_wall, f_wall = [], [], [], [], [], []
    for g in genomes:
        t0 = time.perf_counter()
        early = train_genome(g, data, early_opts)
        t1 = time.perf_counter()
        full = train_genome(g, data, full_opts)
        t2 = time.perf_counter()
        # a run that diverged stops early in both modes; count what was actually trained
        e_epochs.append(early.epochs)
        f_epochs.append(full.epochs)
        e_fit.append(early.fitness)
        f_fit.append(full.fitness)
        e_wall.append(t1 - t0)
        f_wall.append(t2 - t1)
        print(
            f"genome {g.key}: early {early.status:9s} {early.epochs:3d} epochs fit "
            f"{early.fitness:.4f} ({t1 - t0:6.1f} s) | full {full.status:9s} "
            f"{full.epochs:3d} epochs fit {full.fitness:.4f} ({t2 - t1:6.1f} s)",
            flush=True,
        )
    ep_ratio = sum(f_epochs) / max(sum(e_epochs), 1)
    best_e, best_f = max(e_fit), max(f_fit)
    fit_ratio = best_e / best_f if best_f > 0 else math.nan
    print(
        f"epochs: early-stopped {sum(e_epochs)}, full {sum(f_epochs)} -> "
        f"{ep_ratio:.2f}x fewer (target >= 4x): {'MET' if ep_ratio >= 4 else 'MISSED'}"
    )
    print(
        f"wall: early-stopped {sum(e_wall):.1f} s, full {sum(f_wall):.1f} s -> "
        f"{sum(f_wall) / max(sum(e_wall), 1e-9):.2f}x"
    )
    print(
        f"best fitness: early-stopped {best_e:.4f}, full {best_f:.4f} -> ratio "
        f"{fit_ratio:.4f} (target >= 0.99): {'MET' if fit_ratio >= 0.99 else 'MISSED'}"
    )
    same_best = int(np.argmax(e_fit)) == int(np.argmax(f_fit))
    print(f"same best genome in both: {same_best}")
    note = load_note()
    if note:
        print(f"note: {note}")


if __name__ == "__main__":
    main()
