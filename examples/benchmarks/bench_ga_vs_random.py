"""GA (elitist) vs Ray Tune's random search at an equal budget of trial-epochs.

    PYTHONPATH=. python examples/benchmarks/bench_ga_vs_random.py
        [--data ml-100k|yoochoose|PATH] [--split DATES] [--space predictor|drnn|FILE.yaml]
        [--seeds 0,...,9] [--population 8] [--generations 7] [--epochs 10]
        [--cpus 2] [--cpus-per-trial 1] [--out DIR] [--quick]

Both arms run on a local Ray with ``--cpus`` CPUs, ``--cpus-per-trial`` each (so 2 trials at
once on 2 CPUs), the same trainable (:func:`autorec.tune.run_trial`, early-stopped fitness
``fit = accuracy + 1/(1+loss)`` on the validation split, DRNN paper Sec. IV.B), the same data
object, the same search space (default for ml-100k: ``predictor_bench.yaml`` beside this
script, the built-in predictor space with the loss-scale genes w1, w0, beta, output fixed so
the fitness cannot be raised by shrinking the loss; ``--space predictor`` runs the built-in
one), the same :class:`~autorec.train.TrainOptions` (R = ``--epochs``, π = the trainer's
default, the seed of the run; built by the search driver's own ``train_options``):

- **GA arm**: ``autorec.tune.run_search`` (the product's search driver: ``GeneticSearcher`` on
  ``tune.Tuner``), algorithm ``elitist``, ``--population`` x (``--generations`` + 1) genomes;
  identical genomes are trained once (the fitness cache), so it trains fewer trials than that.
- **Random arm**: Tune's own random search: ``tune.Tuner(param_space=tune_param_space(space))``
  with ``BasicVariantGenerator(random_state=seed)``; each sampled config is repaired into a
  genome (``autorec.tune.genome_from_sample``: height clamped to length-1, then
  ``SearchSpace.repair``) and handed to the same ``run_trial``.

**Budget.** Trial-epochs = the epochs each trial actually trained (early stopping makes trials
differ), summed over finished trials in the order they finished. Per seed the GA runs first;
its total spend is the budget ``B``. The random arm then runs until its finished trials have
spent ``>= B`` trial-epochs (a ``tune.Stopper`` ends the experiment); the trial that crosses
``B`` still counts, so random search gets ``B`` plus at most one trial (this can only favour
random search).

**Figures**, per seed and the median over seeds:

- best fitness of each arm at the equal budget ``B``;
- ``ratio = E_GA / B``, where ``E_GA`` is the trial-epochs the GA had spent when its best-so-far
  first reached random search's best at ``B``. ``ratio < 1``: the GA gets there with fewer
  trial-epochs (``1/ratio`` x fewer); ``not reached`` (printed ``>1``, counted as +inf in the
  median) when the GA's best stays below random search's best.

**Paired start.** Both arms draw from ``numpy.random.default_rng(seed)`` with the same calls
(``integers`` / ``uniform`` per gene, in schema order), so on the predictor spaces random
search's first ``--population`` configs are the GA's generation 0 (same genome keys; observed
on every seed): the arms differ only in what they do with the rest of the budget (breed vs.
keep sampling) -- common random numbers, which lowers the variance of the per-seed
difference. (Not so on the DRNN space: a bool gene is ``random() < 0.5`` in autorec and a
two-way ``choice`` in Tune, so the streams part there, and its height clamp differs too.)

Trial-epochs do not depend on the machine's load; wall times do (printed for information).
Results (both arms' trial sequences, the table, the command, the machine) are written to
``OUT/results.json``; the GA's run directories to ``OUT/seed-N/ga``, Tune's folders of the
random arm to ``OUT/seed-N/random``.
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling _bench module

from _bench import command_line, load_note, machine, print_machine

from autorec.genome import SearchSpace

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATA = Path(os.environ.get("AUTOREC_DATA", REPO.parent / "shared" / "data"))
#: Named data sets: path, split, the search space that fits them.
DATASETS: dict[str, tuple[Path, str, str]] = {
    "ml-100k": (
        DATA / "ml-100k" / "ml-100k.inter",
        "1997-09-19,1998-03-26,1998-04-09,1998-04-23",
        str(HERE / "predictor_bench.yaml"),
    ),
    "yoochoose": (DATA / "yoochoose-sample", "2014-06-01,2014-06-16", "drnn"),
}


@dataclass
class Trial:
    """One finished trial of either arm: what the budget and the curves need."""

    key: str
    epochs: int
    fitness: float
    status: str
    accuracy: float = 0.0  # the validation accuracy inside the fitness (precision@10, top1)
    generation: int = 0  # the GA's generation (0 for random search)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "epochs": self.epochs,
            "fitness": self.fitness,
            "status": self.status,
            "accuracy": self.accuracy,
            "generation": self.generation,
        }


#: Validation metrics that hold the fitness's accuracy, by family (first one present).
ACCURACY_METRICS = ("val_precision@10", "val_top1", "val_accuracy")


def accuracy_of(metrics: Mapping[str, Any]) -> float:
    for name in ACCURACY_METRICS:
        value = metrics.get(name)
        if value is not None:
            return float(value)
    return 0.0


@dataclass
class Arm:
    trials: list[Trial] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def spent(self) -> int:
        return sum(t.epochs for t in self.trials)

    def within(self, budget: int) -> list[Trial]:
        """The trials that finished before the cumulative spend reached ``budget`` plus the
        one that crossed it."""
        out, spent = [], 0
        for t in self.trials:
            if spent >= budget:
                break
            out.append(t)
            spent += t.epochs
        return out

    def best(self, budget: int | None = None, *, accuracy: bool = False) -> float:
        trials = self.trials if budget is None else self.within(budget)
        return max((t.accuracy if accuracy else t.fitness for t in trials), default=0.0)

    def best_trial(self, budget: int | None = None) -> Trial | None:
        trials = self.trials if budget is None else self.within(budget)
        return max(trials, key=lambda t: t.fitness, default=None)

    def epochs_to_reach(self, target: float, *, accuracy: bool = False) -> int | None:
        """Cumulative trial-epochs when the best-so-far first reached ``target``."""
        spent = 0
        for t in self.trials:
            spent += t.epochs
            if (t.accuracy if accuracy else t.fitness) >= target - 1e-12:
                return spent
        return None


# --------------------------------------------------------------------------------------
# the two arms
# --------------------------------------------------------------------------------------
def run_ga(args: argparse.Namespace, seed: int, data: Any, out: Path) -> Arm:
    """The GA through the product's search driver; trials read back from its run dir."""
    from autorec.tune import RunDir, SearchOptions, resume_search, run_search

    options = SearchOptions(
        space=args.space,
        data=str(args.data_path) if args.data_path is not None else None,
        split=args.split,
        population=args.population,
        generations=args.generations,
        algorithm="elitist",
        epochs=args.epochs,
        seed=seed,
        run_dir=str(out),
        num_cpus=args.cpus,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=0.0,
        fidelity=getattr(args, "fidelity", "none"),
        train_windows=getattr(args, "train_windows", 1),
        autoencoder=getattr(args, "autoencoder", False),
        baselines=getattr(args, "baselines", None),
    )
    started = time.monotonic()
    if (out / "config.yaml").is_file():  # a kept run (a stopped or extended benchmark)
        _check_kept(out, options)
        resume_search(out, quiet=True, data=data)  # replays finished trials, retrains none
    else:
        run_search(options, quiet=True, data=data)
    wall = time.monotonic() - started
    records = RunDir(out).read_records()  # in the order the trials finished
    trials = [
        Trial(
            str(r["genome_key"]),
            int(r.get("epochs") or 0),
            float(r["fitness"]),
            str(r["status"]),
            accuracy_of(r.get("metrics") or {}),
            int(r.get("generation") or 0),
        )
        for r in records
    ]
    return Arm(trials, wall)


#: the options a kept GA run dir must share with this run to be resumed as this arm
_KEPT = ("space", "data", "split", "population", "generations", "epochs", "seed", "fidelity")


def _check_kept(out: Path, options: Any) -> None:
    """Refuse a kept run dir that another budget, data or seed made (naming the field)."""
    from autorec.tune import load_options

    _, kept = load_options(out)
    for name in _KEPT:
        was, now = getattr(kept, name), getattr(options, name)
        if was != now:
            raise SystemExit(
                f"error: {out / 'config.yaml'}: field {name} is {was!r}, this run's is {now!r}; "
                "pass another --out, or the same arguments to continue it"
            )


def random_trial(
    config: dict[str, Any], data: Any = None, options: Any = None, space: SearchSpace | None = None
) -> None:
    """Tune function trainable of the random arm: repair the sampled config into a genome,
    then the GA's own trainable (:func:`autorec.tune.run_trial`)."""
    from autorec.tune import genome_config, genome_from_sample, run_trial

    assert space is not None
    genome = genome_from_sample(space, config)
    run_trial(genome_config(genome, 0), data, options)


def run_random(args: argparse.Namespace, seed: int, data: Any, budget: int, out: Path) -> Arm:
    """Tune's random search (BasicVariantGenerator) until ``budget`` trial-epochs are spent."""
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    from autorec.evolution import Evaluation
    from autorec.tune import SearchOptions, evaluation_from_result, train_options, tune_param_space

    space = SearchSpace.from_yaml(args.space)
    # exactly the GA's trial options (R, π, seed, test=False)
    options = train_options(
        SearchOptions(space=args.space, epochs=args.epochs, seed=seed), str(space.family)
    )
    finished: list[Evaluation] = []
    seen: set[str] = set()

    class BudgetStopper(tune.Stopper):
        """Records each trial's final result (driver side, in finishing order) and stops the
        experiment once the finished trials have spent ``budget`` trial-epochs. Tune hands
        the stopper a function trainable's last result twice (as reported, then again with
        ``done=True``), hence the trial ids seen."""

        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            if result.get("final") and trial_id not in seen:
                seen.add(trial_id)
                finished.append(
                    evaluation_from_result(str(result.get("genome_key", "")), result, False)
                )
            return False

        def stop_all(self) -> bool:
            return sum(e.epochs for e in finished) >= budget

    trainable = tune.with_resources(
        tune.with_parameters(random_trial, data=data, options=options, space=space),
        {"cpu": args.cpus_per_trial},
    )
    tuner = tune.Tuner(
        trainable,
        param_space=tune_param_space(space),
        tune_config=tune.TuneConfig(
            # at most as many trials at once as the resources run (the GA's searcher hands
            # out one trial per request too), not Tune's default of 200 pending trials
            search_alg=BasicVariantGenerator(
                random_state=np.random.default_rng(seed),
                max_concurrent=max(1, int(args.cpus // args.cpus_per_trial)),
            ),
            num_samples=max(1000, 20 * budget),
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name="random", storage_path=str(out.resolve()), stop=BudgetStopper(), verbose=0
        ),
    )
    # the trial running when the budget is reached is stopped before its first report; Tune
    # warns that it has no metrics to fetch, which is expected here
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    started = time.monotonic()
    tuner.fit()
    wall = time.monotonic() - started
    return Arm(
        [Trial(e.key, e.epochs, e.fitness, e.status, accuracy_of(e.metrics)) for e in finished],
        wall,
    )


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------
def compare(seed: int, ga: Arm, rs: Arm) -> dict[str, Any]:
    budget = ga.spent
    rs_trials = rs.within(budget)
    rs_best = rs.best(budget)
    ga_best = ga.best()
    reach = ga.epochs_to_reach(rs_best)
    ratio = reach / budget if reach is not None and budget > 0 else math.inf
    rs_best_acc = rs.best(budget, accuracy=True)
    reach_acc = ga.epochs_to_reach(rs_best_acc, accuracy=True)
    ga_top, rs_top = ga.best_trial(), rs.best_trial(budget)
    gen0 = [t for t in ga.trials if t.generation == 0]
    return {
        "seed": seed,
        "budget": budget,
        "ga_trials": len(ga.trials),
        "rs_trials": len(rs_trials),
        "rs_spent": sum(t.epochs for t in rs_trials),
        "ga_best": ga_best,
        "rs_best": rs_best,
        "ga_epochs_to_rs_best": reach,
        "ratio": ratio,
        "rs_epochs_to_ga_best": rs.epochs_to_reach(ga_best),
        "ga_gen0_best": max((t.fitness for t in gen0), default=0.0),
        "ga_gen0_spent": sum(t.epochs for t in gen0),
        "ga_best_acc": ga.best(accuracy=True),
        "rs_best_acc": rs_best_acc,
        "ga_acc_of_best": ga_top.accuracy if ga_top else 0.0,
        "rs_acc_of_best": rs_top.accuracy if rs_top else 0.0,
        "ga_epochs_to_rs_best_acc": reach_acc,
        "ratio_acc": reach_acc / budget if reach_acc is not None and budget > 0 else math.inf,
        "ga_wall_s": round(ga.wall_s, 1),
        "rs_wall_s": round(rs.wall_s, 1),
        "ga_zero_fitness": sum(t.fitness <= 0 for t in ga.trials),
        "rs_zero_fitness": sum(t.fitness <= 0 for t in rs_trials),
    }


def _ratio_text(r: float) -> str:
    return ">1 (not reached)" if math.isinf(r) else f"{r:.2f}"


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    head = (
        f"{'seed':>4} {'budget':>6} {'GA tr':>5} {'RS tr':>5} {'GA gen0':>8} "
        f"{'GA best':>8} {'RS best':>8} {'GA ep→RS best':>13} {'ratio':>16} "
        f"{'GA s':>5} {'RS s':>5}"
    )
    print("fitness (what both arms maximise):")
    print(head)
    print("-" * len(head))
    for r in rows:
        reach = "-" if r["ga_epochs_to_rs_best"] is None else str(r["ga_epochs_to_rs_best"])
        print(
            f"{r['seed']:>4} {r['budget']:>6} {r['ga_trials']:>5} {r['rs_trials']:>5} "
            f"{r['ga_gen0_best']:>8.4f} {r['ga_best']:>8.4f} {r['rs_best']:>8.4f} "
            f"{reach:>13} {_ratio_text(r['ratio']):>16} {r['ga_wall_s']:>5.0f} "
            f"{r['rs_wall_s']:>5.0f}"
        )
    head = (
        f"{'seed':>4} {'GA acc@best':>11} {'RS acc@best':>11} {'GA max acc':>10} "
        f"{'RS max acc':>10} {'GA ep→RS max acc':>16} {'ratio':>16}"
    )
    print()
    print(
        "validation accuracy (the fitness's accuracy term; acc@best = of the best-fitness trial):"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        reach = "-" if r["ga_epochs_to_rs_best_acc"] is None else str(r["ga_epochs_to_rs_best_acc"])
        print(
            f"{r['seed']:>4} {r['ga_acc_of_best']:>11.4f} {r['rs_acc_of_best']:>11.4f} "
            f"{r['ga_best_acc']:>10.4f} {r['rs_best_acc']:>10.4f} {reach:>16} "
            f"{_ratio_text(r['ratio_acc']):>16}"
        )


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    ratios = [float(r["ratio"]) for r in rows]
    wins = sum(r["ga_best"] > r["rs_best"] + 1e-12 for r in rows)
    ties = sum(abs(r["ga_best"] - r["rs_best"]) <= 1e-12 for r in rows)
    ratios_acc = [float(r["ratio_acc"]) for r in rows]
    return {
        "median_ratio": statistics.median(ratios) if ratios else math.nan,
        "median_ratio_acc": statistics.median(ratios_acc) if ratios_acc else math.nan,
        "reached_acc": sum(not math.isinf(x) for x in ratios_acc),
        "median_ga_acc_of_best": statistics.median(r["ga_acc_of_best"] for r in rows),
        "median_rs_acc_of_best": statistics.median(r["rs_acc_of_best"] for r in rows),
        "reached": sum(not math.isinf(x) for x in ratios),
        "seeds": len(rows),
        "median_ga_best": statistics.median(r["ga_best"] for r in rows),
        "median_rs_best": statistics.median(r["rs_best"] for r in rows),
        "median_budget": statistics.median(r["budget"] for r in rows),
        "ga_wins": wins,
        "ties": ties,
        "rs_wins": len(rows) - wins - ties,
    }


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else "inf"
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    return x


def from_jsonable(x: Any) -> Any:
    """The inverse of ``_jsonable`` for numbers: its ``"inf"`` is a float again, so rows read
    back from a results file summarise like fresh ones."""
    if x == "inf":
        return math.inf
    if isinstance(x, dict):
        return {k: from_jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [from_jsonable(v) for v in x]
    return x


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--data",
        default="ml-100k",
        help="ml-100k | yoochoose | a file/folder (then give --split and --space)",
    )
    p.add_argument("--split", default=None, help="the data's split (default: the named set's)")
    p.add_argument(
        "--space",
        default=None,
        help="search space name or YAML (default: predictor_bench.yaml beside this "
        "script for ml-100k, drnn for yoochoose)",
    )
    p.add_argument("--seeds", default="0,1,2,3,4,5,6,7,8,9", help="comma-separated seeds")
    p.add_argument("--population", type=int, default=8)
    p.add_argument(
        "--generations", type=int, default=7, help="bred generations after the initial one"
    )
    p.add_argument("--epochs", type=int, default=10, help="R: most epochs per trial")
    p.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    p.add_argument("--cpus-per-trial", type=float, default=1.0)
    p.add_argument(
        "--out", default=None, help="output folder (default /tmp/autorec_bench_ga/<timestamp>)"
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: seed 0, population 4, 1 bred generation, R 4",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.population, args.generations, args.epochs = "0", 4, 1, 4
    if args.data in DATASETS:
        path, split, space = DATASETS[args.data]
        args.data_path = path
        args.split = args.split or split
        args.space = args.space or space
    else:
        args.data_path = Path(args.data)
        if args.space is None:
            p.error("--space is needed with a data path")
    if not Path(args.data_path).exists():
        p.error(f"data {args.data_path} not found (set AUTOREC_DATA or pass --data PATH)")
    args.seed_list = [int(s) for s in str(args.seeds).split(",") if s.strip()]
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    args.out_dir = Path(args.out or f"/tmp/autorec_bench_ga/{stamp}")
    return args


def load_data(args: argparse.Namespace) -> Any:
    from autorec.data import load_purchase_data, load_session_data

    space = SearchSpace.from_yaml(args.space)
    if space.family == "drnn":
        return load_session_data(str(args.data_path), args.split)
    return load_purchase_data(str(args.data_path), args.split)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = command_line("examples/benchmarks/bench_ga_vs_random.py", argv)
    print_machine("GA (elitist) vs Tune random search at equal trial-epochs")
    print(f"command: {command}")
    print(
        f"data: {args.data_path} split {args.split}; space {args.space}; seeds "
        f"{args.seed_list}; GA population {args.population} x {args.generations + 1} "
        f"generations; R = {args.epochs}; {args.cpus} CPUs, {args.cpus_per_trial:g} per "
        f"trial; out {args.out_dir}",
        flush=True,
    )
    machine_before = machine()
    args.out_dir.mkdir(parents=True, exist_ok=True)

    import ray

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    )
    ray.init(
        num_cpus=args.cpus,
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=False,
        configure_logging=True,
    )
    data = load_data(args)
    rows: list[dict[str, Any]] = []
    arms: dict[int, dict[str, Any]] = {}
    started = time.monotonic()
    try:
        for seed in args.seed_list:
            seed_dir = args.out_dir / f"seed-{seed}"
            ga = run_ga(args, seed, data, seed_dir / "ga")
            rs = run_random(args, seed, data, ga.spent, seed_dir / "random")
            row = compare(seed, ga, rs)
            rows.append(row)
            arms[seed] = {
                "ga": [t.to_dict() for t in ga.trials],
                "random": [t.to_dict() for t in rs.trials],
            }
            print(
                f"seed {seed}: budget {row['budget']} trial-epochs, GA best "
                f"{row['ga_best']:.4f} ({row['ga_trials']} trials, {row['ga_wall_s']:.0f} s), "
                f"random best {row['rs_best']:.4f} ({row['rs_trials']} trials, "
                f"{row['rs_wall_s']:.0f} s), ratio {_ratio_text(row['ratio'])}",
                flush=True,
            )
    finally:
        ray.shutdown()
    total = time.monotonic() - started
    summary = summarise(rows)
    print()
    print_table(rows)
    print()
    print(
        "ratio = trial-epochs the GA needed to first reach random search's best at the "
        "equal budget / that budget (< 1: the GA needs fewer)"
    )
    print(
        f"per seed: {', '.join(_ratio_text(r['ratio']) for r in rows)}; "
        f"median {_ratio_text(summary['median_ratio'])} "
        f"(reached in {summary['reached']}/{summary['seeds']} seeds)"
    )
    print(
        f"accuracy ratio (GA trial-epochs to reach random search's best validation accuracy "
        f"/ budget): {', '.join(_ratio_text(r['ratio_acc']) for r in rows)}; median "
        f"{_ratio_text(summary['median_ratio_acc'])} (reached in {summary['reached_acc']}/"
        f"{summary['seeds']} seeds)"
    )
    print(
        f"accuracy of the best-fitness genome (median over seeds): GA "
        f"{summary['median_ga_acc_of_best']:.4f}, random {summary['median_rs_acc_of_best']:.4f}"
    )
    print(
        f"best fitness at equal budget (median over seeds): GA {summary['median_ga_best']:.4f}"
        f", random {summary['median_rs_best']:.4f}; GA better in {summary['ga_wins']}, "
        f"tie {summary['ties']}, random better in {summary['rs_wins']} of {summary['seeds']}"
    )
    after = machine()
    print(
        f"total {total:.0f} s; load average before {machine_before['loadavg_1_5_15']}, "
        f"after {after['loadavg_1_5_15']}"
    )
    note = load_note()
    if note:
        print(f"note: {note} (trial-epochs are unaffected; wall times are)")
    result = {
        "command": command,
        "machine_before": machine_before,
        "machine_after": after,
        "args": {k: str(v) for k, v in vars(args).items()},
        "rows": rows,
        "summary": summary,
        "trials": arms,
        "total_s": total,
    }
    (args.out_dir / "results.json").write_text(
        json.dumps(_jsonable(result), indent=2) + "\n", encoding="utf-8"
    )
    print(f"results: {args.out_dir / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
