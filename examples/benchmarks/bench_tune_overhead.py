"""Ray Tune wall time for N short trials vs the same trials in a plain loop.

    PYTHONPATH=. python examples/benchmarks/bench_tune_overhead.py
        [--trials 4] [--trial-seconds 30] [--cpus-per-trial 1] [--space drnn]

The N genomes are generation 0 of the search (``autorec.tune`` builds the same evolution with
the same seed). Every trial trains its genome with ``autorec.train.train_genome`` on the
built-in synthetic data for about ``--trial-seconds`` (``max_wall_s``; the accuracy test is
switched off so no trial stops earlier; a trial ends at the first epoch boundary past the
limit). Side by side in one run:

- loop: the N trials one after the other in this process (threads = ``--cpus-per-trial``);
- tune: ``autorec.tune.run_search`` (Tuner, GeneticSearcher, run directory, reports every
  epoch, ``reuse_actors``) with Ray given ``--cpus-per-trial`` CPUs, so it also runs one trial
  at a time with the same threads; the data set is loaded once and shared through the object
  store. Ray's start-up is timed separately.

Order loop, tune, loop (the loop's figure is the mean of both, so load drift hits both alike).
Prints the ratio tune / loop (target <= 1.1x for 30 s trials), with and without Ray's start-up,
and, for a quick run with shorter trials, the ratio extrapolated to 30 s trials from the
measured fixed overhead.
"""

from __future__ import annotations

from autorec import set_torch_env

set_torch_env()  # before torch loads: the environment of autorec's CLI and Ray workers

import argparse
import dataclasses
import functools
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import load_note, print_machine

from autorec.data import load_purchase_data, load_session_data
from autorec.train import TrainOptions, train_genome


def timed_train(
    genome: Any, data: Any, options: Any, on_epoch: Any = None, *, seconds: float = 30.0
) -> Any:
    """``train_genome`` for about ``seconds`` (the epoch past the limit ends the trial)."""
    opts = dataclasses.replace(
        options, max_epochs=10**6, window=10**6, max_wall_s=seconds, test=False
    )
    return train_genome(genome, data, opts, on_epoch=on_epoch)


def run_loop(genomes: list[Any], data: Any, options: TrainOptions, seconds: float) -> float:
    t0 = time.perf_counter()
    for g in genomes:
        timed_train(g, data, options, seconds=seconds)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=4, help="N")
    ap.add_argument("--trial-seconds", type=float, default=30.0)
    ap.add_argument("--cpus-per-trial", type=int, default=1)
    ap.add_argument("--space", default="drnn")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")

    from autorec.tune import SearchOptions, build_evolution, run_search, start_ray

    n, secs, cpus = args.trials, args.trial_seconds, args.cpus_per_trial
    print_machine("bench_tune_overhead: Ray Tune vs a plain loop over the same trials")
    with tempfile.TemporaryDirectory() as tmp:
        opts = SearchOptions(
            space=args.space,
            population=n,
            generations=0,
            epochs=1,
            seed=args.seed,
            run_dir=str(Path(tmp) / "run"),
            num_cpus=cpus,
            cpus_per_trial=float(cpus),
            gpus_per_trial=0.0,
        )
        evolution = build_evolution(opts)
        genomes: list[Any] = []
        while (g := evolution.ask()) is not None and len(genomes) < n:
            genomes.append(g)
        family = str(evolution.space.family)
        data = (
            load_session_data(None, seed=args.seed)
            if family == "drnn"
            else load_purchase_data(None, seed=args.seed)
        )
        train_opts = TrainOptions(seed=args.seed, test=False, threads=cpus)
        print(
            f"{n} trials of ~{secs:g} s ({args.space} genomes, synthetic data), "
            f"{cpus} CPU(s) per trial, one trial at a time"
        )

        loop_a = run_loop(genomes, data, train_opts, secs)
        print(f"loop (1st): {loop_a:.1f} s", flush=True)

        t0 = time.perf_counter()
        start_ray(None, num_cpus=cpus, quiet=True)
        ray_start = time.perf_counter() - t0
        t0 = time.perf_counter()
        summary = run_search(
            opts, quiet=True, data=data, train_fn=functools.partial(timed_train, seconds=secs)
        )
        tune_s = time.perf_counter() - t0
        print(
            f"tune: {tune_s:.1f} s for {summary.trials} trials (+ Ray start-up {ray_start:.1f} s)",
            flush=True,
        )
        import ray

        ray.shutdown()

        loop_b = run_loop(genomes, data, train_opts, secs)
        print(f"loop (2nd): {loop_b:.1f} s", flush=True)
    loop = (loop_a + loop_b) / 2
    ratio = tune_s / loop
    ratio_all = (tune_s + ray_start) / loop
    overhead = tune_s - loop
    print(
        f"fixed Tune overhead: {overhead:.1f} s in all, {overhead / n:.2f} s per trial "
        f"(Ray start-up {ray_start:.1f} s on top)"
    )
    print(
        f"RATIO tune / loop = {ratio:.3f}x ({ratio_all:.3f}x with Ray start-up) for "
        f"{secs:g} s trials"
    )
    per_trial = loop / n  # what one trial really took (limit + the last epoch)
    if abs(secs - 30.0) > 1e-9:
        real30 = per_trial - secs + 30.0
        r30 = (n * real30 + overhead) / (n * real30)
        r30_all = (n * real30 + overhead + ray_start) / (n * real30)
        print(
            f"extrapolated to 30 s trials: {r30:.3f}x ({r30_all:.3f}x with Ray start-up) "
            f"(target <= 1.1x): {'MET' if r30 <= 1.1 else 'MISSED'}"
        )
    else:
        print(f"target <= 1.1x: {'MET' if ratio <= 1.1 else 'MISSED'}")
    note = load_note()
    if note:
        print(f"note: {note}")


if __name__ == "__main__":
    main()
