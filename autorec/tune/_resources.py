"""Per-trial resources on a (multi-node) Ray cluster.

A trial is one placement-group bundle, and a bundle must fit on *one* node: two nodes with
2 GPUs each cannot give a trial 4 GPUs. So the planner (:mod:`autorec.sharding`) is shown
the largest node (:func:`largest_node`: the most CPUs, GPUs and memory any one alive node
has), not the cluster's sums -- a genome it would shard over more GPUs than any node holds,
or that needs more memory than any node has, is refused with a clear
:class:`~autorec.errors.AutorecError` instead of waiting forever for resources that will
never exist.

:class:`PlannedResources` is the ``config -> {"cpu": .., "gpu": ..}`` function Tune calls
(half a CPU for a tiny network, a fraction of a GPU for a small one, one GPU, or ``k``
GPUs for a genome the planner shards); Tune must never see it raise, so a refused genome
gets one CPU (plus one GPU when the nodes have GPUs) and :meth:`PlannedResources.check`,
run by the trial before it trains, raises the planner's error: the trial scores 0 with that
one-line message in its record and the search goes on.

The GPU memory of remote nodes is invisible to the driver: the planner assumes the
driver's smallest local GPU, else ``AUTOREC_GPU_MEMORY_GIB`` (GiB per GPU), else 24 GiB.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ray.tune import PlacementGroupFactory

from autorec.errors import AutorecError

__all__ = [
    "GPU_MEMORY_ENV",
    "NodeResources",
    "PlannedResources",
    "alive_nodes",
    "largest_node",
    "placement_for",
    "planner_cluster",
]

logger = logging.getLogger(__name__)

#: Environment variable: GiB of memory per GPU the planner assumes when the driver has none.
GPU_MEMORY_ENV = "AUTOREC_GPU_MEMORY_GIB"


@dataclass(frozen=True)
class NodeResources:
    """What one alive Ray node offers: CPUs, GPUs and Ray's ``memory`` resource (bytes)."""

    node_id: str
    cpus: float
    gpus: float
    memory: float


def alive_nodes() -> list[NodeResources]:
    """The alive nodes of the Ray cluster this process is connected to."""
    import ray

    out = []
    for node in ray.nodes():  # type: ignore[no-untyped-call]
        if not node.get("Alive", node.get("alive", False)):
            continue
        res = dict(node.get("Resources") or {})
        out.append(
            NodeResources(
                node_id=str(node.get("NodeID", "")),
                cpus=float(res.get("CPU", 0.0)),
                gpus=float(res.get("GPU", 0.0)),
                memory=float(res.get("memory", 0.0)),
            )
        )
    return out


def largest_node(nodes: Sequence[NodeResources]) -> dict[str, float]:
    """``{"CPU", "GPU", "memory"}``: the most any single node has of each (one bundle, one
    node). ``memory`` is left out when no node reports it."""
    if not nodes:
        raise AutorecError(
            "Ray cluster", "has no alive node", "start Ray (ray start --head) or drop --address"
        )
    out = {"CPU": max(n.cpus for n in nodes), "GPU": max(n.gpus for n in nodes)}
    memory = max(n.memory for n in nodes)
    if memory > 0:
        out["memory"] = memory
    return out


def _gpu_memory(local_gpus: int, local_memory: int | None) -> int | None:
    """Bytes per GPU for the planner: the driver's own GPUs, else ``AUTOREC_GPU_MEMORY_GIB``."""
    from autorec.sharding import GIB

    if local_gpus and local_memory:
        return local_memory
    raw = os.environ.get(GPU_MEMORY_ENV, "").strip()
    if not raw:
        return None
    try:
        gib = float(raw)
    except ValueError:
        gib = -1.0
    if gib <= 0:
        raise AutorecError(
            f"environment variable {GPU_MEMORY_ENV}",
            f"{raw!r} is not a positive number of GiB",
            "set it to the memory of one GPU, e.g. 80",
        )
    return int(gib * GIB)


def planner_cluster(largest: Mapping[str, float]) -> Any:
    """An :class:`autorec.sharding.Cluster` for the largest node ``largest``
    (:func:`largest_node`): its CPUs, whole GPUs and memory; GPU memory as the module
    docstring says."""
    import dataclasses

    from autorec.sharding import Cluster

    local = Cluster.local()
    overrides: dict[str, Any] = {
        "cpus": max(1.0, float(largest.get("CPU", 1.0))),
        "gpus": int(largest.get("GPU", 0.0)),
    }
    if largest.get("memory"):
        overrides["cpu_memory"] = int(largest["memory"])
    gpu_memory = _gpu_memory(local.gpus, local.gpu_memory)
    if gpu_memory:
        overrides["gpu_memory"] = gpu_memory
    return dataclasses.replace(local, **overrides)


def placement_for(wanted: Mapping[str, float]) -> PlacementGroupFactory:
    """What Tune is asked for: one placement-group bundle (one node) with the trial's
    ``cpu`` (default 1) and ``gpu`` (default 0; fractions share a GPU, ``k`` is ``k``
    GPUs of one node)."""
    return PlacementGroupFactory(
        [{"CPU": float(wanted.get("cpu", 1.0)), "GPU": float(wanted.get("gpu", 0.0))}]
    )


class PlannedResources:
    """``config -> {"cpu": .., "gpu": ..}`` from the planner, for ``tune.with_resources``
    (picklable: Tune ships it with the experiment). ``cpus_per_trial`` (the user's
    ``--cpus-per-trial``) replaces the planned CPU count."""

    def __init__(self, dims: Mapping[str, int], cluster: Any, cpus_per_trial: float | None):
        self.dims = dict(dims)
        self.cluster = cluster
        self.cpus_per_trial = cpus_per_trial

    def plan(self, config: Mapping[str, Any]) -> dict[str, float]:
        """The planned resources; raises :class:`AutorecError` for a genome no node fits."""
        from autorec.sharding import make_resources_fn
        from autorec.tune._searcher import genome_from_config

        try:
            plan = make_resources_fn(self.dims, self.cluster)
            wanted = dict(plan({"genome": genome_from_config(config)}))
        except AutorecError as err:
            c = self.cluster
            raise AutorecError(
                f"trial of genome {str(config.get('genome_key', '?'))[:12]}",
                f"{err.where}: {err.problem} (largest Ray node: {c.cpus:g} CPUs, "
                f"{c.gpus} GPUs of {c.gpu_memory / (1 << 30):.0f} GiB, "
                f"{c.cpu_memory / (1 << 30):.1f} GiB memory)",
                err.fix,
            ) from None
        if self.cpus_per_trial is not None:
            wanted["cpu"] = float(self.cpus_per_trial)
        return wanted

    def check(self, config: Mapping[str, Any]) -> None:
        """Raise the planner's :class:`AutorecError` when no node can train ``config``."""
        self.plan(config)

    def __call__(self, config: Mapping[str, Any]) -> dict[str, float]:
        try:
            return self.plan(config)
        except AutorecError as err:  # Tune must get resources; the trial raises (check)
            from autorec.tune._checks import note_refusal

            logger.warning("%s", err)
            note_refusal(str(config.get("genome_key", "?")), str(err))
            wanted = {"cpu": 1.0 if self.cpus_per_trial is None else float(self.cpus_per_trial)}
            if getattr(self.cluster, "gpus", 0):
                wanted["gpu"] = 1.0
            return wanted
