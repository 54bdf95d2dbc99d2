"""Helpers shared by the benchmarks in this folder: machine description, synthetic sparse
purchase data at catalogue scale, the benchmark predictor genome, medians.

Not part of the autorec package: the benchmark scripts import it as a sibling module.
"""

from __future__ import annotations

import os
import platform
import shlex
import statistics
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from autorec import TORCH_ENV
from autorec.data.types import CustomerExamples
from autorec.genome import Genome

__all__ = [
    "available_cpus",
    "bench_genome",
    "command_line",
    "load_note",
    "machine",
    "median",
    "print_machine",
    "sampled_output_available",
    "synthetic_examples",
]


def available_cpus() -> int:
    """Cores this process may run on (the affinity mask, not the host's core count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """CPU model, cores available / on the host, torch version and threads, load average."""
    try:
        load = os.getloadavg()
    except OSError:  # pragma: no cover
        load = (float("nan"),) * 3
    return {
        "cpu": _cpu_model(),
        "cores_available": available_cpus(),
        "cores_host": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "python": platform.python_version(),
        "loadavg_1_5_15": [round(x, 2) for x in load],
        "env": {k: os.environ.get(k, "unset") for k in TORCH_ENV},
        "thp": _thp_mode(),
    }


def _thp_mode() -> str:
    """The kernel's transparent-huge-page mode (the bracketed word), or ``unknown``."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled", encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return "unknown"
    start, end = text.find("["), text.find("]")
    return text[start + 1 : end] if 0 <= start < end else "unknown"


def load_note() -> str:
    """A warning when the 1-minute load is above the cores this process may use."""
    try:
        one = os.getloadavg()[0]
    except OSError:  # pragma: no cover
        return ""
    cores = available_cpus()
    if one > cores:
        return f"load {one:.1f} > {cores} cores: other processes share the CPUs, figures are noisy"
    return ""


def command_line(script: str, argv: Sequence[str] | None) -> str:
    """The command a benchmark was run with, as the results record it (``argv`` None: this
    process's own arguments)."""
    args = [script, *(sys.argv[1:] if argv is None else argv)]
    return "PYTHONPATH=. python " + " ".join(shlex.quote(a) for a in args)


def print_machine(title: str) -> None:
    info = machine()
    print(f"== {title}")
    print(
        f"machine: {info['cpu']}, {info['cores_available']} cores available "
        f"({info['cores_host']} on the host), torch {info['torch']} "
        f"({info['torch_threads']} intra-op / {info['torch_interop_threads']} inter-op threads), "
        f"python {info['python']}, load average {info['loadavg_1_5_15']}"
    )
    env = " ".join(f"{k}={v}" for k, v in info["env"].items())
    print(f"torch environment: {env} (kernel THP: {info['thp']})")


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def synthetic_examples(
    rng: np.random.Generator,
    *,
    n_customers: int,
    n_items: int,
    mean_inputs: float = 20.0,
    mean_targets: float = 3.0,
    days: float = 730.0,
) -> CustomerExamples:
    """Sparse purchase histories at catalogue scale: per customer ~Poisson(``mean_inputs``)
    input purchases (at least 1) and ~1 + Poisson(``mean_targets`` - 1) targets, items drawn
    from a Zipf-like popularity (exponent 1) over ``n_items`` products, ages uniform in
    ``[0, days)``. Vectorised; targets are deduplicated per customer."""
    n_in = np.maximum(rng.poisson(mean_inputs, n_customers), 1)
    n_out = 1 + rng.poisson(max(mean_targets - 1.0, 0.0), n_customers)
    weights = 1.0 / np.arange(1, n_items + 1, dtype=np.float64)
    cdf = np.cumsum(weights / weights.sum())
    perm = rng.permutation(n_items)  # popular items spread over the catalogue

    def draw(n: int) -> np.ndarray:
        u = rng.random(n)
        return perm[np.minimum(np.searchsorted(cdf, u), n_items - 1)].astype(np.int64)

    input_ptr = np.concatenate([[0], np.cumsum(n_in)]).astype(np.int64)
    input_item = draw(int(n_in.sum()))
    ages = rng.random(int(n_in.sum())) * days
    # dedupe targets per customer without a loop: unique on customer * n_items + item
    cust = np.repeat(np.arange(n_customers, dtype=np.int64), n_out)
    key = np.unique(cust * n_items + draw(int(n_out.sum())))
    t_cust = key // n_items
    target_item = (key - t_cust * n_items).astype(np.int64)
    target_ptr = np.searchsorted(t_cust, np.arange(n_customers + 1)).astype(np.int64)
    return CustomerExamples(
        customers=np.arange(n_customers, dtype=np.int64),
        input_ptr=input_ptr,
        input_item=input_item,
        input_age_days=ages.astype(np.float64),
        target_ptr=target_ptr,
        target_item=target_item,
    )


def sampled_output_available() -> bool:
    """True when the code generator renders the ``output: sampled`` gene for the predictor
    (the spec has an ``output`` field)."""
    import dataclasses

    import codegen

    return "output" in {f.name for f in dataclasses.fields(codegen.PredictorSpec)}


def bench_genome(
    *,
    units: int = 1000,
    layers: int = 1,
    batch_size: int = 256,
    output: str = "full",
    negatives: int = 1024,
) -> Genome:
    """The benchmark predictor: ``layers`` hidden layers of ``units`` (relu), no decay, no
    noise / dropout / regularisers (so both trainers compute exactly the same network), eq. 3
    cost with w1 = 1, w0 = 0.1, Adam at 1e-3."""
    genes: dict[str, Any] = {
        "family": "predictor",
        "layers": layers,
        "units_1": units,
        "units_2": units,
        "units_3": units,
        "decay_mode": "none",
        "activation": "relu",
        "noise": 0.0,
        "dropout": 0.0,
        "w1": 1.0,
        "w0": 0.1,
        "l2": 0.0,
        "beta": 0.0,
        "split_mode": "predictor",
        "optimizer": "adam",
        "learning_rate": 0.001,
        "momentum": 0.9,
        "batch_size": batch_size,
        "output": output,
    }
    if output == "sampled":
        genes["negatives"] = negatives
    return Genome.from_dict(genes)
