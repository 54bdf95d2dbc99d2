"""Step time of a sampled vs a full output layer, measured side by side in one run.

    PYTHONPATH=. python examples/benchmarks/bench_output.py [--items 100000] [--units 1000]
        [--batch 256] [--negatives 1024] [--steps 4] [--optimizers sgd,adam]

Builds one predictor genome (soft-split paper eq. 3: sparse item input, one hidden layer of
``--units``, an output layer over the catalogue) twice from the same seed: ``output: full``
(every item's logit and loss term) and ``output: sampled`` (the batch's positives plus
``--negatives`` shared, uniformly sampled items, importance-weighted; see
``codegen/_common.py`` ``sample_candidates``). Training steps (forward, loss, backward,
optimiser step) alternate between the two so machine load affects both alike; the median is
reported with the ratio sampled / full. The optimiser is the trainer's
(``autorec.train.optim.make_optimizer``): the item tables with row-sparse gradients (the
input table in both, the sampled output's rows) get the lazy row-sparse update, the full
output layer's dense gradient a dense update of all ``items x units`` weights.
"""

from __future__ import annotations

from autorec import set_torch_env

set_torch_env()  # before torch loads: the environment of autorec's CLI and Ray workers

import argparse
import statistics
import tempfile
import time

import torch

from autorec.genome import Genome
from autorec.models import Dims, build_model
from autorec.train.optim import make_optimizer, row_sparse_parameters


def _batch(n_items: int, batch: int, mean: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    lengths = torch.randint(1, 2 * mean, (batch,), generator=gen)
    x = torch.randint(0, n_items, (int(lengths.sum()),), generator=gen)
    y_len = torch.randint(1, 4, (batch,), generator=gen)
    y = torch.randint(0, n_items, (int(y_len.sum()),), generator=gen)
    return {
        "x_idx": x,
        "x_offsets": torch.cumsum(lengths, 0) - lengths,
        "x_age": torch.rand(x.shape, generator=gen) * 300,
        "y_idx": y,
        "y_offsets": torch.cumsum(y_len, 0) - y_len,
    }


def compare(args: argparse.Namespace, optimizer: str, cache: str) -> dict[str, float]:
    """Median step seconds of the full and the sampled network with ``optimizer``."""
    dims = Dims(n_pages=1, n_items=args.items)
    base = {"family": "predictor", "layers": 1, "units_1": args.units, "batch_size": args.batch,
            "optimizer": optimizer, "w1": 1.0, "w0": 1.0}  # fmt: skip
    genomes = {
        "full": Genome.from_dict({**base, "output": "full"}),
        "sampled": Genome.from_dict({**base, "output": "sampled", "negatives": args.negatives}),
    }
    models = {}
    for name, genome in genomes.items():
        torch.manual_seed(0)
        model = build_model(genome, dims, cache_dir=cache).train()
        opt = make_optimizer(
            model.parameters(),
            optimizer,
            learning_rate=1e-3 if optimizer == "adam" else 1e-2,
            momentum=0.9 if optimizer == "adam" else 0.0,  # Adam's β1; plain SGD
            sparse=row_sparse_parameters(model),
        )
        models[name] = (model, opt)
    gen = torch.Generator().manual_seed(0)
    batches = [_batch(args.items, args.batch, 16, gen) for _ in range(args.steps + 1)]
    times: dict[str, list[float]] = {name: [] for name in models}
    for i, batch in enumerate(batches):
        for name, (model, opt) in models.items():
            t0 = time.perf_counter()
            loss = model.loss(batch, model(batch))  # type: ignore[operator]
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i >= 1:  # one warm-up step
                times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(t) for name, t in times.items()}
    return {"full_s": med["full"], "sampled_s": med["sampled"],
            "ratio": med["sampled"] / med["full"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="catalogue size P")
    parser.add_argument("--units", type=int, default=1000, help="hidden units")
    parser.add_argument("--batch", type=int, default=256, help="batch size")
    parser.add_argument("--negatives", type=int, default=1024, help="sampled items per batch")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per model")
    parser.add_argument("--optimizers", default="sgd,adam", help="comma-separated: sgd, adam")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"predictor, P = {args.items} items x {args.units} units, batch {args.batch}, "
        f"{args.negatives} sampled negatives; median of {args.steps} steps on CPU; "
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
    )
    print(f"{'optimizer':<10} {'full ms':>10} {'sampled ms':>11} {'sampled/full':>13}")
    with tempfile.TemporaryDirectory() as cache:
        for optimizer in args.optimizers.split(","):
            r = compare(args, optimizer.strip(), cache)
            print(
                f"{optimizer:<10} {1e3 * r['full_s']:>10.1f} {1e3 * r['sampled_s']:>11.1f} "
                f"{r['ratio']:>13.3f}"
            )


if __name__ == "__main__":
    main()
