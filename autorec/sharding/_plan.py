"""Per-trial resources from a genome's memory estimate (docs/design.md#resource-planner).

Rules, in order (``cap = usable_fraction x gpu_memory``):

1. **tiny** (``total <= tiny_bytes``): CPU only, ``tiny_cpus`` (0.5) of a CPU -- tiny networks
   run as fast on a CPU as on a GPU and leave the GPUs to the big ones;
2. no GPU in the cluster: CPU only, one CPU (an error when it exceeds the CPU memory);
3. **fits one GPU** (``total <= cap``): a fraction of a GPU, ``total / gpu_memory`` rounded up
   to 1/8, so small trials share a GPU; one whole GPU when that fraction is above
   ``max_share`` (1/2: a GPU is shared only by trials that each need at most half of it);
4. **k GPUs**: the item-sized part is split over ``k`` devices and the rest stays on the
   primary one, so ``k = ceil(item_bytes / (cap - other_bytes))`` (at least 2, and at least
   ``ceil(total / cap)``); an error when ``k`` exceeds the cluster's GPUs.

A plan names the devices the trial's trainer uses: ``("cpu",)``, ``("cuda:0",)`` or
``("cuda:0", ..., "cuda:k-1")`` -- Ray makes a trial's GPUs visible as 0..k-1.

Nothing here imports Ray: :func:`resources_for` returns a plain ``{"cpu": .., "gpu": ..}``
dict, which ``tune.with_resources`` accepts as is (the tune layer may wrap it).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from autorec.errors import AutorecError
from autorec.sharding._memory import MemoryEstimate, estimate_memory

__all__ = [
    "GIB",
    "Cluster",
    "Plan",
    "make_resources_fn",
    "plan_resources",
    "resources_for",
]

GIB = 1 << 30
MIB = 1 << 20
PlanKind = Literal["cpu", "gpu_fraction", "gpu", "multi_gpu"]


@dataclass(frozen=True)
class Cluster:
    """What the planner may hand out: per-node CPUs and memory, GPUs and memory per GPU.

    ``usable_fraction`` of a GPU's memory is planned for (the rest is the CUDA context,
    allocator fragmentation and the estimate's error). ``tiny_bytes``: trials whose
    estimate is at most this get ``tiny_cpus`` of a CPU.
    """

    cpus: float = 1.0
    gpus: int = 0
    gpu_memory: int = 24 * GIB
    cpu_memory: int = 16 * GIB
    usable_fraction: float = 0.8
    tiny_bytes: int = 64 * MIB
    tiny_cpus: float = 0.5
    gpu_step: int = 8  # fractions of a GPU are multiples of 1 / gpu_step
    max_share: float = 0.5  # a larger fraction gets the whole GPU

    def __post_init__(self) -> None:
        if not 0.0 < self.usable_fraction <= 1.0:
            raise AutorecError(
                "cluster usable_fraction",
                f"{self.usable_fraction!r} is not in (0, 1]",
                "use e.g. 0.8",
            )
        if self.gpus < 0 or self.cpus <= 0:
            raise AutorecError(
                "cluster", f"cpus={self.cpus!r}, gpus={self.gpus!r}", "use cpus > 0, gpus >= 0"
            )

    @property
    def gpu_capacity(self) -> int:
        return int(self.usable_fraction * self.gpu_memory)

    @classmethod
    def local(cls, **overrides: Any) -> Cluster:
        """This machine: CPU count, physical memory, CUDA GPUs and the smallest GPU memory
        (torch is asked only when it is already installed; no Ray)."""
        cpus = float(os.cpu_count() or 1)
        try:
            cpu_memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            cpu_memory = 16 * GIB
        gpus, gpu_memory = 0, 24 * GIB
        try:
            import torch

            gpus = torch.cuda.device_count()
            if gpus:
                gpu_memory = min(
                    torch.cuda.get_device_properties(i).total_memory for i in range(gpus)
                )
        except Exception:  # no usable CUDA: plan for CPUs
            gpus = 0
        values: dict[str, Any] = {
            "cpus": cpus,
            "gpus": gpus,
            "gpu_memory": gpu_memory,
            "cpu_memory": cpu_memory,
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class Plan:
    """Resources of one trial: Ray's ``cpus``/``gpus`` and the trainer's ``devices``."""

    kind: PlanKind
    devices: tuple[str, ...]
    cpus: float
    gpus: float
    estimate: MemoryEstimate
    per_device_bytes: int
    notes: tuple[str, ...] = field(default=())

    @property
    def k(self) -> int:
        """Number of devices the item-sized layers are sharded over (1: not sharded)."""
        return len(self.devices)

    def resources(self) -> dict[str, float]:
        """``{"cpu": .., "gpu": ..}`` for ``tune.with_resources`` (no ``gpu`` key on CPU)."""
        out: dict[str, float] = {"cpu": self.cpus}
        if self.gpus:
            out["gpu"] = self.gpus
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "devices": list(self.devices),
            "cpus": self.cpus,
            "gpus": self.gpus,
            "per_device_bytes": self.per_device_bytes,
            "estimate": self.estimate.as_dict(),
        }


def _gib(n: int) -> str:
    return f"{n / GIB:.2f} GiB"


def plan_resources(
    genome: Any, dims: Any, cluster: Cluster, *, batch_size: int | None = None
) -> Plan:
    """Pick CPU only, a fraction of a GPU, one GPU or ``k`` GPUs for ``genome`` on ``dims``
    (see the module docstring for the rules)."""
    est = estimate_memory(genome, dims, batch_size=batch_size)
    total = est.total
    if total <= cluster.tiny_bytes:
        return Plan("cpu", ("cpu",), min(cluster.tiny_cpus, cluster.cpus), 0.0, est, total)
    if cluster.gpus == 0:
        if total > cluster.cpu_memory:
            raise AutorecError(
                f"genome ({est.family}, {est.n_params:,} parameters)",
                f"needs about {_gib(total)} to train but the CPU memory is "
                f"{_gib(cluster.cpu_memory)} and there is no GPU",
                "use fewer units or a smaller batch_size, clip the catalogue (top_p= of "
                "autorec.data.load_purchase_data), "
                "or run on a cluster with GPUs",
            )
        return Plan("cpu", ("cpu",), min(1.0, cluster.cpus), 0.0, est, total)
    cap = cluster.gpu_capacity
    if total <= cap:
        step = cluster.gpu_step
        fraction = math.ceil(step * total / cluster.gpu_memory) / step
        if fraction > cluster.max_share:
            return Plan("gpu", ("cuda:0",), 1.0, 1.0, est, total)
        return Plan("gpu_fraction", ("cuda:0",), 1.0, fraction, est, total)
    room = cap - est.other_bytes
    if room <= 0:
        raise AutorecError(
            f"genome ({est.family}, {est.n_params:,} parameters)",
            f"its non-item part alone needs {_gib(est.other_bytes)}, more than the "
            f"{_gib(cap)} usable on one GPU, so sharding the item layers cannot help",
            "use fewer hidden units or a smaller batch_size",
        )
    k = max(2, math.ceil(est.item_bytes / room), math.ceil(total / cap))
    if k > cluster.gpus:
        raise AutorecError(
            f"genome ({est.family}, {est.n_params:,} parameters)",
            f"needs about {_gib(total)}, i.e. {k} GPUs of {_gib(cluster.gpu_memory)}, "
            f"but the cluster has {cluster.gpus}",
            "use fewer units, a smaller batch_size or catalogue (top_p= of "
            "autorec.data.load_purchase_data), or add GPUs",
        )
    devices = tuple(f"cuda:{i}" for i in range(k))
    return Plan("multi_gpu", devices, 1.0, float(k), est, est.per_device(k))


def _config_genome(config: Mapping[str, Any]) -> Any:
    genome = config.get("genome", config)
    return genome


def resources_for(
    config: Mapping[str, Any], *, dims: Any = None, cluster: Cluster | None = None
) -> dict[str, float]:
    """``{"cpu": .., "gpu": ..}`` for one trial's ``config``, for ``tune.with_resources``.

    ``config["genome"]`` (a :class:`~autorec.genome.Genome` or its dict) or the config itself
    (a flat genome dict with ``family``) is the genome; ``dims`` and ``cluster`` default to
    ``config["dims"]`` (``{"n_items": .., "n_pages": ..}``) and ``config["cluster"]`` (a
    :class:`Cluster` or its keyword dict), then to :meth:`Cluster.local`.
    """
    dims = dims if dims is not None else config.get("dims")
    if dims is None:
        raise AutorecError("trial config", "no 'dims' in the config", "pass dims= or add it")
    if cluster is None:
        raw = config.get("cluster")
        cluster = raw if isinstance(raw, Cluster) else Cluster(**raw) if raw else Cluster.local()
    return plan_resources(_config_genome(config), dims, cluster).resources()


def make_resources_fn(
    dims: Any, cluster: Cluster
) -> Callable[[Mapping[str, Any]], dict[str, float]]:
    """``config -> {"cpu": .., "gpu": ..}`` bound to ``dims`` and ``cluster`` (what
    ``tune.with_resources(trainable, resources=...)`` takes as a function of the config)."""

    def resources(config: Mapping[str, Any]) -> dict[str, float]:
        return resources_for(config, dims=dims, cluster=cluster)

    return resources
