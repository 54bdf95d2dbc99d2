"""The GPU path, checked on a machine with one or more CUDA GPUs, in about 5 minutes.

    python examples/gpu_check.py            # on the GPU machine
    python examples/gpu_check.py --dry-run  # anywhere: the same logic on CPU devices

Prints one line per check, ``PASS``, ``FAIL`` or ``SKIP`` (a check that needs 2 GPUs on a
1-GPU machine), and exits 1 when any check failed:

1. ``train 1 GPU``: a predictor over a catalogue of P = 10^5 items trains on ``cuda:0``
   (training steps on fixed random batches: forward, loss, backward, Adam);
2. ``sharded 2 GPUs``: the same network, item layers sharded over ``cuda:0,cuda:1``, from
   the same initial weights on the same batches: every step's loss agrees with (1);
3. ``samples/s``: training samples per second of the trainer's step on the CPU and on the
   GPU, side by side (the same network and batches);
4. ``search 0.5 GPU``: a 4-trial search with ``gpus_per_trial=0.5`` (``--gpus-per-trial
   0.5``) on the built-in synthetic purchase data; two trials run at once on one GPU id;
5. ``export, load on CPU``: the search's best genome exported as a bundle (retrained on the
   GPU), loaded by the bundle's own ``load.py`` in a process that sees no GPU, and scored.

``--dry-run`` maps ``cuda:0`` / ``cuda:1`` to ``cpu``, declares one GPU to Ray (so Ray
hands out GPU ids to the 0.5-GPU trials) and trains those trials on the CPU: it runs every
line of the checks and prints the same lines, so the script cannot rot unnoticed. See
docs/gpu.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from autorec import set_torch_env

set_torch_env()  # before torch loads: the environment of autorec's CLI and Ray workers

import argparse
import functools
import json
import math
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
RESULTS: list[bool] = []
_CLOCK = [time.monotonic()]


def report(status: str, check: str, detail: str) -> None:
    """One line per check; ``status`` is PASS, FAIL or SKIP; the seconds since the last."""
    if status != "SKIP":
        RESULTS.append(status == "PASS")
    now = time.monotonic()
    print(f"{status} {check}: {detail} [{now - _CLOCK[0]:.0f} s]", flush=True)
    _CLOCK[0] = now


def guarded(check: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A check that raises prints FAIL with the error instead of stopping the script."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(*args: Any, **kw: Any) -> Any:
            try:
                return fn(*args, **kw)
            except Exception as err:
                report("FAIL", check, f"{type(err).__name__}: {err}")
                return None

        return run

    return wrap


@dataclass(frozen=True)
class Setup:
    dry_run: bool
    gpu: str  # the first GPU's device ("cpu" in a dry run)
    pair: tuple[str, str] | None  # two GPUs for sharding (None: fewer than 2)
    items: int
    units: int
    batch: int
    steps: int
    epochs: int
    out: Path


# --------------------------------------------------------------------------------------
# 1-3: training steps at P items
# --------------------------------------------------------------------------------------
def _genome(setup: Setup) -> Any:
    from autorec.genome import Genome

    return Genome.from_dict(
        {"family": "predictor", "layers": 1, "units_1": setup.units, "batch_size": setup.batch,
         "optimizer": "adam", "learning_rate": 1e-3, "w1": 1.0, "w0": 1.0}
    )  # fmt: skip


def _batches(setup: Setup, n: int) -> list[dict[str, torch.Tensor]]:
    """Fixed random purchase-history batches (about 16 items in, 1-3 items out each)."""
    gen = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        lengths = torch.randint(1, 32, (setup.batch,), generator=gen)
        x = torch.randint(0, setup.items, (int(lengths.sum()),), generator=gen)
        y_len = torch.randint(1, 4, (setup.batch,), generator=gen)
        y = torch.randint(0, setup.items, (int(y_len.sum()),), generator=gen)
        out.append({
            "x_idx": x,
            "x_offsets": torch.cumsum(lengths, 0) - lengths,
            "x_age": torch.rand(x.shape, generator=gen) * 300,
            "y_idx": y,
            "y_offsets": torch.cumsum(y_len, 0) - y_len,
        })  # fmt: skip
    return out


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def train_steps(
    setup: Setup, devices: tuple[str, ...], batches: list[dict[str, torch.Tensor]], cache: str
) -> tuple[list[float], float, list[str]]:
    """The trainer's step (model.loss, backward, the trainer's optimiser) over ``batches``
    on ``devices`` (several: item layers sharded); returns every step's loss, the seconds
    of all steps after the first (warm-up) and the devices the parameters ended up on."""
    from autorec.models import Dims, build_model
    from autorec.train.optim import make_optimizer, row_sparse_parameters

    torch.manual_seed(0)  # the same initial weights for every device layout
    model = build_model(
        _genome(setup), Dims(n_pages=1, n_items=setup.items), devices=devices, cache_dir=cache
    ).to(devices[0])
    opt = make_optimizer(
        model.parameters(), "adam", learning_rate=1e-3, sparse=row_sparse_parameters(model)
    )
    losses, started = [], 0.0
    for i, cpu_batch in enumerate(batches):
        batch = {k: v.to(devices[0]) for k, v in cpu_batch.items()}
        if i == 1:
            _sync(devices[0])
            started = time.perf_counter()
        loss = model.loss(batch, model(batch))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    _sync(devices[0])
    placed = sorted({str(p.device) for p in model.parameters()})
    return losses, time.perf_counter() - started, placed


def check_training(setup: Setup) -> None:
    batches = _batches(setup, setup.steps + 1)
    with tempfile.TemporaryDirectory() as cache:
        one = guarded("train 1 GPU")(train_steps)(setup, (setup.gpu,), batches, cache)
        if one is not None:
            losses = one[0]
            ok = all(math.isfinite(x) for x in losses) and losses[-1] < losses[0]
            report("PASS" if ok else "FAIL", "train 1 GPU",
                   f"P={setup.items} items on {setup.gpu}, {len(losses)} steps, loss "
                   f"{losses[0]:.4f} -> {losses[-1]:.4f}")  # fmt: skip
        if setup.pair is None:
            report("SKIP", "sharded 2 GPUs", f"{torch.cuda.device_count()} GPU: needs 2")
        elif one is not None:
            two = guarded("sharded 2 GPUs")(train_steps)(setup, setup.pair, batches, cache)
            if two is not None:
                pairs = zip(one[0], two[0], strict=True)
                rel = max(abs(a - b) / max(abs(a), 1e-12) for a, b in pairs)
                spread = len(two[2]) == len(set(setup.pair))  # the shards on both GPUs
                report("PASS" if rel < 1e-3 and spread else "FAIL", "sharded 2 GPUs",
                       f"item layers over {','.join(setup.pair)} (parameters on "
                       f"{','.join(two[2])}): largest relative loss difference over "
                       f"{len(two[0])} steps {rel:.1e} (limit 1e-3)")  # fmt: skip
        guarded("samples/s")(_samples_per_s)(setup, batches, cache, one)


def _samples_per_s(
    setup: Setup,
    batches: list[dict[str, torch.Tensor]],
    cache: str,
    gpu_run: tuple[list[float], float, list[str]] | None,
) -> None:
    if gpu_run is None:
        raise RuntimeError("the 1-GPU training failed")
    cpu_s = train_steps(setup, ("cpu",), batches, cache)[1]
    n = setup.batch * (len(batches) - 1)
    cpu, gpu = n / cpu_s, n / gpu_run[1]
    report("PASS" if cpu > 0 and gpu > 0 else "FAIL", "samples/s",
           f"cpu {cpu:,.0f} ({torch.get_num_threads()} threads) | {setup.gpu} {gpu:,.0f} "
           f"| ratio {gpu / cpu:.1f}x (P={setup.items}, batch {setup.batch})")  # fmt: skip


# --------------------------------------------------------------------------------------
# 4: a search with half a GPU per trial
# --------------------------------------------------------------------------------------
def trial_trainer(
    genome: Any,
    data: Any,
    options: Any,
    on_epoch: Any = None,
    *,
    log: str = "",
    together: int = 2,
    dry_run: bool = False,
) -> Any:
    """The real trainer, started only once ``together`` trials run (so two are on their
    GPUs at the same time), logging when and on which GPU ids each trained. A dry run trains
    on the CPU whatever Ray handed out (its GPUs are declared, not real)."""
    import ray

    from autorec.train import train_genome

    def line(**event: Any) -> None:
        with open(log, "a") as fh:
            fh.write(json.dumps(event) + "\n")

    gpu_ids = [str(g) for g in ray.get_gpu_ids()]
    line(event="start", key=genome.key, gpu_ids=gpu_ids, t=time.time(),
         devices=list(options.devices))  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait for the other trial, polling the log
        with open(log) as fh:
            if sum('"start"' in x for x in fh) >= together:
                break
        time.sleep(0.05)
    if dry_run:
        options = replace(options, devices=("cpu",))
    result = train_genome(genome, data, options, on_epoch=on_epoch)
    line(event="end", key=genome.key, gpu_ids=gpu_ids, t=time.time(), status=result.status)
    return result


def check_search(setup: Setup) -> Path | None:
    import ray

    from autorec import torch_env
    from autorec.tune import SearchOptions, run_search

    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    )  # Ray's workers import autorec from this checkout
    ray.init(
        num_cpus=max(2, min(8, os.cpu_count() or 2)),
        num_gpus=1 if setup.dry_run else None,  # a dry run declares one (not real) GPU
        include_dashboard=False,
        logging_level="ERROR",
        log_to_driver=False,
        runtime_env={"env_vars": torch_env()},
    )
    log = setup.out / "trials.jsonl"
    run_dir = setup.out / "search"
    try:
        summary = run_search(
            SearchOptions(space="predictor", population=4, generations=0, epochs=setup.epochs,
                          gpus_per_trial=0.5, cpus_per_trial=1, seed=0, run_dir=str(run_dir)),
            train_fn=functools.partial(trial_trainer, log=str(log), dry_run=setup.dry_run),
            quiet=True,
        )  # fmt: skip
    finally:
        ray.shutdown()
    events = [json.loads(x) for x in log.read_text().splitlines()]
    starts = {e["key"]: e for e in events if e["event"] == "start"}
    ends = {e["key"]: e for e in events if e["event"] == "end"}
    shared = sorted(
        {",".join(starts[a]["gpu_ids"])
         for a in starts for b in starts
         if a < b and b in ends and a in ends and starts[a]["gpu_ids"] == starts[b]["gpu_ids"]
         and starts[a]["t"] < ends[b]["t"] and starts[b]["t"] < ends[a]["t"]}
    )  # fmt: skip
    statuses = sorted(e["status"] for e in ends.values())
    ok = (
        summary.finished
        and summary.trials == 4
        and all(s != "error" for s in statuses)
        and bool(shared)
        and all(e["gpu_ids"] for e in starts.values())
    )
    devices = sorted({",".join(e["devices"]) for e in starts.values()})
    report("PASS" if ok else "FAIL", "search 0.5 GPU",
           f"{summary.trials} trials, statuses {statuses}, GPU ids "
           f"{[','.join(e['gpu_ids']) for e in starts.values()]}, trial devices {devices}, "
           f"two at once on GPU {shared or 'none'}")  # fmt: skip
    return run_dir if summary.best_key else None


# --------------------------------------------------------------------------------------
# 5: export, load on CPU
# --------------------------------------------------------------------------------------
LOAD_ON_CPU = """
import importlib.util, json, sys, torch
spec = importlib.util.spec_from_file_location("bundle_load", sys.argv[1] + "/load.py")
load = importlib.util.module_from_spec(spec); spec.loader.exec_module(load)
bundle = load.load(sys.argv[1])
items = list(bundle.item_ids[:2])
scores = bundle.score_customer(items)
print(json.dumps({"cuda": torch.cuda.is_available(), "items": len(bundle.item_ids),
                  "top": bundle.top_k(scores, 5, exclude=items)}, default=str))
"""


def check_export(setup: Setup, run_dir: Path) -> None:
    from autorec.export import export_bundle

    bundle = setup.out / "bundle"
    export_bundle(run_dir, bundle, devices=(setup.gpu,))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # this process sees no GPU
    res = subprocess.run(
        [sys.executable, "-c", LOAD_ON_CPU, str(bundle)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    if res.returncode != 0:
        raise RuntimeError(res.stderr.strip().splitlines()[-1] if res.stderr else "load failed")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    ok = out["cuda"] is False and len(out["top"]) == 5
    report("PASS" if ok else "FAIL", "export, load on CPU",
           f"bundle exported on {setup.gpu}, loaded with load.py without a GPU "
           f"(cuda visible: {out['cuda']}), {out['items']} items, top-5 {out['top']}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="run the checks on CPU devices")
    parser.add_argument("--items", type=int, default=100_000, help="P: catalogue size")
    parser.add_argument("--units", type=int, default=256, help="hidden units")
    parser.add_argument("--batch", type=int, default=256, help="batch size")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each search trial")
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: temp)")
    args = parser.parse_args(argv)
    n_gpu = torch.cuda.device_count()
    if not args.dry_run and n_gpu == 0:
        print("FAIL cuda: no CUDA GPU visible (use --dry-run to check the logic on CPU)")
        return 1
    out = args.out or Path(tempfile.mkdtemp(prefix="autorec-gpu-check-"))
    out.mkdir(parents=True, exist_ok=True)
    if args.dry_run:
        gpu, pair = "cpu", ("cpu", "cpu")
    else:
        gpu, pair = "cuda:0", (("cuda:0", "cuda:1") if n_gpu >= 2 else None)
    setup = Setup(args.dry_run, gpu, pair, args.items, args.units, args.batch, args.steps,
                  args.epochs, out)  # fmt: skip
    names = [torch.cuda.get_device_name(i) for i in range(n_gpu)]
    print(f"gpu_check: {'dry run on CPU' if args.dry_run else f'{n_gpu} GPU(s) {names}'}; "
          f"torch {torch.__version__}; work folder {out}", flush=True)  # fmt: skip
    started = _CLOCK[0] = time.monotonic()
    check_training(setup)
    run_dir = guarded("search 0.5 GPU")(check_search)(setup)
    if run_dir is None:
        report("FAIL", "export, load on CPU", "no search result to export")
    else:
        guarded("export, load on CPU")(check_export)(setup, run_dir)
    passed = all(RESULTS)
    print(f"{'PASS' if passed else 'FAIL'} all: {sum(RESULTS)}/{len(RESULTS)} checks passed "
          f"in {time.monotonic() - started:.0f} s", flush=True)  # fmt: skip
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
