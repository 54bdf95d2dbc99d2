"""Per-trial resources of a search: the planner's function of a trial's flat Tune
config, the pinned ``--gpus-per-trial`` behaviour, and the devices/threads a trial's trainer
gets from what Tune gave it. No Ray cluster: the functions are called on configs."""

from __future__ import annotations

import pickle
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

pytest.importorskip("ray")

from autorec.errors import AutorecError
from autorec.genome import Genome
from autorec.sharding import GIB, Cluster
from autorec.train import TrainOptions
from autorec.tune import SearchOptions, genome_config, planned_resources_fn
from autorec.tune import _trainable as T
from autorec.tune._resources import (
    GPU_MEMORY_ENV,
    NodeResources,
    PlannedResources,
    largest_node,
    placement_for,
    planner_cluster,
)
from autorec.tune._trainable import trial_resources_fn

SMALL = {"n_pages": 40, "n_items": 60, "n_users": 5}
BIG = {"n_pages": 10_000, "n_items": 1_000_000, "n_users": 0}
GPU24 = Cluster(cpus=16, gpus=4, gpu_memory=24 * GIB)


def _config(family: str = "drnn", **genes: Any) -> dict[str, Any]:
    if family == "drnn":
        base: dict[str, Any] = {"family": "drnn", "width": 2, "length": 1, "units_1": 16}
    else:
        base = {"family": "predictor", "layers": 1, "units_1": 16}
    base.update(genes)
    return genome_config(Genome.from_dict(base), generation=0)


def test_tiny_genome_gets_half_a_cpu() -> None:
    fn = planned_resources_fn(SMALL, Cluster(cpus=2))
    assert fn(_config()) == {"cpu": 0.5}
    assert fn(_config("predictor")) == {"cpu": 0.5}
    # a GPU cluster leaves tiny networks on half a CPU too
    assert planned_resources_fn(SMALL, GPU24)(_config()) == {"cpu": 0.5}


def test_big_catalogue_gets_several_gpus() -> None:
    fn = planned_resources_fn(BIG, GPU24)
    big = fn(_config("predictor", units_1=1000, batch_size=256, optimizer="adam"))
    assert big["cpu"] == 1.0 and big["gpu"] >= 2 and big["gpu"] == int(big["gpu"])
    medium = fn(_config("predictor", units_1=64, batch_size=32, optimizer="sgd", momentum=0.0))
    assert 0 < medium["gpu"] <= 1 and medium["cpu"] == 1.0


def test_pinned_cpus_replace_the_planned_cpus() -> None:
    fn = planned_resources_fn(SMALL, Cluster(cpus=4), cpus_per_trial=2.0)
    assert fn(_config()) == {"cpu": 2.0}


def test_a_genome_too_big_for_the_cluster_still_gets_resources() -> None:
    one_gpu = Cluster(cpus=4, gpus=1, gpu_memory=8 * GIB)
    fn = planned_resources_fn(BIG, one_gpu)
    assert fn(_config("predictor", units_1=1000, batch_size=256)) == {"cpu": 1.0, "gpu": 1.0}


def test_the_resource_function_pickles() -> None:
    from ray import cloudpickle

    fn = planned_resources_fn(SMALL, Cluster(cpus=2))
    blob = cloudpickle.dumps(fn)  # type: ignore[no-untyped-call]
    assert pickle.loads(blob)(_config()) == {"cpu": 0.5}


def test_trial_resources_fn_pinned_and_planned(tmp_path: Path) -> None:
    from autorec.data import load_session_data, synthesize_sessions, write_events

    events = synthesize_sessions(
        np.random.default_rng(0), n_sessions=240, n_items=25, n_categories=5, n_users=40, days=20
    )
    data = load_session_data(write_events(events, tmp_path / "s.csv"))
    assert T.data_dims(data) == {"n_pages": 31, "n_items": 25, "n_users": 39}
    cluster = {"CPU": 2.0}
    planned = trial_resources_fn(SearchOptions(), data, cluster)
    assert planned(_config()) == {"cpu": 0.5}
    # --gpus-per-trial pins the old behaviour: cpus_per_trial (default 1) and that many GPUs
    pinned = trial_resources_fn(SearchOptions(gpus_per_trial=0.0), data, cluster)
    assert pinned(_config()) == {"cpu": 1.0}
    pinned = trial_resources_fn(SearchOptions(gpus_per_trial=2, cpus_per_trial=3), data, cluster)
    assert pinned(_config()) == {"cpu": 3.0, "gpu": 2.0}


def test_search_options_accept_unpinned_cpus() -> None:
    SearchOptions().validate()
    with pytest.raises(AutorecError, match="--cpus-per-trial"):
        SearchOptions(cpus_per_trial=0).validate()


@pytest.mark.parametrize(
    ("given", "threads", "devices"),
    [
        ({"CPU": 0.5}, 1, ("cpu",)),
        ({"CPU": 1.0}, 1, ("cpu",)),
        ({"CPU": 2.5}, 2, ("cpu",)),
        ({"CPU": 1.0, "GPU": 0.25}, 1, ("cuda:0",)),
        ({"CPU": 1.0, "GPU": 3.0}, 1, ("cuda:0", "cuda:1", "cuda:2")),
    ],
)
def test_trial_devices_and_threads_follow_the_resources(
    monkeypatch: pytest.MonkeyPatch,
    given: dict[str, float],
    threads: int,
    devices: tuple[str, ...],
) -> None:
    resources = SimpleNamespace(required_resources=given)
    ctx = SimpleNamespace(get_trial_resources=lambda: resources)
    monkeypatch.setattr("ray.tune.get_context", lambda: ctx)
    got = T._devices_and_threads(TrainOptions())
    assert (got.threads, got.devices) == (threads, devices)


# --- per node (autorec.tune._resources): a trial is one bundle on one node -------------------
TWO_BY_TWO = [
    NodeResources("a", cpus=4, gpus=2, memory=64 * GIB),
    NodeResources("b", cpus=4, gpus=2, memory=64 * GIB),
]


def _node_planner(
    monkeypatch: pytest.MonkeyPatch, nodes: list[NodeResources], gpu_gib: str = "24"
) -> PlannedResources:
    monkeypatch.setenv(GPU_MEMORY_ENV, gpu_gib)
    monkeypatch.setattr(Cluster, "local", classmethod(lambda cls, **kw: cls(**kw)))  # no GPUs
    return planned_resources_fn(BIG, planner_cluster(largest_node(nodes)))


def _bundles(wanted: dict[str, float]) -> list[dict[str, float]]:
    return [dict(b) for b in placement_for(wanted).bundles]


def test_the_planner_sees_the_largest_node_not_the_sums() -> None:
    assert largest_node(TWO_BY_TWO) == {"CPU": 4.0, "GPU": 2.0, "memory": 64.0 * GIB}
    mixed = [NodeResources("h", 1, 0, 8 * GIB), NodeResources("g", 2, 8, 0)]
    assert largest_node(mixed) == {"CPU": 2.0, "GPU": 8.0, "memory": 8.0 * GIB}
    with pytest.raises(AutorecError, match="no alive node"):
        largest_node([])


def test_small_genomes_share_a_gpu_and_big_ones_get_k(monkeypatch: pytest.MonkeyPatch) -> None:
    fn = _node_planner(monkeypatch, TWO_BY_TWO)
    small = _config("predictor", units_1=64, batch_size=32, optimizer="sgd", momentum=0.0)
    assert fn(small) == {"cpu": 1.0, "gpu": 0.125}
    assert _bundles(fn(small)) == [{"CPU": 1.0, "GPU": 0.125}]  # what Tune is asked for
    sharded = _config("predictor", units_1=1000, batch_size=256, optimizer="adam")
    assert fn(sharded) == {"cpu": 1.0, "gpu": 2.0}
    assert _bundles(fn(sharded)) == [{"CPU": 1.0, "GPU": 2.0}]
    fn.check(sharded)  # fits one node: no error


def test_a_genome_no_node_fits_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # 3 GPUs of 24 GiB: the cluster has 4, but no node has more than 2
    fn = _node_planner(monkeypatch, TWO_BY_TWO)
    big = _config("predictor", units_1=1500, batch_size=256, optimizer="adam")
    with pytest.raises(AutorecError, match=r"3 GPUs .*\(largest Ray node: 4 CPUs, 2 GPUs"):
        fn.check(big)
    assert fn(big) == {"cpu": 1.0, "gpu": 1.0}  # Tune still gets resources; the trial fails
    # on 80 GiB GPUs the same genome fits one
    assert _node_planner(monkeypatch, TWO_BY_TWO, "80")(big) == {"cpu": 1.0, "gpu": 1.0}
    assert _node_planner(monkeypatch, TWO_BY_TWO, "80").check(big) is None
    # CPU only: more memory than any node has
    cpu_nodes = [NodeResources("a", 8, 0, 8 * GIB), NodeResources("b", 8, 0, 4 * GIB)]
    cpu_fn = _node_planner(monkeypatch, cpu_nodes)
    medium = _config("predictor", units_1=500, batch_size=128, optimizer="adam")
    with pytest.raises(AutorecError, match=r"CPU memory is 8\.00 GiB and there is no GPU"):
        cpu_fn.check(medium)


def test_the_trial_fails_with_the_planners_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fn = _node_planner(monkeypatch, TWO_BY_TWO)
    big = _config("predictor", units_1=1500, batch_size=256, optimizer="adam")
    trained: list[Any] = []

    def never(*args: Any, **kw: Any) -> Any:
        trained.append(args)
        raise AssertionError("a refused genome must not train")

    final = T.train_trial(big, None, TrainOptions(), never, fn.check)
    assert final["status"] == "error" and final["fitness"] == 0.0 and not trained
    assert final["error_message"].startswith("AutorecError: trial of genome ")
    assert "largest Ray node" in final["error_message"]


def test_gpu_memory_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Cluster, "local", classmethod(lambda cls, **kw: cls(**kw)))
    monkeypatch.setenv(GPU_MEMORY_ENV, "80")
    assert planner_cluster({"CPU": 2.0, "GPU": 1.0}).gpu_memory == 80 * GIB
    monkeypatch.setenv(GPU_MEMORY_ENV, "lots")
    with pytest.raises(AutorecError, match=GPU_MEMORY_ENV):
        planner_cluster({"CPU": 2.0, "GPU": 1.0})
