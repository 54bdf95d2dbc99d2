"""The search on a multi-node Ray cluster on one machine (one cluster for the module).

``ray.cluster_utils.Cluster`` starts a head node and two worker nodes, 1 CPU each; the second
worker also declares ``{"GPU": 2}`` (custom resources standing in for GPUs: Ray hands them
out and sets ``CUDA_VISIBLE_DEVICES``, nothing touches CUDA). The driver joins it the way
``autorec search --address`` does (:func:`autorec.tune.start_ray` with the address). The
trainer below records, per training, the node, what Tune gave it and a digest of the data
it received; it is shipped to the workers by value (cloudpickle), like a user's function,
with its settings bound by ``functools.partial``.

Covers: trials spread over every node and report their node ids; the data reaches them
through the object store; the run directory is written by the driver only; fractional GPUs
pack (two trials share one GPU) and ``k`` GPUs are given as ``cuda:0..k-1``; removing a
worker node mid-search retries its trials elsewhere and trains no finished genome again.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from ray import cloudpickle  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from autorec.data import SessionData, load_session_data  # noqa: E402
from autorec.tune import SearchOptions, run_search, start_ray  # noqa: E402

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
LOCAL = {"include_dashboard": False}

# Ray pickles this module's functions by value, so the workers need not import it.
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # type: ignore[no-untyped-call]


def _log(path: str, **event: Any) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(event) + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def _digest(data: SessionData) -> str:
    """What identifies the search's data: its source and training samples."""
    h = hashlib.sha256(data.source.encode())
    for array in (data.train_samples.session, data.train_samples.length):
        h.update(array.tobytes())
    return h.hexdigest()


def node_train_genome(
    genome: Any,
    data: SessionData,
    options: Any,
    on_epoch: Callable[[Any], None] | None = None,
    *,
    run: dict[str, Any],
) -> Any:
    """A stand-in trainer: 3 epochs of ``run["sleep"]`` seconds, fitness fixed by the key;
    logs where it ran and a digest of the data it was given to ``run["log"]``."""
    import ray as r
    from ray import tune

    key = str(genome.key)
    given = dict(tune.get_context().get_trial_resources().required_resources)
    where = {
        "key": key,
        "node": r.get_runtime_context().get_node_id(),
        "gpu_ids": [str(g) for g in r.get_gpu_ids()],
        "given": given,
        "devices": list(getattr(options, "devices", ())),
        "cwd": os.getcwd(),
        "digest": _digest(data),
    }
    _log(run["log"], event="start", t=time.time(), **where)
    # run["together"] trials must be running at once (so they need that many CPU slots):
    # wait, polling the log, until that many have started
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open(run["log"]) as fh:
            if sum('"start"' in line for line in fh) >= run["together"]:
                break
        time.sleep(0.02)
    # a trial on run["hold_node"] does not finish: it runs until its node is removed
    while where["node"] == run.get("hold_node") and time.monotonic() < deadline + 120:
        time.sleep(0.05)
    h = hashlib.sha256(key.encode()).digest()
    fitness = int.from_bytes(h[:4], "big") / 2**32
    for epoch in (1, 2, 3):
        time.sleep(run["sleep"])  # the work a trial does (a stand-in, not a wait)
        if on_epoch is not None:
            on_epoch(
                SimpleNamespace(
                    epoch=epoch, fitness=fitness, val_accuracy=fitness, val_loss=1.0, train_loss=1.0
                )
            )
    _log(run["log"], event="end", t=time.time(), key=key, node=where["node"])
    return SimpleNamespace(
        fitness=fitness,
        status="ok",
        epochs=3,
        n_params=100,
        wall_s=0.0,
        converged=True,
        loss=1.0,
        val_metrics={"top1": fitness},
        test_metrics={},
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, Any]]:
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), *paths])  # the nodes' workers
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, **LOCAL})
    cpu_worker = c.add_node(num_cpus=1, **LOCAL)
    gpu_worker = c.add_node(num_cpus=1, num_gpus=2, **LOCAL)
    c.wait_for_nodes()
    try:
        assert start_ray(c.address, quiet=True) is None  # joined: no local Ray, no dashboard
        ids = {
            "head": c.head_node.node_id,
            "cpu": cpu_worker.node_id,
            "gpu": gpu_worker.node_id,
        }
        yield {"cluster": c, "cpu_worker": cpu_worker, "ids": ids, "address": c.address}
    finally:
        ray.shutdown()
        c.shutdown()


@pytest.fixture(scope="module")
def sessions() -> SessionData:
    """The synthetic sessions, made in the driver's memory, with a random source never
    written to disk: trials can only get them from the object store (tune.with_parameters)."""
    return dataclasses.replace(load_session_data(None, seed=3), source=os.urandom(16).hex())


def _run(tmp_path: Path, sleep: float, together: int = 1, hold_node: str = "") -> dict[str, Any]:
    """The stand-in trainer's settings (bound to it, not passed as the data)."""
    return {
        "log": str(tmp_path / "log.jsonl"),
        "sleep": sleep,
        "together": together,
        "hold_node": hold_node,
    }


def _events(run: dict[str, Any]) -> list[dict[str, Any]]:
    path = Path(run["log"])
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def _records(rd: Path) -> list[dict[str, Any]]:
    cache = rd / "fitness_cache.json"
    return list(json.loads(cache.read_text())["records"]) if cache.is_file() else []


def _search(cl: dict[str, Any], rd: Path, data: SessionData, run: dict[str, Any], **kw: Any) -> Any:
    opts: dict[str, Any] = dict(
        population=4,
        generations=0,
        seed=3,
        epochs=3,
        run_dir=str(rd),
        address=cl["address"],
        baselines="popularity",  # one quick baseline: the stand-in's results are not compared
    )
    opts.update(kw)
    trainer = functools.partial(node_train_genome, run=run)
    return run_search(SearchOptions(**opts), train_fn=trainer, data=data, quiet=True)


def test_trials_spread_over_the_nodes(
    cluster: dict[str, Any], sessions: SessionData, tmp_path: Path
) -> None:
    rd = tmp_path / "spread"
    run = _run(tmp_path, 0.1, together=3)
    s = _search(cluster, rd, sessions, run, gpus_per_trial=0, cpus_per_trial=1)
    assert s.finished and s.trials == 4
    records = _records(rd)
    nodes = {r["node_id"] for r in records}
    print("trial node ids:", sorted(Counter(r["node_id"][:12] for r in records).items()))
    # three one-CPU trials at once on three one-CPU nodes: every node gets one
    assert nodes == set(cluster["ids"].values())
    starts = [e for e in _events(run) if e["event"] == "start"]
    assert {e["node"] for e in starts} == nodes
    # the data each trial got is the driver's, byte for byte, via the object store
    assert {e["digest"] for e in starts} == {_digest(sessions)}
    assert all(e["given"] == {"CPU": 1.0} and e["devices"] == ["cpu"] for e in starts)
    # the run directory is the driver's: trials work elsewhere (this stand-in keeps no
    # weights, so no checkpoint travels back either)
    assert all(not Path(e["cwd"]).is_relative_to(rd) for e in starts)
    assert not list(rd.glob("tune/**/checkpoint_*"))


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_half_gpu_trials_share_a_gpu(
    cluster: dict[str, Any], sessions: SessionData, tmp_path: Path
) -> None:
    run = _run(tmp_path, 0.1, together=2)
    s = _search(cluster, tmp_path / "half", sessions, run, gpus_per_trial=0.5, cpus_per_trial=0.5)
    assert s.finished and s.trials == 4
    events = _events(run)
    starts = {e["key"]: e for e in events if e["event"] == "start"}
    ends = {e["key"]: e["t"] for e in events if e["event"] == "end"}
    assert len(starts) == 4
    for e in starts.values():  # what Tune was asked for, and what the trial was given
        assert e["given"] == {"CPU": 0.5, "GPU": 0.5}
        assert e["node"] == cluster["ids"]["gpu"] and len(e["gpu_ids"]) == 1
        assert e["devices"] == ["cuda:0"]  # Ray shows the trial its GPU as device 0
    spans = {k: (e["t"], ends[k]) for k, e in starts.items()}
    shared = [
        (a, b)
        for a in starts
        for b in starts
        if a < b and starts[a]["gpu_ids"] == starts[b]["gpu_ids"] and _overlap(spans[a], spans[b])
    ]
    assert shared, f"no two trials ran on one GPU at once: {starts}"


def test_k_gpu_trials_get_k_devices(
    cluster: dict[str, Any], sessions: SessionData, tmp_path: Path
) -> None:
    run = _run(tmp_path, 0.1)
    s = _search(
        cluster, tmp_path / "k", sessions, run, population=2, gpus_per_trial=2, cpus_per_trial=0.5
    )
    assert s.finished and s.trials == 2
    starts = [e for e in _events(run) if e["event"] == "start"]
    assert len(starts) == 2
    for e in starts:
        assert e["given"] == {"CPU": 0.5, "GPU": 2.0}
        assert sorted(e["gpu_ids"]) == ["0", "1"] and e["devices"] == ["cuda:0", "cuda:1"]


def test_node_removed_mid_search(
    cluster: dict[str, Any], sessions: SessionData, tmp_path: Path
) -> None:
    """The CPU worker is removed while one of its trials runs: that trial is retried on
    another node, finished genomes are never trained again, and the search finishes. (A
    trial on the CPU worker holds until the node is gone, so the removal hits it mid-run.)"""
    rd = tmp_path / "removed"
    victim = cluster["ids"]["cpu"]
    # the first three trials start together, one per node (a short trial could otherwise
    # reuse one node's actor before the others have started theirs)
    run = _run(tmp_path, 0.2, together=3, hold_node=victim)
    seen: dict[str, Any] = {}
    free_at_start = ray.available_resources()
    alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert alive == set(cluster["ids"].values()), "a node died before the test (overload?)"

    def remove_when_busy() -> None:
        try:
            poll_and_remove()
        except Exception as err:  # reported by the assertion below
            seen["error"] = repr(err)

    def poll_and_remove() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and "removed_at" not in seen:
            finished = _records(rd)
            events = _events(run)
            ended = {e["key"] for e in events if e["event"] == "end"}
            running = [
                e["key"]
                for e in events
                if e["event"] == "start" and e["node"] == victim and e["key"] not in ended
            ]
            if finished and running:
                seen["finished"] = {r["genome_key"] for r in finished}
                seen["interrupted"] = set(running)
                cluster["cluster"].remove_node(cluster["cpu_worker"], allow_graceful=False)
                seen["removed_at"] = time.time()
            time.sleep(0.02)  # polling interval

    remover = threading.Thread(target=remove_when_busy, daemon=True)
    remover.start()
    s = _search(
        cluster,
        rd,
        sessions,
        run,
        generations=2,
        gpus_per_trial=0,
        cpus_per_trial=1,
        max_failures=2,
    )
    remover.join(timeout=5)
    where = [(e["event"], e["key"][:6], e["node"][:6]) for e in _events(run)]
    assert "removed_at" in seen, (
        f"no removal: {seen}, victim {victim[:6]}, free {free_at_start}, events {where}"
    )
    deadline = time.monotonic() + 60  # Ray's control plane notices the death on its own time
    while victim in {n["NodeID"] for n in ray.nodes() if n["Alive"]}:
        assert time.monotonic() < deadline, "Ray never marked the removed node dead"
        time.sleep(0.1)  # polling interval
    assert s.finished
    records = _records(rd)
    starts = Counter(e["key"] for e in _events(run) if e["event"] == "start")
    print(
        f"node removal: {len(seen['finished'])} trials finished before, "
        f"{len(seen['interrupted'])} interrupted on the removed node, "
        f"{len(records)} finished after; trainings {sum(starts.values())} "
        f"for {len(starts)} genomes"
    )
    assert all(r["status"] == "ok" for r in records)
    assert len({r["genome_key"] for r in records}) == len(records) == s.trials
    # nothing finished was trained again; the interrupted trials were, on another node
    assert all(starts[k] == 1 for k in seen["finished"])
    for key in seen["interrupted"]:
        assert starts[key] == 2
        (rec,) = [r for r in records if r["genome_key"] == key]
        assert rec["node_id"] != victim
    assert {r["node_id"] for r in records if r["finished_at"] > seen["removed_at"]} <= {
        cluster["ids"]["head"],
        cluster["ids"]["gpu"],
    }
