"""Step time of a sharded vs an unsharded network, measured side by side in one run.

    PYTHONPATH=. python examples/benchmarks/bench_sharding.py [--items 50000] [--steps 8]

Builds one predictor genome (soft-split paper eq. 3: item input table, hidden layer, output
layer over the catalogue) and times full training steps (forward, loss, backward, Adam) of
the same network unsharded on one device and with its item layers sharded over k devices:
on CPU with ``cpu,cpu`` (k = 2), and on CUDA when there is a GPU (``cuda:0,cuda:1`` with two
or more GPUs, else ``cuda:0,cuda:0`` as a functional check). Steps alternate between the two
models so that machine load affects both alike; the median step time is reported.
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


def _batch(
    n_items: int, batch: int, mean: int, device: str, gen: torch.Generator
) -> dict[str, torch.Tensor]:
    lengths = torch.randint(1, 2 * mean, (batch,), generator=gen)
    x = torch.randint(0, n_items, (int(lengths.sum()),), generator=gen)
    y_len = torch.randint(1, 4, (batch,), generator=gen)
    y = torch.randint(0, n_items, (int(y_len.sum()),), generator=gen)
    out = {
        "x_idx": x,
        "x_offsets": torch.cumsum(lengths, 0) - lengths,
        "x_age": torch.rand(x.shape, generator=gen) * 300,
        "y_idx": y,
        "y_offsets": torch.cumsum(y_len, 0) - y_len,
    }
    return {k: v.to(device) for k, v in out.items()}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def compare(
    genome: Genome, dims: Dims, devices: tuple[str, ...], steps: int, cache: str
) -> dict[str, float]:
    """Median step seconds of two builds of one network: ``unsharded`` (item layers on
    ``devices[0]``) and ``sharded`` (item layers over ``devices``). Both use the runtime's one
    bag loss (codegen/runtime.py: a tensor is one shard), so the difference is the routing."""
    models = {}
    for name, devs in (("unsharded", devices[:1]), ("sharded", devices)):
        torch.manual_seed(0)
        model = build_model(genome, dims, devices=devs, cache_dir=cache).to(devs[0])
        opt = make_optimizer(  # the trainer's: the lazy row-sparse update for the item tables
            model.parameters(), "adam", learning_rate=1e-3, sparse=row_sparse_parameters(model)
        )
        models[name] = (model, opt)
    gen = torch.Generator().manual_seed(0)
    batches = [
        _batch(dims.n_items, int(genome.genes["batch_size"]), 16, devices[0], gen)
        for _ in range(steps + 2)
    ]
    times: dict[str, list[float]] = {name: [] for name in models}
    losses: dict[str, float] = {}
    for i, batch in enumerate(batches):
        for name, (model, opt) in models.items():  # alternate: load hits both alike
            _sync(devices[0])
            t0 = time.perf_counter()
            loss = model.loss(batch, model(batch))  # type: ignore[operator]
            opt.zero_grad()
            loss.backward()
            opt.step()
            _sync(devices[0])
            if i >= 2:  # two warm-up steps
                times[name].append(time.perf_counter() - t0)
            losses[name] = loss.item()
    med = {name: statistics.median(t) for name, t in times.items()}
    return {
        "unsharded_s": med["unsharded"],
        "sharded_s": med["sharded"],
        "ratio": med["sharded"] / med["unsharded"],
        "loss_diff": abs(losses["sharded"] - losses["unsharded"]) / abs(losses["unsharded"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=50_000, help="catalogue size (items)")
    parser.add_argument("--units", type=int, default=256, help="hidden units")
    parser.add_argument("--batch", type=int, default=256, help="batch size")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per model")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    genome = Genome.from_dict(
        {"family": "predictor", "layers": 1, "units_1": args.units, "batch_size": args.batch,
         "optimizer": "adam", "w1": 1.0, "w0": 1.0}
    )  # fmt: skip
    dims = Dims(n_pages=1, n_items=args.items)
    runs = [("cpu", ("cpu", "cpu"))]
    n_gpu = torch.cuda.device_count()
    if n_gpu >= 2:
        runs.append(("cuda", ("cuda:0", "cuda:1")))
    elif n_gpu == 1:
        runs.append(("cuda (1 GPU split in two: functional check)", ("cuda:0", "cuda:0")))
    threads = torch.get_num_threads()
    print(
        f"predictor, {args.items} items x {args.units} units, batch {args.batch}, Adam; "
        f"median of {args.steps} steps; torch {torch.__version__}, {threads} CPU threads"
    )
    print("ratio = sharded / unsharded (same network, same loss); |dloss| relative")
    head = ["device", "k", "unsharded ms", "sharded ms", "ratio", "dloss"]
    print("{:<44} {:>2} {:>12} {:>10} {:>6} {:>8}".format(*head))
    with tempfile.TemporaryDirectory() as cache:
        for label, devices in runs:
            r = compare(genome, dims, devices, args.steps, cache)
            print(
                f"{label:<44} {len(devices):>2} {1e3 * r['unsharded_s']:>12.1f} "
                f"{1e3 * r['sharded_s']:>10.1f} {r['ratio']:>6.2f} {r['loss_diff']:>8.1e}"
            )


if __name__ == "__main__":
    main()
