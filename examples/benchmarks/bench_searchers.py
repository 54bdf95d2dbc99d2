"""The GA against Tune's searchers at an equal budget of trial-epochs, on validation and test.

    PYTHONPATH=. python examples/benchmarks/bench_searchers.py
        [--data ml-100k|yoochoose|PATH] [--split DATES] [--space predictor|drnn|FILE.yaml]
        [--seeds 0,...,9] [--population 8] [--generations 7] [--halving-generations G]
        [--epochs 10] [--protocol rolling|paper] [--arms ga,ga-halving,random,tpe,asha]
        [--cpus 2] [--cpus-per-trial 1] [--out DIR] [--quick]

Arms (every one trains with the same trainable, :func:`autorec.tune.run_trial`, the same data
object, the same search space and the same :class:`~autorec.train.TrainOptions`, R =
``--epochs``, through the search driver's own ``train_options``):

- ``ga``: ``autorec search`` (elitist GA), ``--fidelity none``, ``--population`` x
  (``--generations`` + 1) genomes. The budget ``B`` of a seed is what it spends.
- ``ga-halving``: the same GA with ``--fidelity halving`` (rungs of 1, 3, 9, ... epochs per
  generation, the best third goes on; a stopped genome keeps its rung fitness), run for
  ``--halving-generations`` (default ``2 (G + 1) - 1``) and cut at ``B``.
- ``random``: Tune's ``BasicVariantGenerator`` on ``tune_param_space(space)``.
- ``tpe``: Optuna TPE through ``ray.tune.search.optuna.OptunaSearch`` (seeded).
- ``asha``: random search with Tune's ``ASHAScheduler`` (grace 1 epoch, reduction 3, max R);
  a stopped trial counts with the fitness formula over its last 3 epochs (as ``ga-halving``).

**Budget** = the epochs each trial trained, summed over finished trials in finishing order;
the trial crossing ``B`` still counts. Trial-epochs do not depend on the machine's load; wall
times do (printed for information).

**Figures** per seed, then medians with standard errors over seeds and win counts:

- the best validation fitness of each arm within ``B``;
- the **test** metric (precision@10 for purchase histories, top-1 for sessions) of each arm's
  best genome, retrained once on the real protocol (``TrainOptions(test=True)``, the run's
  seed), as ``autorec search`` scores its best genome;
- ``fraction`` = the trial-epochs a GA arm spent when its best-so-far first reached random
  search's best fitness within ``B``, divided by ``B`` (inf: never reached);
- beside it, what the GA's generation 0 (itself a random draw) spent and reached, and the
  fraction's chance under a null model with no selection (:func:`before_breeding`).

``--quick`` runs seconds on the built-in synthetic purchase data (a smoke run, no figures).
Everything is written to ``OUT/results.json``, after every seed. The same command with more
``--seeds`` (or rerun after a stop) into the same ``--out`` keeps the seeds already there. A
GA run dir kept under ``OUT/seed-N/`` (copied from an earlier run to add arms to its seeds) is
resumed, which retrains none of its trials; one of another budget, data or seed is refused.
"""

from __future__ import annotations

from autorec import set_torch_env

set_torch_env()  # before torch loads: the environment of autorec's CLI and Ray workers

import argparse
import json
import logging
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmark modules

from _bench import command_line, load_note, machine, print_machine
from bench_ga_vs_random import (
    DATASETS,
    Arm,
    Trial,
    _jsonable,
    accuracy_of,
    from_jsonable,
    random_trial,
)

from autorec.genome import SearchSpace

ARMS = ("ga", "ga-halving", "random", "tpe", "asha")
#: what the fitness's window is (autorec.train's default) -- the stopped trials' estimate
WINDOW = 3


@dataclass
class ArmRun:
    """One arm of one seed: its trials (finishing order) and the genome of every key."""

    arm: Arm
    genomes: dict[str, dict[str, Any]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# the GA arms (the product's search driver)
# --------------------------------------------------------------------------------------
def run_ga_arm(
    args: argparse.Namespace, seed: int, data: Any, out: Path, *, fidelity: str, generations: int
) -> ArmRun:
    from bench_ga_vs_random import run_ga

    from autorec.tune import RunDir

    # no baseline scoring after the search (the comparison here is between searchers)
    ga_args = argparse.Namespace(
        **{**vars(args), "fidelity": fidelity, "generations": generations, "baselines": ""}
    )
    arm = run_ga(ga_args, seed, data, out)
    genomes = {str(r["genome_key"]): dict(r["genome"]) for r in RunDir(out).read_records()}
    return ArmRun(arm, genomes)


# --------------------------------------------------------------------------------------
# Tune's arms: random, TPE, random + ASHA
# --------------------------------------------------------------------------------------
class Ledger:
    """Driver-side record of a Tune arm: every result (a ``tune.Stopper``), every completed
    trial (a ``tune.Callback``); the experiment stops once ``budget`` trial-epochs are spent.
    A trial the scheduler stopped counts with the fitness formula over its last epochs."""

    def __init__(self, space: SearchSpace, budget: int) -> None:
        self.space = space
        self.budget = budget
        self.history: dict[str, list[tuple[float, float]]] = {}
        self.final: dict[str, dict[str, Any]] = {}
        self.trials: list[Trial] = []
        self.genomes: dict[str, dict[str, Any]] = {}
        self.done: set[str] = set()

    @property
    def spent(self) -> int:
        return sum(t.epochs for t in self.trials)

    def result(self, trial_id: str, result: Mapping[str, Any]) -> None:
        if result.get("final"):
            self.final[trial_id] = dict(result)
        elif "epoch" in result and trial_id not in self.final:
            acc, loss = result.get("val_accuracy"), result.get("loss")
            h = self.history.setdefault(trial_id, [])
            h.append((float(acc if acc is not None else math.nan), float(loss or math.nan)))

    def complete(self, trial_id: str, config: Mapping[str, Any]) -> None:
        from autorec.tune import evaluation_from_result, genome_from_sample, window_fitness

        if trial_id in self.done or self.spent >= self.budget:
            return  # after the budget: trials the end of the experiment stopped
        self.done.add(trial_id)
        genome = genome_from_sample(self.space, dict(config))
        self.genomes[genome.key] = genome.to_dict()
        final = self.final.get(trial_id)
        history = self.history.get(trial_id, [])
        if final is not None:
            ev = evaluation_from_result(genome.key, final, False)
            self.trials.append(
                Trial(genome.key, ev.epochs, ev.fitness, ev.status, accuracy_of(ev.metrics))
            )
        elif history:  # stopped by the scheduler at a rung
            n = min(WINDOW, len(history))
            acc = sum(a for a, _ in history[-n:]) / n
            fit = window_fitness(history, WINDOW)
            self.trials.append(Trial(genome.key, len(history), fit, "ok", acc))


def run_tune_arm(
    args: argparse.Namespace,
    seed: int,
    data: Any,
    budget: int,
    out: Path,
    name: str,
) -> ArmRun:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.basic_variant import BasicVariantGenerator

    from autorec.tune import SearchOptions, train_options, tune_param_space

    space = SearchSpace.from_yaml(args.space)
    options = train_options(
        SearchOptions(space=args.space, epochs=args.epochs, seed=seed), str(space.family)
    )
    ledger = Ledger(space, budget)
    concurrent = max(1, int(args.cpus // args.cpus_per_trial))

    class Stop(tune.Stopper):
        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            ledger.result(trial_id, result)
            return False

        def stop_all(self) -> bool:
            return ledger.spent >= budget

    class Done(tune.Callback):
        def on_trial_complete(
            self, iteration: int, trials: list[Any], trial: Any, **_: Any
        ) -> None:
            ledger.complete(str(trial.trial_id), trial.config)

    search_alg: Any
    scheduler: Any = None
    if name == "tpe":
        from ray.tune.search.optuna import OptunaSearch

        search_alg = ConcurrencyLimiter(
            OptunaSearch(metric="fitness", mode="max", seed=seed), max_concurrent=concurrent
        )
    else:
        search_alg = BasicVariantGenerator(
            random_state=np.random.default_rng(seed), max_concurrent=concurrent
        )
    if name == "asha":
        scheduler = ASHAScheduler(
            time_attr="training_iteration",
            metric="fitness",
            mode="max",
            max_t=args.epochs + 1,  # R epoch reports and the final one
            grace_period=1,
            reduction_factor=3,
        )
    trainable = tune.with_resources(
        tune.with_parameters(random_trial, data=data, options=options, space=space),
        {"cpu": args.cpus_per_trial},
    )
    tuner = tune.Tuner(
        trainable,
        param_space=tune_param_space(space),
        tune_config=tune.TuneConfig(
            search_alg=search_alg,
            scheduler=scheduler,
            num_samples=max(1000, 20 * budget),
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=str(out.resolve()),
            stop=Stop(),
            callbacks=[Done()],
            verbose=0,
        ),
    )
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    started = time.monotonic()
    tuner.fit()
    return ArmRun(Arm(ledger.trials, time.monotonic() - started), ledger.genomes)


# --------------------------------------------------------------------------------------
# test metric of an arm's best genome
# --------------------------------------------------------------------------------------
def test_metric(args: argparse.Namespace, genome: Mapping[str, Any], data: Any, seed: int) -> float:
    """The test metric of ``genome`` retrained once on the real protocol."""
    from autorec.genome import Genome
    from autorec.train import TrainOptions, train_genome

    g = Genome.from_dict(dict(genome), where="bench")
    result = train_genome(g, data, TrainOptions(max_epochs=args.epochs, seed=seed, test=True))
    if result.status not in ("ok", "unsettled"):
        return 0.0
    return float(dict(result.test_metrics or {}).get(args.test_metric, 0.0))


def _kept_test(args: argparse.Namespace, run_dir: Path, key: str) -> float | None:
    """The test metric ``autorec search`` wrote to ``best_model/`` when that is ``key`` (the
    same retraining as :func:`test_metric`); None otherwise."""
    from autorec.tune import best_model_key

    if best_model_key(run_dir) != key:
        return None
    try:
        metrics = json.loads((run_dir / "best_model" / "metrics.json").read_text("utf-8"))
        return float(metrics["test_metrics"][args.test_metric])
    except (OSError, KeyError, TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------
def seed_row(
    seed: int, runs: Mapping[str, ArmRun], budget: int, tests: Mapping[str, float]
) -> dict[str, Any]:
    row: dict[str, Any] = {"seed": seed, "budget": budget, "arms": {}}
    rs_best = runs["random"].arm.best(budget) if "random" in runs else math.nan
    for name, run in runs.items():
        within = run.arm.within(budget)
        top = run.arm.best_trial(budget)
        reach = run.arm.epochs_to_reach(rs_best) if not math.isnan(rs_best) else None
        row["arms"][name] = {
            "best_fitness": run.arm.best(budget),
            "best_key": top.key if top else None,
            "test": tests.get(name, math.nan),
            "trials": len(within),
            "spent": sum(t.epochs for t in within),
            "zero_fitness": sum(t.fitness <= 0 for t in within),
            "fraction_to_random_best": (
                reach / budget if reach is not None and reach <= budget else math.inf
            ),
            "wall_s": round(run.arm.wall_s, 1),
        }
    return row


def _se(xs: Sequence[float]) -> float:
    finite = [x for x in xs if math.isfinite(x)]
    return statistics.stdev(finite) / math.sqrt(len(finite)) if len(finite) > 1 else math.nan


def _median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else math.nan


def summarise(rows: Sequence[dict[str, Any]], arms: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for what in ("best_fitness", "test"):
        wins = {a: 0 for a in arms}
        for r in rows:
            top = max(r["arms"][a][what] for a in arms)
            for a in arms:  # ties count for every tied arm
                wins[a] += r["arms"][a][what] >= top - 1e-12
        out[what] = {
            a: {
                "median": _median([r["arms"][a][what] for r in rows]),
                "se_mean": _se([r["arms"][a][what] for r in rows]),
                "mean": statistics.fmean([r["arms"][a][what] for r in rows]) if rows else math.nan,
                "wins": wins[a],
            }
            for a in arms
        }
    out["fraction_to_random_best"] = {
        a: _median([r["arms"][a]["fraction_to_random_best"] for r in rows])
        for a in arms
        if a.startswith("ga")
    }
    out["before_breeding"] = breeding_summary(rows, arms)
    out["spent"] = {a: _median([r["arms"][a]["spent"] for r in rows]) for a in arms}
    out["trials"] = {a: _median([r["arms"][a]["trials"] for r in rows]) for a in arms}
    return out


#: the budget fraction the issue asks a GA arm to reach random search's best fitness within
FRACTION_TARGET = 0.25


def before_breeding(row: Mapping[str, Any], arm: str) -> dict[str, Any]:
    """What a GA arm's first generation alone does on one seed, against a null model.

    Generation 0 of the GA is itself a random draw from the space, as random search's trials
    are. If every trial were an exchangeable draw from one distribution (no selection at all),
    the chance that the best of the GA's first ``n`` trials (those it finishes within
    ``FRACTION_TARGET * B``) is at least the best of random search's ``N`` trials is
    ``n / (n + N)`` (ties aside). A budget fraction <= ``FRACTION_TARGET`` that this chance
    explains is luck of the first draw, not selection; selection can only act from
    generation 1 on, which starts after ``gen0_share`` of the budget.
    """
    budget = int(row["budget"])
    ga, rs = (Arm([Trial(**t) for t in row["trials"][a]]) for a in (arm, "random"))
    # the trials whose cumulative spend, their own epochs included, is within the target
    early = sum(c <= FRACTION_TARGET * budget for c in accumulate(t.epochs for t in ga.trials))
    n_random = len(rs.within(budget))
    gen0 = Arm([t for t in ga.trials if t.generation == 0])
    return {
        "gen0_share": gen0.spent / budget,
        "gen0_reached": bool(gen0.trials) and gen0.best() >= rs.best(budget) - 1e-12,
        "chance_unbred": early / (early + n_random) if early + n_random else math.nan,
    }


def chance_of_median(chances: Sequence[float]) -> float:
    """The chance that more than half of independent seeds, seed ``i`` succeeding with
    ``chances[i]``, succeed (a Poisson-binomial tail): what a median budget fraction
    <= ``FRACTION_TARGET`` needs (for an even count, exactly half can also do when the next
    seed's fraction is small enough; that case is left out, so this is a slight lower bound)."""
    dist = [1.0]  # dist[k]: chance of k successes so far
    for p in chances:
        dist = [
            (dist[k] if k < len(dist) else 0.0) * (1 - p) + (dist[k - 1] * p if k else 0.0)
            for k in range(len(dist) + 1)
        ]
    return sum(dist[len(chances) // 2 + 1 :])


def breeding_summary(rows: Sequence[Mapping[str, Any]], arms: Sequence[str]) -> dict[str, Any]:
    """Per GA arm, :func:`before_breeding` over the seeds: medians, counts and the chance of
    a median fraction <= ``FRACTION_TARGET`` with no selection. Empty where the rows lack the
    trials of random search."""
    if not rows or not all("random" in r.get("trials", {}) for r in rows):
        return {}
    out: dict[str, Any] = {}
    for a in (a for a in arms if a.startswith("ga")):
        checks = [before_breeding(r, a) for r in rows]
        chances = [c["chance_unbred"] for c in checks]
        out[a] = {
            "gen0_share": _median([c["gen0_share"] for c in checks]),
            "gen0_reached": sum(c["gen0_reached"] for c in checks),
            "hits": sum(r["arms"][a]["fraction_to_random_best"] <= FRACTION_TARGET for r in rows),
            "chance_unbred": chances,
            "expected_hits": sum(chances),
            "chance_of_median": chance_of_median(chances),
        }
    return out


def print_breeding(summary: Mapping[str, Any], n_seeds: int) -> None:
    """Whether the GA had bred anything before the target fraction of its budget."""
    for a, b in summary.get("before_breeding", {}).items():
        print(
            f"{a}: generation 0 (a random draw) spent a median {_f(b['gen0_share'], 2)} of the "
            f"budget and alone reached random search's best on {b['gen0_reached']}/{n_seeds} "
            f"seeds; fraction <= {FRACTION_TARGET} on {b['hits']}/{n_seeds} seeds, against "
            f"{b['expected_hits']:.1f} expected with no selection at all (chance per seed "
            f"{', '.join(_f(c, 2) for c in b['chance_unbred'])}; chance of a median <= "
            f"{FRACTION_TARGET}: {_f(b['chance_of_median'], 3)})"
        )


def _f(x: float, nd: int = 4) -> str:
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return f"{x:.{nd}f}" if isinstance(x, float) and math.isfinite(x) else "-"


def print_tables(rows: Sequence[dict[str, Any]], summary: Mapping[str, Any], args: Any) -> None:
    arms = list(args.arm_list)
    for what, label in (("best_fitness", "best validation fitness"), ("test", args.test_label)):
        print(f"\n{label}, per seed:")
        print(f"{'seed':>4} {'budget':>6} " + " ".join(f"{a:>11}" for a in arms))
        for r in rows:
            print(
                f"{r['seed']:>4} {r['budget']:>6} "
                + " ".join(f"{_f(r['arms'][a][what]):>11}" for a in arms)
            )
    print(
        "\n| arm | trials (median) | trial-epochs (median) | best fitness median (SE) | "
        f"{args.test_label} median (SE) | fitness wins | test wins |"
    )
    print("|---|---|---|---|---|---|---|")
    for a in arms:
        b, t = summary["best_fitness"][a], summary["test"][a]
        print(
            f"| {a} | {summary['trials'][a]:g} | {summary['spent'][a]:g} | "
            f"{_f(b['median'])} ({_f(b['se_mean'])}) | {_f(t['median'])} ({_f(t['se_mean'])}) "
            f"| {b['wins']}/{len(rows)} | {t['wins']}/{len(rows)} |"
        )
    for a, frac in summary["fraction_to_random_best"].items():
        per = ", ".join(_f(r["arms"][a]["fraction_to_random_best"], 2) for r in rows)
        print(
            f"{a}: budget fraction to reach random search's best fitness: {per}; "
            f"median {_f(frac, 2)}"
        )
    print_breeding(summary, len(rows))
    print(
        "(SE: standard error of the mean over seeds; wins: seeds where the arm is best, "
        "ties counted for each tied arm)"
    )


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--data", default="ml-100k", help="ml-100k | yoochoose | a file/folder")
    p.add_argument("--split", default=None, help="the data's split (default: the named set's)")
    p.add_argument("--space", default=None, help="search space (default: the named set's)")
    p.add_argument("--seeds", default="0,1,2,3,4,5,6,7,8,9", help="comma-separated seeds")
    p.add_argument("--population", type=int, default=8)
    p.add_argument("--generations", type=int, default=7, help="bred generations of the GA")
    p.add_argument("--halving-generations", type=int, default=None)
    p.add_argument("--epochs", type=int, default=10, help="R: most epochs per trial")
    p.add_argument("--protocol", default="rolling", help="purchase histories: rolling|paper")
    p.add_argument("--arms", default=",".join(ARMS))
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--cpus-per-trial", type=float, default=1.0)
    p.add_argument("--out", default=None, help="output folder (default: a temporary one)")
    p.add_argument("--quick", action="store_true", help="smoke run on synthetic data")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.population, args.generations, args.epochs = "0", 2, 1, 3
        args.data_path, args.space = None, args.space or "predictor"
    elif args.data in DATASETS:
        path, split, space = DATASETS[args.data]
        args.data_path, args.split = path, args.split or split
        args.space = args.space or space
    else:
        args.data_path = Path(args.data)
        if args.space is None or args.split is None:
            p.error("--space and --split are needed with a data path")
    if args.data_path is not None and not Path(args.data_path).exists():
        p.error(f"data {args.data_path} not found (set AUTOREC_DATA or pass --data PATH)")
    args.arm_list = [a.strip() for a in args.arms.split(",") if a.strip()]
    if not set(args.arm_list) <= set(ARMS) or "ga" not in args.arm_list:
        p.error(f"--arms: pick from {', '.join(ARMS)}, ga included (it sets the budget)")
    if args.halving_generations is None:
        args.halving_generations = 2 * (args.generations + 1) - 1
    args.seed_list = [int(s) for s in str(args.seeds).split(",") if s.strip()]
    import tempfile

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    args.out_dir = Path(args.out or Path(tempfile.gettempdir()) / "autorec_bench_searchers" / stamp)
    return args


def load_data(args: argparse.Namespace) -> Any:
    from autorec.data import load_family_data, training_protocol

    family = str(SearchSpace.from_yaml(args.space).family)
    args.train_windows, args.autoencoder = (
        training_protocol(args.protocol) if family == "predictor" else (1, False)
    )
    args.test_metric = "precision@10" if family == "predictor" else "top1"
    args.test_label = f"test {args.test_metric} of the best genome"
    return load_family_data(
        family,
        None if args.data_path is None else str(args.data_path),
        args.split,
        train_windows=args.train_windows,
        autoencoder=args.autoencoder,
    )


def run_seed(args: argparse.Namespace, seed: int, data: Any) -> dict[str, Any]:
    out = args.out_dir / f"seed-{seed}"
    runs: dict[str, ArmRun] = {}
    runs["ga"] = run_ga_arm(
        args, seed, data, out / "ga", fidelity="none", generations=args.generations
    )
    budget = runs["ga"].arm.spent
    arms: dict[str, Callable[[], ArmRun]] = {
        "ga-halving": lambda: run_ga_arm(
            args,
            seed,
            data,
            out / "ga-halving",
            fidelity="halving",
            generations=args.halving_generations,
        ),
        "random": lambda: run_tune_arm(args, seed, data, budget, out, "random"),
        "tpe": lambda: run_tune_arm(args, seed, data, budget, out, "tpe"),
        "asha": lambda: run_tune_arm(args, seed, data, budget, out, "asha"),
    }
    for name in args.arm_list:
        if name != "ga":
            runs[name] = arms[name]()
    tests: dict[str, float] = {}
    for name, run in runs.items():
        top = run.arm.best_trial(budget)
        if top is None:
            tests[name] = 0.0
            continue
        kept = _kept_test(args, out / name, top.key) if name.startswith("ga") else None
        tests[name] = (
            kept if kept is not None else test_metric(args, run.genomes[top.key], data, seed)
        )
    row = seed_row(seed, runs, budget, tests)
    row["trials"] = {n: [t.to_dict() for t in r.arm.trials] for n, r in runs.items()}
    return row


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = command_line("examples/benchmarks/bench_searchers.py", argv)
    print_machine("the GA (with and without halving) vs Tune's searchers at equal trial-epochs")
    print(f"command: {command}")
    data = load_data(args)
    print(
        f"data: {args.data_path or 'built-in synthetic'} split {args.split}; space "
        f"{args.space}; seeds {args.seed_list}; GA population {args.population} x "
        f"{args.generations + 1} (halving: up to {args.halving_generations + 1}); R = "
        f"{args.epochs}; arms {', '.join(args.arm_list)}; out {args.out_dir}",
        flush=True,
    )
    before = machine()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    kept = kept_rows(args)  # before Ray starts: a mismatched --out fails at once
    import ray

    from autorec.tune import start_ray

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    start_ray(num_cpus=args.cpus, quiet=True)  # autorec's own: a loopback-only local Ray
    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        for seed in args.seed_list:
            if seed in kept:
                rows.append(kept[seed])
                print(f"seed {seed}: kept from {args.out_dir / 'results.json'}", flush=True)
                continue
            t0 = time.monotonic()
            row = run_seed(args, seed, data)
            rows.append(row)
            print(
                f"seed {seed} ({time.monotonic() - t0:.0f} s): budget {row['budget']}; "
                + "; ".join(
                    f"{a} fit {_f(v['best_fitness'])} test {_f(v['test'])} "
                    f"({v['trials']} trials, {v['spent']} ep)"
                    for a, v in row["arms"].items()
                ),
                flush=True,
            )
            _write(args, command, before, rows, started)
    finally:
        ray.shutdown()
    summary = _write(args, command, before, rows, started)
    print_tables(rows, summary, args)
    print(
        f"\ntotal {time.monotonic() - started:.0f} s; load average before "
        f"{before['loadavg_1_5_15']}, after {machine()['loadavg_1_5_15']}"
    )
    note = load_note()
    if note:
        print(f"note: {note} (trial-epochs are unaffected; wall times are)")
    print(f"results: {args.out_dir / 'results.json'}")
    return 0


#: the arguments that must match for a seed of an earlier run into ``--out`` to be kept
SAME_RUN = (
    "data_path",
    "split",
    "space",
    "population",
    "generations",
    "halving_generations",
    "epochs",
    "protocol",
    "arms",
    "cpus_per_trial",
)


def kept_rows(args: argparse.Namespace) -> dict[int, dict[str, Any]]:
    """The seeds an earlier run of the same benchmark left in ``OUT/results.json`` (written
    after every seed), so a long run stopped part-way, or extended by more ``--seeds``,
    trains none of them again. A different budget or space there is an error, not a mix."""
    path = args.out_dir / "results.json"
    if not path.is_file():
        return {}
    old = json.loads(path.read_text(encoding="utf-8"))
    for key in SAME_RUN:
        was, now = old.get("args", {}).get(key), str(getattr(args, key))
        if was != now:
            raise SystemExit(
                f"error: {path}: field args.{key} is {was!r}, this run's is {now!r}; its seeds "
                "are not comparable -- pass another --out, or the same arguments to extend it"
            )
    return {int(r["seed"]): from_jsonable(r) for r in old.get("rows", [])}


def _write(
    args: argparse.Namespace, command: str, before: Any, rows: list[dict[str, Any]], t0: float
) -> dict[str, Any]:
    """results.json after every seed (a long run keeps what it finished)."""
    summary = summarise(rows, args.arm_list) if rows else {}
    result = {
        "command": command,
        "machine_before": before,
        "args": {k: str(v) for k, v in vars(args).items()},
        "rows": rows,
        "summary": summary,
        "total_s": time.monotonic() - t0,
    }
    path = args.out_dir / "results.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(_jsonable(result), indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return summary


if __name__ == "__main__":
    raise SystemExit(main())
