"""The memory planner: pinned arithmetic, the plan rules, and the estimate against memory
measured on CPU for networks the code generator builds."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from autorec.errors import AutorecError
from autorec.genome import Genome
from autorec.models import Dims
from autorec.sharding import (
    GIB,
    Cluster,
    estimate_memory,
    make_resources_fn,
    plan_resources,
    resources_for,
)

BIG = Dims(n_pages=10_000, n_items=1_000_000)
GPU24 = Cluster(cpus=16, gpus=8, gpu_memory=24 * GIB)


def _predictor(**genes: object) -> Genome:
    return Genome.from_dict({"family": "predictor", **genes})


def _drnn(**genes: object) -> Genome:
    return Genome.from_dict({"family": "drnn", **genes})


def test_million_items_thousand_units_needs_more_than_one_24gib_gpu() -> None:
    g = _predictor(layers=1, units_1=1000, batch_size=128, optimizer="adam")
    est = estimate_memory(g, BIG)
    # input table N x 1000 + bias 1000, output layer 1000 x N + N (soft-split eq. 3)
    assert est.n_params == 1_000_000 * 1000 + 1000 + 1000 * 1_000_000 + 1_000_000
    assert est.params == 4 * est.n_params == est.grads
    assert est.optimizer == 2 * est.params  # Adam: two moments
    plane = 4 * 128 * 1_000_000  # one [B, N] float32 tensor
    # the runtime's eq. 3 keeps one [B, N] plane (the softplus input of the w0 side)
    assert est.activations_saved >= plane
    assert est.total > 24 * GIB
    plan = plan_resources(g, BIG, GPU24)
    assert plan.kind == "multi_gpu"
    assert plan.k == 2 and plan.gpus == 2.0
    assert plan.devices == ("cuda:0", "cuda:1")
    cap = int(0.8 * 24 * GIB)
    assert plan.k == max(2, math.ceil(est.item_bytes / (cap - est.other_bytes)))
    assert plan.per_device_bytes <= cap
    assert plan.resources() == {"cpu": 1.0, "gpu": 2.0}


def test_drnn_million_items_thousand_units_is_sharded() -> None:
    # the earlier states are trained over sampled items at this catalogue size, so the item
    # parameters (page table, output layer) and their Adam state decide: 2000 top units
    g = _drnn(width=4, length=2, units_1=1000, units_2=2000, batch_size=128, fnn=False)
    est = estimate_memory(g, BIG)
    n_item = (10_000 + 1) * 1000 + 2000 * 1_000_000 + 1_000_000  # page table, output layer
    assert est.n_item_params == n_item
    plan = plan_resources(g, BIG, GPU24)
    assert plan.gpus > 1 and plan.k == len(plan.devices) > 1


def test_tiny_genome_gets_half_a_cpu() -> None:
    g = _predictor(layers=1, units_1=8, batch_size=16)
    plan = plan_resources(g, Dims(n_pages=1, n_items=100), GPU24)
    assert plan.kind == "cpu" and plan.devices == ("cpu",)
    assert plan.cpus == 0.5 and plan.gpus == 0.0
    assert plan.resources() == {"cpu": 0.5}


def test_small_trials_share_a_gpu_in_eighths() -> None:
    g = _predictor(layers=1, units_1=256, batch_size=128)
    dims = Dims(n_pages=1, n_items=20_000)
    est = estimate_memory(g, dims)
    plan = plan_resources(g, dims, GPU24)
    assert plan.kind == "gpu_fraction"
    assert plan.gpus == math.ceil(8 * est.total / (24 * GIB)) / 8 == 0.125
    # no GPU: one CPU
    assert plan_resources(g, dims, Cluster(cpus=4)).resources() == {"cpu": 1.0}


def test_one_whole_gpu() -> None:
    g = _predictor(layers=1, units_1=1000, batch_size=128, optimizer="sgd", momentum=0.0)
    dims = Dims(n_pages=1, n_items=750_000)
    est = estimate_memory(g, dims)
    assert est.optimizer == 0  # plain SGD keeps no state
    plan = plan_resources(g, dims, GPU24)
    # more than half a GPU (so not shared) but within the usable 80 % of one
    assert 12 * GIB < est.total <= 0.8 * 24 * GIB
    assert plan.kind == "gpu" and plan.gpus == 1.0 and plan.devices == ("cuda:0",)


def test_plans_that_cannot_fit_are_user_errors() -> None:
    g = _predictor(layers=1, units_1=1000, batch_size=128)
    with pytest.raises(AutorecError, match="GPUs"):
        plan_resources(g, BIG, Cluster(cpus=4, gpus=1, gpu_memory=24 * GIB))
    with pytest.raises(AutorecError, match="no GPU"):
        plan_resources(g, BIG, Cluster(cpus=4, cpu_memory=8 * GIB))


def test_resources_for_a_trial_config() -> None:
    g = _predictor(layers=1, units_1=8, batch_size=16)
    small = {"n_pages": 1, "n_items": 100}
    assert resources_for({"genome": g, "dims": small, "cluster": {"cpus": 2}}) == {"cpu": 0.5}
    flat = {"family": "predictor", **g.genes}
    assert resources_for(flat, dims=small, cluster=GPU24) == {"cpu": 0.5}
    big = _predictor(layers=1, units_1=1000, batch_size=128).to_dict()
    fn = make_resources_fn(BIG, GPU24)
    assert fn({"genome": big}) == {"cpu": 1.0, "gpu": 2.0}


CASES = [
    ("drnn", {"width": 3, "length": 2, "units_1": 16, "units_2": 8}),
    (
        "drnn",
        {"width": 2, "length": 3, "height": 2, "units_1": 16, "units_2": 8, "units_3": 8,
         "fnn": True, "fnn_layers": 2, "fnn_units": 8, "loss": "bce", "dropout": 0.2,
         "optimizer": "sgd"},
    ),
    ("drnn", {"width": 1, "length": 1, "units_1": 16, "view_path": False}),
    ("predictor", {"layers": 2, "units_1": 16, "units_2": 8}),
    ("predictor", {"layers": 1, "units_1": 16, "split_mode": "soft", "decay_mode": "learnt",
                   "dropout": 0.1, "optimizer": "nesterov"}),
    ("predictor", {"layers": 1, "units_1": 16, "split_mode": "equal", "w0": 0.0}),
]  # fmt: skip


@pytest.mark.parametrize(("family", "genes"), CASES)
def test_estimate_matches_measured_memory(
    family: str, genes: dict[str, object], tmp_path: Path
) -> None:
    """Parameters, gradients and optimiser state: exact (up to Adam's scalar step counters and
    the DRNN view path's scalar, which the measurement leaves out). Saved activations (sum of
    the tensors autograd keeps, via ``saved_tensors_hooks``): within 5 % when the item-sized
    tensors dominate, as they do in every network worth sharding."""
    from _sharding_support import measure

    g = Genome.from_dict({"family": family, **genes, "batch_size": 32})
    dims = Dims(n_pages=500, n_items=3000)
    got = measure(g, dims, 32, tmp_path)
    est = estimate_memory(g, dims)
    assert est.n_params == got["n_params"]
    assert est.params == got["params"] and est.grads == got["grads"]
    assert abs(est.optimizer - got["optimizer"]) <= 8
    assert abs(est.activations_saved - got["saved"]) <= 0.05 * got["saved"]


def test_estimate_of_hidden_heavy_networks_within_20_percent(tmp_path: Path) -> None:
    from _sharding_support import measure

    dims = Dims(n_pages=500, n_items=50)
    for g in (
        _drnn(width=4, length=2, units_1=64, units_2=64, batch_size=32),
        _predictor(layers=3, units_1=64, units_2=64, units_3=32, dropout=0.2, batch_size=32),
    ):
        got = measure(g, dims, 32, tmp_path)
        est = estimate_memory(g, dims)
        assert abs(est.activations_saved - got["saved"]) <= 0.2 * got["saved"]
