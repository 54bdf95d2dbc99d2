"""``autorec retrain`` on the YOOCHOOSE sample: a parent trained on April-May, its child
retrained on April-June with the split moved one month on (issue: production retraining).

    PYTHONPATH=. python examples/benchmarks/bench_retrain.py
        [--data ../shared/data/yoochoose-sample] [--genome examples/genomes/yoochoose_drnn.yaml]
        [--parent-split 2014-05-01,2014-05-16] [--child-split 2014-06-01,2014-06-16]
        [--epochs 30] [--threads 1] [--json OUT.json]

1. The sessions whose first click is before 2014-06-01 are written to a temporary folder
   (the April-May data; nothing is copied into the repository).
2. Parent: ``autorec train GENOME --data APRIL-MAY --split PARENT_SPLIT --save`` then
   ``autorec export`` (the real commands).
3. Child: ``autorec retrain PARENT --data FULL --split CHILD_SPLIT --since 2014-06-01``: the
   warm-started network, the same genome trained from scratch on the same data (side by
   side in one run), and the parent scored unchanged on the child's test split.

Reported: each one's test top-1 / top-10 on the child's test split (June 16-30) and the
wall time of each training.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import load_note, print_machine

REPO = Path(__file__).resolve().parents[2]


def _autorec(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "autorec.cli.app", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=7200)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed:\n{proc.stderr[-2000:]}")
    return proc.stdout


def _before(data: Path, end: str, out: Path) -> int:
    """The sessions of ``data`` whose first click is before ``end``, written to ``out``."""
    clicks = pd.read_csv(data / "clicks.csv", dtype=str)
    buys = pd.read_csv(data / "buys.csv", dtype=str)
    first = clicks.groupby("session_id")["timestamp"].min()
    keep = set(first[first < end].index)
    out.mkdir(parents=True, exist_ok=True)
    clicks[clicks.session_id.isin(keep)].to_csv(out / "clicks.csv", index=False)
    buys[buys.session_id.isin(keep)].to_csv(out / "buys.csv", index=False)
    return len(keep)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shared = Path(os.environ.get("AUTOREC_DATA", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--data", type=Path, default=shared / "yoochoose-sample")
    parser.add_argument("--genome", default=str(REPO / "examples/genomes/yoochoose_drnn.yaml"))
    parser.add_argument("--parent-split", default="2014-05-01,2014-05-16")
    parser.add_argument("--child-split", default="2014-06-01,2014-06-16")
    parser.add_argument("--since", default="2014-06-01")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    print_machine("autorec retrain: April-May parent, April-June child")
    common = ["--epochs", str(args.epochs), "--threads", str(args.threads), "--no-progress"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        n = _before(args.data, args.since, root / "april-may")
        print(f"April-May data: {n} sessions (first click before {args.since})")
        t0 = time.perf_counter()
        parent_train = json.loads(
            _autorec(
                "train", args.genome, "--data", str(root / "april-may"),
                "--split", args.parent_split, "--save", str(root / "saved"), "--json", *common,
            )
        )  # fmt: skip
        parent_wall = time.perf_counter() - t0
        _autorec("export", str(root / "saved"), "--out", str(root / "parent"), "--no-progress")
        out = json.loads(
            _autorec(
                "retrain", str(root / "parent"), "--out", str(root / "child"),
                "--data", str(args.data), "--split", args.child_split,
                "--since", args.since, "--json", *common,
            )
        )  # fmt: skip
    result: dict[str, Any] = {
        "parent": {
            "split": args.parent_split,
            "own_test_metrics": parent_train["test_metrics"],
            "epochs": parent_train["epochs"],
            "wall_s": round(parent_wall, 1),
        },
        "child_split": args.child_split,
        "new_sessions": out.get("new"),
        "transfer": {k: out["transfer"][k] for k in ("items", "pages", "fresh")},
        "warm": out["warm"],
        "scratch": out["scratch"],
        "parent_on_new_test": out["parent_on_new_test"],
    }
    print(
        f"parent (split {args.parent_split}): own test top1 "
        f"{parent_train['test_metrics'].get('top1', float('nan')):.4f}, "
        f"{parent_train['epochs']} epochs, train+test wall {parent_wall:.1f}s"
    )
    print(f"child split {args.child_split}; {out.get('new')} sessions since {args.since}")
    print(f"catalogue: items {out['transfer']['items']}, pages {out['transfer']['pages']}")
    for label, r in (
        ("warm-started child", out["warm"]),
        ("from scratch", out["scratch"]),
        ("parent, unchanged", out["parent_on_new_test"]),
    ):
        m = r["test_metrics"]
        extra = f", {r['epochs']} epochs, wall {r['wall_s']:.1f}s" if "epochs" in r else ""
        print(
            f"  {label:<19} test top1 {m.get('top1', float('nan')):.4f}  "
            f"top10 {m.get('top10', float('nan')):.4f}{extra}"
        )
    note = load_note()
    if note:
        print(f"note: {note}")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
