"""Epochs saved by the early-stopped fitness vs full R-epoch training.

    PYTHONPATH=. python examples/benchmarks/bench_early_stopping.py
        [--space drnn] [--seeds 0,1,2] [--genomes 4] [--epochs 30] [--pi auto] [--window 3]
        [--threads N] [--json PATH]

For every seed, samples ``--genomes`` genomes from a search space (a generation 0) and trains
each on the built-in synthetic data of that seed (sessions for ``drnn``, purchase histories
for predictor spaces) twice with ``autorec.train.train_genome``, side by side:

- early-stopped: the trainer's fitness (DRNN paper Sec. IV.B): stop as soon as the validation
  accuracy's spread over the last ``--window`` epochs is <= π, at most R = ``--epochs``;
- full: exactly R epochs (``min_epochs = R``, π = inf).

Both are scored alike, ``fit = ā + 1/(1+l̄)`` over the last ``--window`` epochs they trained
(:mod:`autorec.train.fitness`). Per seed: total epochs of both (target >= 4x fewer) and the
ratio of the best fitness among that seed's genomes (target >= 0.99x); then the pooled epoch
ratio and the per-seed fitness ratios' median and minimum, plus wall times.

Training is seeded, so an early-stopped run is a prefix of the full run of the same genome
(checked: "prefix" column). That lets the script *replay* other stopping rules on the full
histories at no cost: a table of epochs saved and fitness ratio per rule (spread window 3-5
with 1-3 binomial standard errors, and a trend rule: stop once the accuracy's least-squares
slope over the window, projected over the epochs left to R, is within π), which shows the
trade-off between the two targets. Replayed rules are labelled as such; only the trainer's
own rule is measured by real runs.
"""

from __future__ import annotations

from autorec import set_torch_env

set_torch_env()  # before torch loads: the environment of autorec's CLI and Ray workers

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import load_note, print_machine

from autorec.data import load_purchase_data, load_session_data
from autorec.genome import Genome, SearchSpace
from autorec.train import EpochReport, TrainOptions, TrainResult, parse_pi, train_genome
from autorec.train.fitness import auto_pi, fitness_value, is_bounded, window_means


@dataclass(frozen=True)
class Pair:
    """One genome trained both ways."""

    key: str
    early: TrainResult
    full: TrainResult
    early_s: float
    full_s: float
    n_val: int


def _window_fit(hist: Sequence[EpochReport], window: int) -> float:
    return fitness_value(*window_means(hist, window))


def _is_prefix(early: Sequence[EpochReport], full: Sequence[EpochReport]) -> bool:
    return len(early) <= len(full) and all(
        a.val_accuracy == b.val_accuracy and a.val_loss == b.val_loss
        for a, b in zip(early, full, strict=False)
    )


Rule = Callable[[list[float], int, int], bool]  # (accuracies so far, n_val, R) -> stop?


def spread_rule(window: int, n_se: float) -> Rule:
    def stop(acc: list[float], n_val: int, r: int) -> bool:
        pi = n_se / 2 * auto_pi(acc[-1], n_val)  # auto_pi is two standard errors
        return is_bounded(acc, window, pi)

    return stop


def trend_rule(window: int, n_se: float) -> Rule:
    def stop(acc: list[float], n_val: int, r: int) -> bool:
        if len(acc) < window:
            return False
        slope = float(np.polyfit(np.arange(window), acc[-window:], 1)[0])
        return slope * (r - len(acc)) <= n_se / 2 * auto_pi(acc[-1], n_val)

    return stop


def replay(
    rule: Rule, hist: Sequence[EpochReport], n_val: int, r: int, window: int
) -> tuple[int, float]:
    """Epochs and fitness a rule would have given on a full R-epoch history."""
    acc: list[float] = []
    for e, rep in enumerate(hist[:r]):
        acc.append(rep.val_accuracy)
        if rule(acc, n_val, r) or e == r - 1:
            return e + 1, _window_fit(hist[: e + 1], window)
    return len(hist), 0.0  # diverged before R: both modes stop there, fit 0


def _train_pair(g: Genome, data: Any, early_opts: TrainOptions, full_opts: TrainOptions) -> Pair:
    t0 = time.perf_counter()
    early = train_genome(g, data, early_opts)
    t1 = time.perf_counter()
    full = train_genome(g, data, full_opts)
    t2 = time.perf_counter()
    # the trainer's n for the adaptive π: validation prefix samples, or customers
    if hasattr(data, "valid_samples"):
        n_val = len(data.valid_samples.session)
    else:
        n_val = int(data.validation.test.n_customers)
    return Pair(g.key, early, full, t1 - t0, t2 - t1, n_val)


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--space", default="drnn")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated; one genome sample each")
    ap.add_argument("--genomes", type=int, default=4, help="genomes per seed")
    ap.add_argument("--epochs", type=int, default=30, help="R")
    ap.add_argument(
        "--pi", type=parse_pi, default="auto", help="auto (noise-adaptive, default) or a number"
    )
    ap.add_argument("--window", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", default=None, help="write every run's per-epoch history here")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    r = args.epochs

    space = SearchSpace.from_yaml(args.space)
    print_machine("bench_early_stopping: early-stopped fitness vs full R-epoch training")
    print(
        f"space {args.space}, seeds {seeds}, {args.genomes} genomes per seed, R = {r}, "
        f"pi = {args.pi}, window = {args.window}, synthetic {space.family} data (seed = seed)"
    )
    pairs: dict[int, list[Pair]] = {}
    for seed in seeds:
        data = (
            load_session_data(None, seed=seed)
            if space.family == "drnn"
            else load_purchase_data(None, seed=seed)
        )
        rng = np.random.default_rng(seed)
        genomes = [space.sample(rng) for _ in range(args.genomes)]
        base = TrainOptions(
            max_epochs=r, test=False, threads=args.threads, seed=seed, window=args.window
        )
        early_opts = replace(base, pi=args.pi)
        full_opts = replace(base, min_epochs=r, pi=math.inf)
        pairs[seed] = []
        for g in genomes:
            p = _train_pair(g, data, early_opts, full_opts)
            pairs[seed].append(p)
            print(
                f"seed {seed} genome {p.key}: early {p.early.status:9s} {p.early.epochs:3d} ep "
                f"fit {p.early.fitness:.4f} ({p.early_s:5.1f} s) | full {p.full.status:9s} "
                f"{p.full.epochs:3d} ep fit {p.full.fitness:.4f} ({p.full_s:5.1f} s) | prefix "
                f"{_is_prefix(p.early.history, p.full.history)}",
                flush=True,
            )
    _summary(pairs, r)
    _replay_table(pairs, r, args.window)
    if args.json:
        _write_histories(args.json, pairs)
    note = load_note()
    if note:
        print(f"note: {note}")


def _write_histories(path: str, pairs: dict[int, list[Pair]]) -> None:
    """Every genome's two runs (status, fitness, per-epoch reports) as JSON, to replay
    further stopping rules without training again."""
    out = {
        str(seed): [
            {
                "key": p.key,
                "n_val": p.n_val,
                "early": {"status": p.early.status, "fitness": p.early.fitness,
                          "history": [vars(e) for e in p.early.history]},
                "full": {"status": p.full.status, "fitness": p.full.fitness,
                         "history": [vars(e) for e in p.full.history]},
            }
            for p in ps
        ]
        for seed, ps in pairs.items()
    }  # fmt: skip
    Path(path).write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"histories written to {path}")


def _summary(pairs: dict[int, list[Pair]], r: int) -> None:
    fit_ratios: list[float] = []
    e_all = f_all = 0
    e_wall = f_wall = 0.0
    for seed, ps in pairs.items():
        e_ep, f_ep = sum(p.early.epochs for p in ps), sum(p.full.epochs for p in ps)
        best_e = max(p.early.fitness for p in ps)
        best_f = max(p.full.fitness for p in ps)
        fr = _ratio(best_e, best_f)
        fit_ratios.append(fr)
        e_all, f_all = e_all + e_ep, f_all + f_ep
        e_wall += sum(p.early_s for p in ps)
        f_wall += sum(p.full_s for p in ps)
        same = int(np.argmax([p.early.fitness for p in ps])) == int(
            np.argmax([p.full.fitness for p in ps])
        )
        print(
            f"seed {seed}: epochs {e_ep} vs {f_ep} -> {_ratio(f_ep, e_ep):.2f}x fewer; best fit "
            f"{best_e:.4f} vs {best_f:.4f} -> {fr:.4f}; same best genome: {same}"
        )
    ep_ratio = _ratio(f_all, e_all)
    med, low = statistics.median(fit_ratios), min(fit_ratios)
    print(
        f"epochs, all seeds: early-stopped {e_all}, full {f_all} -> {ep_ratio:.2f}x fewer "
        f"(target >= 4x): {'MET' if ep_ratio >= 4 else 'MISSED'}"
    )
    print(
        f"wall, all seeds: early-stopped {e_wall:.1f} s, full {f_wall:.1f} s -> "
        f"{_ratio(f_wall, e_wall):.2f}x"
    )
    print(
        f"best-fitness ratio per seed: {', '.join(f'{x:.4f}' for x in fit_ratios)}; median "
        f"{med:.4f}, min {low:.4f} (target >= 0.99): median {'MET' if med >= 0.99 else 'MISSED'}"
        f", every seed {'MET' if low >= 0.99 else 'MISSED'}"
    )


def _replay_table(pairs: dict[int, list[Pair]], r: int, window: int) -> None:
    rules: list[tuple[str, Rule, int]] = []
    for w in (3, 4, 5):
        for k in (1, 2, 3):
            rules.append((f"spread w={w} {k} SE", spread_rule(w, k), w))
    for w in (3, 5):
        rules.append((f"trend  w={w} 2 SE", trend_rule(w, 2), w))
    print(f"replayed on the full histories (the trainer's rule is 'spread w={window} 2 SE'):")
    print(f"{'rule':22s} {'epochs':>8s} {'fewer':>7s}  best-fit ratio per seed")
    total_full = sum(p.full.epochs for ps in pairs.values() for p in ps)
    for name, rule, w in rules:
        eps = 0
        ratios = []
        for ps in pairs.values():
            out = [replay(rule, p.full.history, p.n_val, r, w) for p in ps]
            eps += sum(o[0] for o in out)
            best_full = max(p.full.fitness for p in ps)
            ratios.append(_ratio(max(o[1] for o in out), best_full))
        print(
            f"{name:22s} {eps:8d} {_ratio(total_full, eps):6.2f}x  "
            f"{' '.join(f'{x:.4f}' for x in ratios)}  (median {statistics.median(ratios):.4f})"
        )


if __name__ == "__main__":
    main()
