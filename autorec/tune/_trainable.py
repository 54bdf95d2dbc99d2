"""The Tune trainable: one trial trains one genome with the early-stopped fitness.

The data set is loaded once by the driver and handed to every trial through the object
store (``tune.with_parameters``), never reloaded per trial. Each epoch is reported to Tune
(``fitness``, ``val_accuracy``, ``loss``, ``epoch``); the last report carries the trial's
outcome (``final=True``, ``fitness``, ``status``, metrics, ``n_params``, ``epochs``). A trial
whose trainer raises, or returns status ``"error"``, is a failure
(:mod:`autorec.tune._failures`): fitness 0, its traceback in the report, and it ends
normally so the search goes on (a *lost worker* is retried by Tune's ``FailureConfig``).

Resources: unless the user pins ``--gpus-per-trial``, every trial asks Tune for what the
planner gives its genome (:func:`planned_resources_fn`): half a CPU for a tiny
network, one CPU, a fraction of a GPU, one GPU, or ``k`` GPUs -- inside the trial Ray shows
them as ``cuda:0..k-1``, which become the trainer's ``devices`` (the item layers sharded
over them when ``k > 1``), and ``max(1, floor(cpus))`` torch threads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ray import tune

from autorec._io import finite_or_none as _num
from autorec.tune._checkpoints import trial_checkpoint
from autorec.tune._failures import failure_fields
from autorec.tune._resources import PlannedResources, planner_cluster
from autorec.tune._searcher import genome_from_config

if TYPE_CHECKING:
    from autorec.data import PurchaseData, SessionData
    from autorec.genome import Genome
    from autorec.train import EpochReport, TrainOptions
    from autorec.tune._options import SearchOptions

    #: What a search trains on: the data of a registered family, loaded once by the driver.
    SearchData = SessionData | PurchaseData

__all__ = [
    "Trainer",
    "data_dims",
    "default_trainer",
    "planned_resources_fn",
    "resources_for",
    "run_trial",
    "train_trial",
    "trial_dirname",
    "trial_name",
    "trial_resources_fn",
]

logger = logging.getLogger(__name__)


class Trainer(Protocol):
    """What trains one genome in a trial: :func:`autorec.train.train_genome`'s signature,
    returning an object with :class:`autorec.train.TrainResult`'s fields. It is passed as an
    object (pickled to the workers), never named by a string, so no module name from a run
    directory or an option is ever imported."""

    def __call__(
        self,
        genome: Genome,
        data: SearchData,
        options: TrainOptions,
        on_epoch: Callable[[EpochReport], None] | None = None,
    ) -> Any: ...


def default_trainer() -> Trainer:
    """:func:`autorec.train.train_genome` (imported late: torch stays out of the driver)."""
    from autorec.train import train_genome

    return train_genome


def resources_for(
    config: Mapping[str, Any], *, cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.0
) -> dict[str, float]:
    """Resources one trial asks for when the user pins them (``--gpus-per-trial``):
    ``cpus_per_trial`` CPUs, and ``gpus_per_trial`` GPUs when positive. Unpinned searches
    use :func:`planned_resources_fn` (docs/design.md#resource-planner: CPU only, a fraction of a
    GPU, one GPU or k GPUs from the genome's estimated memory)."""
    resources = {"cpu": float(cpus_per_trial)}
    if gpus_per_trial > 0:
        resources["gpu"] = float(gpus_per_trial)
    return resources


def data_dims(data: SearchData) -> dict[str, int]:
    """Sizes the networks of a search are built for (``n_pages``, ``n_items``, ``n_users``),
    from the data the driver loaded (its family's :meth:`~autorec.families.Family.dims`)."""
    from autorec.families import family_of

    return family_of(data).dims(data)


def trial_resources_fn(
    options: SearchOptions, data: SearchData, cluster: Mapping[str, float]
) -> Callable[[Mapping[str, Any]], dict[str, float]]:
    """``config -> {"cpu": .., "gpu": ..}`` for ``tune.with_resources``.

    ``--gpus-per-trial`` given (pinned): that many GPUs and ``--cpus-per-trial`` (default 1)
    CPUs for every trial, as before the planner. Not given: the planner
    (:func:`planned_resources_fn`) on the trial's genome, the data's sizes and the largest
    Ray node (``cluster``: :func:`~autorec.tune._resources.largest_node`, since one trial is
    one bundle on one node; GPU memory per :func:`~autorec.tune._resources.planner_cluster`);
    ``--cpus-per-trial``, when given, still fixes the CPUs."""
    cpus = options.cpus_per_trial
    gpus = options.gpus_per_trial
    if gpus is None:
        return planned_resources_fn(data_dims(data), planner_cluster(cluster), cpus_per_trial=cpus)
    pinned_cpus = 1.0 if cpus is None else cpus

    def pinned(config: Mapping[str, Any]) -> dict[str, float]:
        return resources_for(config, cpus_per_trial=pinned_cpus, gpus_per_trial=gpus)

    return pinned


def planned_resources_fn(
    dims: Mapping[str, int],
    cluster: Any,
    *,
    cpus_per_trial: float | None = None,
) -> PlannedResources:
    """``config -> {"cpu": .., "gpu": ..}`` from the planner (:mod:`autorec.sharding`): the
    trial's genome is rebuilt from its flat config (:func:`genome_from_config`) and
    :func:`autorec.sharding.make_resources_fn` (``dims``, ``cluster``) picks half a CPU for a
    tiny network, one CPU, a fraction of a GPU, one GPU or ``k`` GPUs (the trial then shards
    its item layers over ``cuda:0..k-1``, see :func:`_devices_and_threads`).
    ``cpus_per_trial`` (the user's ``--cpus-per-trial``) replaces the planned CPU count. A
    genome the planner refuses (it would not fit the cluster) gets one CPU, plus one GPU
    when the cluster has any, and fails at once with the planner's error when it starts
    (:meth:`PlannedResources.check`, passed to :func:`run_trial` as ``check``): fitness 0,
    the search goes on. ``cluster`` is the largest node (:mod:`autorec.tune._resources`)."""
    return PlannedResources(dims, cluster, cpus_per_trial)


def trial_name(config: Mapping[str, Any]) -> str:
    """A dashboard-friendly name: ``g{gen}-{family}-w{w}l{l}h{h}-{key}`` for DRNN,
    ``g{gen}-predictor-L{layers}-{split_mode}-{key}`` for the predictor family (``key``: the
    genome's 12 hex digits, as in the run directory)."""
    from autorec.families import find_family

    gen = config.get("generation", 0)
    family = config.get("family", "genome")
    key = str(config.get("genome_key", ""))
    known = find_family(str(family))
    shape = known.trial_shape(config) if known is not None else "-"
    return f"g{gen}-{family}-{shape}-{key}"


def trial_dirname(config: Mapping[str, Any], trial_id: str) -> str:
    """Folder of a trial inside Tune's experiment folder: its name plus the trial id."""
    return f"{trial_name(config)}-{trial_id}"


def threads_for(cpus: float) -> int:
    """Torch threads of a trial given ``cpus`` CPUs: ``max(1, floor(cpus))``."""
    return max(1, math.floor(cpus))


def _devices_and_threads(options: Any) -> Any:
    """``options`` with devices/threads set to what Tune gave this trial."""
    try:
        ctx = tune.get_context()
        resources = ctx.get_trial_resources().required_resources
        cpu_share = float(resources.get("CPU", 0))
        gpu_share = float(resources.get("GPU", 0))
        gpus = max(1, int(gpu_share)) if gpu_share > 0 else 0  # a fraction still gets cuda:0
    except Exception:  # not inside Tune (direct call in tests)
        return options
    changes: dict[str, Any] = {}
    if cpu_share > 0:  # half a CPU (a tiny network's plan) still runs one torch thread
        changes["threads"] = threads_for(cpu_share)
    if gpus >= 1:  # k GPUs (the planner's multi-GPU plan): item layers sharded over them
        changes["devices"] = tuple(f"cuda:{i}" for i in range(gpus))
    if changes and dataclasses.is_dataclass(options) and not isinstance(options, type):
        fields = {f.name for f in dataclasses.fields(options)}
        changes = {k: v for k, v in changes.items() if k in fields}
        return dataclasses.replace(options, **changes)
    return options


def final_report(result: Any, trial: str) -> dict[str, Any]:
    """The last report of a trial from a :class:`~autorec.train.TrainResult`."""
    out: dict[str, Any] = {
        "final": True,
        "fitness": _num(getattr(result, "fitness", 0.0)) or 0.0,
        "status": str(getattr(result, "status", "error")),
        "epochs": int(getattr(result, "epochs", 0) or 0),
        "n_params": int(getattr(result, "n_params", 0) or 0),
        "wall_s": _num(getattr(result, "wall_s", 0.0)) or 0.0,
        "converged": bool(getattr(result, "converged", False)),
        "trial_name": trial,
    }
    loss = _num(getattr(result, "loss", None))
    if loss is not None:
        out["loss"] = loss
    for prefix, attr in (("val_", "val_metrics"), ("test_", "test_metrics")):
        for name, value in dict(getattr(result, attr, None) or {}).items():
            x = _num(value)
            if x is not None:
                out[f"{prefix}{name}"] = x
    if out["status"] == "error":  # the trainer's own traceback (train_genome never raises)
        out.update(failure_fields("", str(getattr(result, "error", None) or "")))
    return out


def run_trial(
    config: dict[str, Any],
    data: SearchData,
    options: TrainOptions,
    train_fn: Trainer | None = None,
    keep_weights: bool = False,
    check: Callable[[Mapping[str, Any]], None] | None = None,
) -> None:
    """Function trainable: train the genome in ``config`` on ``data`` with ``options``
    (:class:`autorec.train.TrainOptions`) using ``train_fn`` (default
    :func:`autorec.train.train_genome`), reporting every epoch and the final result --
    with the trained network as a Tune checkpoint when ``keep_weights``
    (:mod:`autorec.tune._checkpoints`). ``check(config)`` runs first: the planner's
    refusal of a genome no node fits
    (:meth:`~autorec.tune._resources.PlannedResources.check`) ends the trial with its
    error before any training. (Returns nothing: Tune would report a returned dict a
    second time.)"""
    train_trial(config, data, options, train_fn, check, keep_weights=keep_weights)


def trial_placement() -> dict[str, str]:
    """Where this trial runs: its Ray node's id and the GPU ids Ray gave it (comma-joined;
    empty on CPU). Empty outside Ray."""
    try:
        import ray

        if not ray.is_initialized():
            return {}
        node = ray.get_runtime_context().get_node_id()
        gpus = ",".join(str(g) for g in ray.get_gpu_ids())
    except Exception:  # pragma: no cover - the placement is information only
        return {}
    return {"node_id": str(node), "gpu_ids": gpus}


def train_trial(
    config: dict[str, Any],
    data: SearchData,
    options: TrainOptions,
    train_fn: Trainer | None = None,
    check: Callable[[Mapping[str, Any]], None] | None = None,
    *,
    keep_weights: bool = False,
) -> dict[str, Any]:
    """The work of :func:`run_trial`; returns the final report (tests call it directly)."""
    started = time.monotonic()
    fn = train_fn if train_fn is not None else default_trainer()
    in_tune = _inside_tune()
    trial = trial_name(config)
    if in_tune:
        with contextlib.suppress(Exception):
            trial = tune.get_context().get_trial_name() or trial

    def on_epoch(report: Any) -> None:
        metrics = {
            "final": False,
            "epoch": int(report.epoch),
            "fitness": _num(report.fitness) or 0.0,
            "val_accuracy": _num(report.val_accuracy) or 0.0,
            "loss": _num(report.val_loss),
            "train_loss": _num(report.train_loss),
            "status": "running",
        }
        if in_tune:
            tune.report({k: v for k, v in metrics.items() if v is not None})

    checkpoint = None
    try:
        if check is not None:
            check(config)
        genome = genome_from_config(config)
        opts = _devices_and_threads(options) if in_tune else options
        result = fn(genome, data, opts, on_epoch=on_epoch)
        final = final_report(result, trial)
        if keep_weights and in_tune:
            checkpoint = trial_checkpoint(result, data)
    except Exception as err:  # a failure (autorec.tune._failures): scored 0, recorded, counted
        final = {
            "final": True,
            "epochs": 0,
            "n_params": 0,
            "wall_s": time.monotonic() - started,
            "trial_name": trial,
            **failure_fields(f"{type(err).__name__}: {err}", traceback.format_exc(limit=20)),
        }
    final["genome_key"] = str(config.get("genome_key", ""))
    if in_tune:
        final.update(trial_placement())
        tune.report(final, checkpoint=checkpoint)
    return final


def _inside_tune() -> bool:
    try:
        from ray.tune.trainable.trainable_fn_utils import _in_tune_session
    except ImportError:  # pragma: no cover - older/newer Ray
        return True
    return bool(_in_tune_session())
