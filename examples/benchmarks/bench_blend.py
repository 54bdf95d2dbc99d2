"""Would a hybrid of a network and an item-item peer beat the strongest peer? (rolling origin)

    PYTHONPATH=. python examples/benchmarks/bench_blend.py
        [--genome FILE.yaml] [--data PATH] [--split DX,DXY,DYZ,DZ] [--origins 6]
        [--peers itemknn,ease] [--epochs 20] [--window 20] [--pi 1|auto]
        [--train-windows 13] [--autoencoder] [--seed 0] [--k 10] [--out FILE.jsonl] [--quick]

On ml-100k a network and EASE / itemknn win on different test windows
(``bench_rolling_origin.py``): the network where X holds months of history, the item-item
peers where it holds weeks. This benchmark measures, before anything of the kind is built
into the search space, whether their *blend* beats the strongest peer of each window.

On every origin (the split moved back ``m`` months, as ``bench_rolling_origin.py`` does):

- the genome is trained twice, exactly as ``autorec train`` does: once on the validation
  protocol only (``TrainOptions(test=False)``), once with the retraining on the real
  protocol (the network the test metrics score);
- each peer is fitted on the same two protocols (EASE's λ chosen on validation, as
  ``autorec baseline ease`` does, and kept for the validation refit);
- the blend ranks a customer's items by ``z(net logits) + w * z(peer scores)``, ``z`` a
  per-customer standardisation over the catalogue (the two score scales are unrelated);
  ``w`` is chosen on the **validation** protocol from :data:`WEIGHTS` (ties: the smaller
  ``w``), then applied on test. ``w = 1`` (no choosing) is reported beside it.

Printed: test precision@K per origin of the network, each peer and each blend, and the
paired per-customer difference of the network and every blend against each peer and against
the best peer *of each window* (the peer chosen on test, which favours the peers), pooled
over origins with its standard error.

``--quick``: synthetic data, a tiny genome, one epoch, itemknn, 2 origins (seconds).
Rows are appended to ``--out`` as they finish and read back first (an interrupted run
resumes). This is a measurement, not a product feature: the search space has no blend gene.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmark modules

from bench_rolling_origin import (
    GENOME,
    ML100K,
    ML100K_SPLIT,
    REPO,
    _load,
    _se,
    add_training_args,
    per_customer_precision,
    shifted_split,
)

#: the peer weights the validation protocol chooses from (0: the network alone)
WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)


def standardised(scores: torch.Tensor) -> torch.Tensor:
    """Each row minus its mean, over its standard deviation (a constant row becomes 0)."""
    centred = scores - scores.mean(dim=1, keepdim=True)
    return centred / centred.std(dim=1, keepdim=True).clamp(min=1e-12)


class BlendRanker:
    """``z(network logits) + w * z(peer scores)`` per customer, its XY inputs excluded (a
    :class:`~autorec.evaluation.CustomerRanker`); ``model`` a
    :class:`~autorec.train.ModelCustomerRanker`, ``peer`` a fitted baseline."""

    def __init__(self, model: Any, peer: Any, weight: float) -> None:
        self.model, self.peer, self.weight = model, peer, weight

    def topk_customers(self, examples: Any, k: int) -> np.ndarray:
        from autorec.evaluation import topk_excluding

        rows = np.arange(examples.n_customers, dtype=np.int64)
        net = self.model.scores(examples, rows).to(torch.float64)
        peer = torch.from_numpy(np.asarray(self.peer.customer_scores(examples), np.float64))
        blend = standardised(net) + self.weight * standardised(peer)
        top = topk_excluding(blend, examples.input_item, examples.input_ptr[:-1], k)
        return np.asarray(top.numpy(), dtype=np.int64)


def _networks(genome: Path, data: Any, args: argparse.Namespace) -> tuple[Any, Any]:
    """The validation network and the test network of ``genome`` (None where one failed)."""
    from autorec.genome import load_genome
    from autorec.train import TrainOptions, train_genome

    g = load_genome(genome)
    nets = []
    for test in (False, True):
        options = TrainOptions(
            max_epochs=args.epochs,
            pi=args.pi,
            window=args.window,
            k=args.k,
            seed=args.seed,
            threads=args.threads,
            test=test,
        )
        r = train_genome(g, data, options)
        good = r.status == "ok" and (not test or r.retrain_status == "ok")
        nets.append(r.model if good else None)
    return nets[0], nets[1]


def _peers(name: str, data: Any) -> tuple[Any, Any]:
    """``name`` fitted on the validation protocol and on the real one."""
    from autorec.baselines import make_baseline
    from autorec.families import family_of

    test = make_baseline(name).fit(data)
    valid = make_baseline(name).fit(data)  # λ chosen on validation, as the test one's
    family_of(data).fit_baseline(valid, data, validation=True)
    return valid, test


def _ranker(model: torch.nn.Module) -> Any:
    """The network's own ranking (as ``autorec train`` scores it)."""
    from autorec.models import batches
    from autorec.train import ModelCustomerRanker

    return ModelCustomerRanker(model, batches.purchase_batch, device="cpu", batch_size=1024)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else 0.0


def origin_row(origin: int, data: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Every ranker's per-customer test precision on one origin, and the chosen weights."""
    start = time.perf_counter()
    val_net, test_net = (
        _ranker(m) if m is not None else None for m in _networks(Path(args.genome), data, args)
    )
    valid, test = data.validation.test, data.protocol.test
    row: dict[str, Any] = {"origin": origin, "n_customers": test.n_customers, "values": {}}
    if val_net is None or test_net is None:
        row["error"] = "the network did not train (status not ok)"
        return row
    row["values"]["net"] = per_customer_precision(test_net, test, args.k).tolist()
    row["chosen"], row["valid_grid"] = {}, {}
    for name in args.peers:
        v_peer, t_peer = _peers(name, data)
        row["values"][name] = per_customer_precision(t_peer, test, args.k).tolist()
        grid = {
            w: _mean(per_customer_precision(BlendRanker(val_net, v_peer, w), valid, args.k))
            for w in WEIGHTS
        }
        best = max(WEIGHTS, key=lambda w: (grid[w], -w))
        row["chosen"][name], row["valid_grid"][name] = best, grid
        for label, w in ((f"net+{name}", best), (f"net+{name} w=1", 1.0)):
            ranker = BlendRanker(test_net, t_peer, w)
            row["values"][label] = per_customer_precision(ranker, test, args.k).tolist()
    row["wall_s"] = round(time.perf_counter() - start, 1)
    return row


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every origin's row, computed or read back from ``--out``."""
    rows = _read(args.out)
    done = {r["origin"] for r in rows}
    for origin in range(args.origins):
        if origin in done:
            continue
        split = shifted_split(args.split, origin) if args.split else ""
        row = origin_row(origin, _load(args, split), args)
        row["split"] = split
        print(f"origin {origin}: {_brief(row)}", file=sys.stderr, flush=True)
        rows.append(row)
        if args.out is not None:
            with args.out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
    return rows


def _read(out: Path | None) -> list[dict[str, Any]]:
    if out is None or not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def _brief(row: dict[str, Any]) -> str:
    if "error" in row:
        return str(row["error"])
    means = {n: np.mean(v) for n, v in row["values"].items()}
    return ", ".join(f"{n} {m:.4f}" for n, m in means.items()) + f"; w {row['chosen']}"


def table(rows: list[dict[str, Any]]) -> list[str]:
    """Test precision@K per origin and ranker (mean ± standard error over its customers)."""
    good = [r for r in rows if "error" not in r]
    if not good:
        return ["no origin trained"]
    names = list(good[0]["values"])
    lines = ["| origin | customers | w chosen | " + " | ".join(names) + " |"]
    lines.append("|---" * (len(names) + 3) + "|")
    for r in sorted(good, key=lambda r: r["origin"]):
        cells = [
            f"{np.mean(r['values'][n]):.4f} ± {_se(np.asarray(r['values'][n])):.4f}" for n in names
        ]
        chosen = ", ".join(f"{p} {w:g}" for p, w in r["chosen"].items())
        lines.append(
            f"| {r['origin']} | {r['n_customers']} | {chosen} | " + " | ".join(cells) + " |"
        )
    means = [statistics.fmean(np.mean(r["values"][n]) for r in good) for n in names]
    lines.append("| mean over origins | | | " + " | ".join(f"{m:.4f}" for m in means) + " |")
    return lines


def paired(rows: list[dict[str, Any]], peers: list[str]) -> list[str]:
    """Each ranker against each peer, then against the best peer of each origin (chosen on
    test, which favours the peers), per customer pooled over the origins."""
    good = [r for r in rows if "error" not in r]
    if not good:
        return []
    best = [max(peers, key=lambda p: np.mean(r["values"][p])) for r in good]
    lines = []
    for name in (n for n in good[0]["values"] if n not in peers):
        lines += [_pooled(good, name, peer, [peer] * len(good)) for peer in peers]
        lines.append(_pooled(good, name, "best peer", best))
    return lines


def _pooled(good: list[dict[str, Any]], name: str, label: str, against: list[str]) -> str:
    """``name`` minus the peer ``against[i]`` on origin ``i``, pooled per customer."""
    diffs = [
        np.asarray(r["values"][name]) - np.asarray(r["values"][p])
        for r, p in zip(good, against, strict=True)
    ]
    wins = sum(int(d.mean() > 0) for d in diffs)
    pooled = np.concatenate(diffs)
    return (
        f"  {name} - {label}: {pooled.mean():+.4f} ± {_se(pooled):.4f} over "
        f"{pooled.size} customers; wins {wins}/{len(good)} origins"
    )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--genome", default=str(GENOME))
    p.add_argument("--data", default=str(ML100K))
    p.add_argument("--split", default=ML100K_SPLIT)
    p.add_argument("--origins", type=int, default=6)
    p.add_argument("--peers", default="itemknn,ease")
    add_training_args(p)
    args = p.parse_args(argv)
    if args.quick:
        args.data, args.split, args.origins = None, "2023-06-01,2023-09-01,2023-10-01,2023-11-01", 2
        args.genome = str(REPO / "examples" / "genomes" / "predictor.yaml")
        args.epochs, args.window, args.train_windows, args.peers = 1, 1, 1, "itemknn"
    args.peers = [x for x in args.peers.split(",") if x]
    if args.origins < 1:
        p.error(f"--origins must be at least 1, got {args.origins}")
    if not args.peers:
        p.error("--peers: name at least one baseline, e.g. itemknn,ease")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    start = time.perf_counter()
    rows = run(args)
    print(f"test precision@{args.k} by window (mean ± standard error over its customers)")
    print("\n".join(table(rows)))
    print("against each peer and the best peer of each window (paired per customer):")
    print("\n".join(paired(rows, args.peers)))
    print(f"wall {time.perf_counter() - start:.0f} s")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
