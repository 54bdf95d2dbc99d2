"""One training epoch of a DRNN vs a plain torch.nn.GRU of the same size, side by side.

    PYTHONPATH=. python examples/benchmarks/bench_drnn_epoch.py \\
        [--data ../shared/data/yoochoose-sample] [--split 2014-06-01,2014-06-16] \\
        [--genomes largest,default] [--threads 1] [--max-batches N] [--profile]
        [--full-states default]

For each genome of ``search_spaces/drnn.yaml`` -- ``default`` (every gene at its default) and
``largest`` (every structure gene at its upper bound: width 8, 4 layers of 512 units, height 3,
the FNN branch with 2 x 256 units, the view path) -- it builds the generated DRNN
(``autorec.models.build_model``, exactly what a trial trains) and a plain GRU model: the same
input table (``rt.item_input`` over the pages), ``torch.nn.GRU`` with the DRNN's hidden size and
number of layers over the same window of ``width`` pages, the same output layer
(``rt.item_output``) scored over the whole catalogue at the last step, and the same softmax
loss against the session's bought items. Both train on the same samples (the training split's
prefix samples, one shuffled epoch) with the same batches, batch size and optimiser (the
trainer's: ``autorec.train.optim.make_optimizer``). Training steps alternate between the
models batch by batch, so machine load affects both alike; the epoch time of each is the sum of
its steps (batch building excluded: the batches are built once and shared). A third column,
``every state full`` (for the genomes named by ``--full-states``), trains the DRNN with every
state scored over the whole catalogue (what the trainer did before the earlier states were
sampled) to show where a step's time goes.

Prints one row per genome with the seconds per epoch and the ratios DRNN / GRU (target
<= 1.5); ``--profile`` adds torch.profiler's top operators of a few DRNN steps.
"""

from __future__ import annotations

from autorec import set_torch_env

set_torch_env()  # before torch loads: the environment of autorec's CLI and Ray workers

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from autorec.data import load_session_data
from autorec.genome import Genome, SearchSpace
from autorec.models import Dims, build_model, load_module, spec_for, write_source
from autorec.train import batching
from autorec.train.optim import make_optimizer, row_sparse_parameters
from codegen import runtime as rt

ROOT = Path(__file__).resolve().parents[2]


class PlainGru(nn.Module):
    """Pages -> input table -> ``torch.nn.GRU`` -> output layer over the catalogue."""

    def __init__(self, n_pages: int, n_items: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.table = rt.item_input(n_pages + 1, hidden)
        self.gru = nn.GRU(hidden, hidden, num_layers=layers, batch_first=True)
        self.out = rt.item_output(hidden, n_items)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        pages = batch["pages"]
        flat = pages.reshape(-1)
        x = self.table(flat, torch.arange(len(flat))).view(*pages.shape, -1)
        h, _ = self.gru(x)
        return self.out(h[:, -1])  # type: ignore[no-any-return]

    def loss(self, batch: dict[str, torch.Tensor], logits: torch.Tensor) -> torch.Tensor:
        return rt.softmax_ce(logits, batch["target_idx"], batch["target_offsets"])


def genomes(names: list[str]) -> dict[str, Genome]:
    space = SearchSpace.from_yaml(ROOT / "search_spaces" / "drnn.yaml")
    default = space.default_genome()
    out: dict[str, Genome] = {}
    for name in names:
        if name == "default":
            out[name] = default
        elif name == "largest":
            genes = dict(default.genes)
            for gene in ("width", "length", "height", "fnn_layers", "fnn_units"):
                genes[gene] = int(space.genes[gene].high)  # type: ignore[arg-type]
            for i in range(1, 5):
                genes[f"units_{i}"] = int(space.genes[f"units_{i}"].high)  # type: ignore[arg-type]
            genes.update(fnn=True, view_path=True)
            out[name] = Genome.from_dict({"family": "drnn", **genes})
        else:
            raise SystemExit(f"unknown genome {name!r}: use largest and/or default")
    return out


def every_state_full(genome: Genome, dims: Dims, cache: str) -> nn.Module:
    """The genome's DRNN with every state scored over the whole catalogue."""
    spec = spec_for(genome, dims)
    spec = dataclasses.replace(spec, state_negatives=None)  # type: ignore[type-var]
    module = load_module(write_source(spec, Path(cache) / "full_states.py"))
    model: nn.Module = module.Net()
    return model


def _step(model: nn.Module, opt: Any, batch: dict[str, torch.Tensor]) -> float:
    start = time.perf_counter()
    loss = model.loss(batch, model(batch))  # type: ignore[operator]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return time.perf_counter() - start


def bench(name: str, genome: Genome, data: Any, args: argparse.Namespace, cache: str) -> None:
    log, samples = data.split.train, data.train_samples
    dims = Dims(**batching.session_dims(log))
    g = genome.genes
    hidden, layers = int(g["units_1"]), int(g["length"])
    torch.manual_seed(0)
    models: dict[str, nn.Module] = {"drnn": build_model(genome, dims, cache_dir=cache)}
    torch.manual_seed(0)
    models["gru"] = PlainGru(dims.n_pages, dims.n_items, hidden, layers)
    if int(g["width"]) > 1 and name in args.full_states.split(","):
        torch.manual_seed(0)
        models["every state full"] = every_state_full(genome, dims, cache)
    opts = {
        key: make_optimizer(
            m.parameters(),
            str(g["optimizer"]),
            learning_rate=float(g["learning_rate"]),
            momentum=float(g["momentum"]),
            sparse=row_sparse_parameters(m),
        )
        for key, m in models.items()
    }
    hist = batching.histories(log) if bool(g["fnn"]) else None
    bs = int(g["batch_size"])
    order = np.random.default_rng(0).permutation(len(samples.session))
    n_batches = -(-len(order) // bs)
    if args.max_batches:
        n_batches = min(n_batches, args.max_batches)
    batches = [
        batching.session_batch(genome, log, samples, order[b * bs : (b + 1) * bs], hist)
        for b in range(n_batches)
    ]
    seconds = dict.fromkeys(models, 0.0)
    for m in models.values():
        m.train()
    for batch in batches:  # alternate: load affects every model alike
        for key, m in models.items():
            seconds[key] += _step(m, opts[key], batch)
    ratio = seconds["drnn"] / seconds["gru"]
    full = seconds.get("every state full")
    shape = (
        f"width {g['width']}, {layers} x {hidden} units, height {g['height']}, "
        f"fnn {g['fnn']}, view path {g['view_path']}"
    )
    print(f"{name}: {shape}; {n_batches} batches of {bs} ({len(order)} samples)")
    line = f"  epoch s: DRNN {seconds['drnn']:.1f}  GRU {seconds['gru']:.1f}  ratio {ratio:.2f}"
    if full is not None:
        line += f"  | every state full {full:.1f} ({full / seconds['gru']:.2f} x GRU)"
    print(line, flush=True)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        model, opt = models["drnn"], opts["drnn"]
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for batch in batches[:3]:
                _step(model, opt, batch)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/yoochoose-sample")
    parser.add_argument("--split", default="2014-06-01,2014-06-16")
    parser.add_argument("--genomes", default="largest,default")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-batches", type=int, default=0, help="0: the whole epoch")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--full-states", default="default", help="genomes to add the column for")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_session_data(args.data, args.split)
    print(f"torch {torch.__version__}, {args.threads} thread(s); data {args.data}")
    with tempfile.TemporaryDirectory() as cache:
        for name, genome in genomes(args.genomes.split(",")).items():
            bench(name, genome, data, args, cache)


if __name__ == "__main__":
    main()
