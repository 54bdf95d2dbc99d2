"""Training samples/s of autorec's predictor vs a naive dense PyTorch trainer.

    PYTHONPATH=. python examples/benchmarks/bench_predictor_throughput.py
        [--items 100000] [--units 1000] [--batch 256] [--rounds 3] [--steps 8]
        [--naive-steps 2] [--output auto|full|sampled] [--negatives 1024]

Both train the same network (soft-split paper eq. 3: P products in, one hidden layer of
``--units`` relu units, P logits out, weighted cross-entropy w1 = 1 / w0 = 0.1, Adam 1e-3) on
the same synthetic sparse purchase histories (~20 purchases per customer, Zipf popularity):

- autorec: the generated network (``autorec.models.build_model``: EmbeddingBag input over the
  purchases), batches from ``autorec.models.batches.purchase_batch`` and the trainer's own
  epoch loop (``autorec.train._loop.train_epochs``); the output is ``sampled`` when the code
  generator supports that gene (``--output auto``), else full.
- naive: ``nn.Linear(P, H) -> relu -> nn.Linear(H, P)`` fed a dense P-wide 0/1 input matrix
  filled by a Python loop over the batch's customers, full output, plain loop.

Rounds alternate the two trainers (so machine load hits both alike); the median samples/s of
each over the rounds is reported with the ratio (target >= 50x).
"""

from __future__ import annotations

from autorec import set_torch_env

set_torch_env()  # before torch loads: the environment of autorec's CLI and Ray workers

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import (
    available_cpus,
    bench_genome,
    load_note,
    median,
    print_machine,
    sampled_output_available,
    synthetic_examples,
)

from autorec.data.types import CustomerExamples, IntArray
from autorec.models import Dims, build_model
from autorec.models.batches import purchase_batch
from autorec.train import Hyper, train_epochs
from autorec.train.optim import set_threads

Batch = dict[str, torch.Tensor]


class _Task:
    """The trainer's purchase task, training side only (no validation)."""

    def __init__(self, examples: CustomerExamples) -> None:
        self.examples = examples

    @property
    def n_train(self) -> int:
        return self.examples.n_customers

    def train_batch(self, rows: IntArray) -> Batch:
        return purchase_batch(self.examples, rows)

    def validate(self, model: nn.Module) -> tuple[float, float]:
        return 0.0, 0.0


class NaiveNet(nn.Module):
    """The same predictor, written the obvious dense way."""

    def __init__(self, n_items: int, units: int) -> None:
        super().__init__()
        self.inp = nn.Linear(n_items, units)
        self.out = nn.Linear(units, n_items)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.out(torch.relu(self.inp(x)))
        return out


def naive_step(
    model: NaiveNet,
    opt: torch.optim.Optimizer,
    ex: CustomerExamples,
    rows: np.ndarray,
    n_items: int,
) -> float:
    """One step of the naive trainer: dense input / target matrices filled per customer."""
    x = torch.zeros(len(rows), n_items)
    y = torch.zeros(len(rows), n_items)
    for i, c in enumerate(rows):  # the plain per-sample loop of a naive trainer
        x[i, torch.from_numpy(ex.input_item[ex.input_ptr[c] : ex.input_ptr[c + 1]])] = 1.0
        y[i, torch.from_numpy(ex.target_item[ex.target_ptr[c] : ex.target_ptr[c + 1]])] = 1.0
    logits = model(x)
    loss = -(1.0 * y * F.logsigmoid(logits) + 0.1 * (1 - y) * F.logsigmoid(-logits))
    loss = loss.sum(-1).mean()
    opt.zero_grad()
    loss.backward()  # type: ignore[no-untyped-call]
    opt.step()
    return float(loss.detach())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8, help="autorec batches per round")
    ap.add_argument("--naive-steps", type=int, default=2, help="naive batches per round")
    ap.add_argument("--output", choices=("auto", "full", "sampled"), default="auto")
    ap.add_argument("--negatives", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    set_threads(available_cpus())
    print_machine("bench_predictor_throughput: autorec predictor vs naive dense trainer")
    output = args.output
    if output == "auto":
        output = "sampled" if sampled_output_available() else "full"
    if output == "sampled" and not sampled_output_available():
        sys.exit("the code generator does not render 'output: sampled' yet; use --output full")
    p, h, b = args.items, args.units, args.batch
    rng = np.random.default_rng(args.seed)
    ex = synthetic_examples(rng, n_customers=b * args.steps, n_items=p)
    n_in = np.diff(ex.input_ptr)
    n_out = np.diff(ex.target_ptr)
    print(
        f"config: P = {p} products, hidden {h}, batch {b}, autorec output '{output}'"
        + (f" ({args.negatives} negatives)" if output == "sampled" else "")
        + f"; data: {ex.n_customers} customers, {n_in.mean():.1f} purchases and "
        f"{n_out.mean():.1f} targets per customer (input density {n_in.mean() / p:.2e})"
    )

    genome = bench_genome(units=h, batch_size=b, output=output, negatives=args.negatives)
    torch.manual_seed(args.seed)
    with tempfile.TemporaryDirectory() as cache:
        model = build_model(genome, Dims(n_pages=0, n_items=p), cache_dir=cache)
    hyper = Hyper.from_genes(genome.genes, l2_in_loss=True)
    gen = torch.Generator().manual_seed(args.seed)
    epoch = train_epochs(model, _Task(ex), hyper, gen)

    torch.manual_seed(args.seed)
    naive = NaiveNet(p, h)
    naive_opt = torch.optim.Adam(naive.parameters(), lr=1e-3)
    order = np.random.default_rng(args.seed + 1).permutation(ex.n_customers)

    # warm-up (allocations, optimiser state)
    t0 = time.perf_counter()
    epoch(0)
    warm_auto = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive_step(naive, naive_opt, ex, order[:b], p)
    warm_naive = time.perf_counter() - t0
    print(f"warm-up: autorec epoch {warm_auto:.2f} s, naive step {warm_naive:.2f} s")

    auto_rates: list[float] = []
    naive_rates: list[float] = []
    for r in range(args.rounds):
        t0 = time.perf_counter()
        epoch(r + 1)
        dt_auto = time.perf_counter() - t0
        auto_rates.append(ex.n_customers / dt_auto)
        t0 = time.perf_counter()
        for s in range(args.naive_steps):
            start = ((r * args.naive_steps + s) * b) % ex.n_customers
            naive_step(naive, naive_opt, ex, order[start : start + b], p)
        dt_naive = time.perf_counter() - t0
        naive_rates.append(args.naive_steps * b / dt_naive)
        print(
            f"round {r + 1}: autorec {auto_rates[-1]:9.1f} samples/s "
            f"({dt_auto / args.steps * 1e3:7.1f} ms/batch), naive {naive_rates[-1]:7.1f} "
            f"samples/s ({dt_naive / args.naive_steps * 1e3:7.1f} ms/batch)"
        )
    a, n = median(auto_rates), median(naive_rates)
    ratio = a / n if n > 0 else math.inf
    print(f"autorec predictor: {a:.1f} samples/s (median of {args.rounds} rounds)")
    print(f"naive dense trainer: {n:.1f} samples/s")
    print(
        f"RATIO autorec / naive = {ratio:.1f}x (target >= 50x): "
        f"{'MET' if ratio >= 50 else 'MISSED'}"
    )
    note = load_note()
    if note:
        print(f"note: {note}")


if __name__ == "__main__":
    main()
