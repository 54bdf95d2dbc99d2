"""A session network against a baseline on the *same* test prefixes: the paired difference of
their top-k accuracies and its standard error, clustered by session.

    PYTHONPATH=. python examples/benchmarks/bench_paired.py
        [--genome FILE.yaml | --saved DIR] [--data yoochoose|PATH] [--split DATES]
        [--baseline session-views] [--k 1,10] [--seeds 0,1,2] [--threads 1] [--out FILE.json]
    PYTHONPATH=. python examples/benchmarks/bench_paired.py --quick   # seconds, synthetic

Two accuracies measured on one test set each carry a standard error of about 0.026 on the
YOOCHOOSE sample's 2,115 test prefixes (clustered by session), so a margin of 0.01 between a
network and ``session-views`` reads as "half a standard error" when the two are compared
unpaired. But both rank the same prefixes, and most prefixes are right (or wrong) for both;
the per-prefix difference of the two hit indicators has a much smaller spread. Its mean is the
accuracy difference, and :func:`autorec.evaluation.paired_session_difference` gives the
standard error of that mean, clustered by session (a session's prefixes are not independent).

``--genome`` trains the genome as ``autorec train`` does (the trainer's defaults, one run per
``--seeds`` seed: the seed-to-seed spread is printed too); ``--saved`` scores a network saved
by ``autorec train --save`` or kept by a search (``RUN_DIR/best_model``) without training.
"""

from __future__ import annotations

from autorec import set_torch_env

set_torch_env()  # before torch loads: the environment of autorec's CLI

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmark modules

from _bench import command_line, print_machine
from bench_ga_vs_random import DATASETS, REPO

DEFAULT_GENOME = REPO / "examples" / "genomes" / "yoochoose_drnn.yaml"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--genome", default=None, help="a drnn genome file (default: the example's)")
    p.add_argument("--saved", default=None, help="a saved network folder instead of --genome")
    p.add_argument("--data", default="yoochoose", help="yoochoose | a session data path")
    p.add_argument("--split", default=None, help="VAL_START,TEST_START")
    p.add_argument("--baseline", default="session-views")
    p.add_argument("--k", default="1,10", help="comma-separated cut-offs")
    p.add_argument("--seeds", default="0", help="training seeds (--genome)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="write the figures as JSON here")
    p.add_argument("--quick", action="store_true", help="smoke run on synthetic sessions")
    args = p.parse_args(argv)
    if args.genome and args.saved:
        p.error("pass --genome or --saved, not both")
    if args.quick:
        args.data_path, args.split = None, None
    elif args.data == "yoochoose":
        path, split, _ = DATASETS["yoochoose"]
        args.data_path, args.split = path, args.split or split
    else:
        args.data_path = Path(args.data)
    if args.data_path is not None and not Path(args.data_path).exists():
        p.error(f"data {args.data_path} not found (set AUTOREC_DATA or pass --data PATH)")
    args.ks = [int(k) for k in str(args.k).split(",") if k.strip()]
    args.seed_list = [int(s) for s in str(args.seeds).split(",") if s.strip()]
    return args


def networks(args: argparse.Namespace, data: Any) -> list[tuple[str, Any, Any]]:
    """``(label, genome, model)`` of every network to compare: the saved one, or the genome
    trained once per seed."""
    from autorec.genome import load_genome
    from autorec.train import TrainOptions, load_saved, train_genome

    if args.saved:
        saved = load_saved(args.saved)
        return [(f"saved {args.saved}", saved.genome, saved.model)]
    genome = load_genome(args.genome or DEFAULT_GENOME)
    epochs = 2 if args.quick else TrainOptions().max_epochs
    out = []
    for seed in args.seed_list:
        options = TrainOptions(seed=seed, threads=args.threads, max_epochs=epochs, test=False)
        result = train_genome(genome, data, options)
        if result.model is None or result.status == "error":
            raise SystemExit(f"training {genome.key} (seed {seed}) failed:\n{result.error}")
        out.append(
            (
                f"{genome.key} seed {seed} ({result.status}, {result.epochs} ep)",
                genome,
                result.model,
            )
        )
    return out


def compare(args: argparse.Namespace) -> dict[str, Any]:
    from autorec.baselines import make_baseline
    from autorec.data import load_session_data
    from autorec.evaluation import paired_session_difference
    from autorec.families import get_family

    data = load_session_data(None if args.data_path is None else str(args.data_path), args.split)
    base = make_baseline(args.baseline).fit(data)
    log, samples = data.split.test, data.test_samples
    rows = []
    for label, genome, model in networks(args, data):
        ranker = get_family("drnn").model_ranker(genome, model.eval(), data)
        for k in args.ks:
            d = paired_session_difference(ranker, base, log, samples, k)
            rows.append({"network": label, "k": k, **d})
            print(
                f"{label}: top-{k} {d['a']:.4f} vs {args.baseline} {d['b']:.4f}: "
                f"{d['diff']:+.4f} ± {d['se']:.4f} (paired, clustered by session; "
                f"{d['diff'] / d['se'] if d['se'] else float('nan'):+.1f} SE)",
                flush=True,
            )
    return {"baseline": args.baseline, "rows": rows, "summary": summarise(rows, args.ks)}


def summarise(rows: Sequence[dict[str, Any]], ks: Sequence[int]) -> dict[str, Any]:
    """Per cut-off: the mean difference over the networks (seeds), the spread of the
    differences from seed to seed, and the mean paired standard error."""
    out: dict[str, Any] = {}
    for k in ks:
        diffs = [r["diff"] for r in rows if r["k"] == k]
        ses = [r["se"] for r in rows if r["k"] == k]
        out[f"top{k}"] = {
            "mean_diff": statistics.fmean(diffs),
            "seed_sd": statistics.stdev(diffs) if len(diffs) > 1 else 0.0,
            "mean_paired_se": statistics.fmean(ses),
            "networks": len(diffs),
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print_machine("a session network against a baseline, paired on the same test prefixes")
    print(f"command: {command_line('examples/benchmarks/bench_paired.py', argv)}")
    result = compare(args)
    for k, s in result["summary"].items():
        print(
            f"{k}: mean difference {s['mean_diff']:+.4f} over {s['networks']} network(s) "
            f"(seed-to-seed sd {s['seed_sd']:.4f}); mean paired standard error "
            f"{s['mean_paired_se']:.4f}"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
