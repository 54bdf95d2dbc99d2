"""Per-trial resources of a search (issue 7): the planner's function of a trial's flat Tune
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

from autorec.genome import Genome
from autorec.sharding import GIB, Cluster
from autorec.train import TrainOptions
from autorec.tune import SearchOptions, genome_config, planned_resources_fn
from autorec.tune import _trainable as T
from autorec.tune._driver import trial_resources_fn

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
    # data the driver cannot size (tests' stand-ins): one CPU, one GPU when there are GPUs
    assert trial_resources_fn(SearchOptions(), object(), cluster)(_config()) == {"cpu": 1.0}
    gpu_cluster = {"CPU": 8.0, "GPU": 2.0}
    stand_in = trial_resources_fn(SearchOptions(), object(), gpu_cluster)
    assert stand_in(_config()) == {"cpu": 1.0, "gpu": 1.0}


def test_search_options_accept_unpinned_cpus() -> None:
    from autorec.errors import AutorecError

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
