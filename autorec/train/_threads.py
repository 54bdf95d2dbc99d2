"""Thread policy of training (issue 6): the one place that picks torch's intra-op threads.

* ``threads``: the CPUs a trial was given (``TrainOptions.threads``, set by the Tune
  trainable from its resources) or else the cores this process may run on.
* **Small networks train on one thread.** A network with fewer than
  :data:`SMALL_NETWORK_PARAMS` parameters does too little work per operation for intra-op
  parallelism to pay: its kernels take microseconds, the fork/join of every parallel region
  costs about as much, and when the machine is oversubscribed (Ray trials, other processes)
  the threads wait on each other -- one epoch of a small DRNN took 89 s on 2 threads vs 4.4 s
  on 1 on a loaded 2-core machine (P-performance note). "Small" is a plain parameter count
  (every parameter, item tables included), a proxy for the work of a step that needs nothing
  but the built network.
* ``OMP_WAIT_POLICY=PASSIVE`` (:func:`passive_omp_env`): idle OpenMP threads sleep instead of
  spinning, so oversubscribed threads give their core back. OpenMP reads it when torch is
  loaded, so the CLI entry (``autorec/cli/__init__.py``) and Ray workers (``runtime_env`` of
  ``autorec.tune``) set it before torch is imported; a value the user set wins.

torch's thread count is per process; :func:`apply_thread_policy` changes it only when it
differs (inter-op threads can be set once per process and are left alone).
"""

from __future__ import annotations

import os

import torch

__all__ = [
    "OMP_ENV",
    "SMALL_NETWORK_PARAMS",
    "apply_thread_policy",
    "cores_available",
    "passive_omp_env",
    "threads_for",
]

#: Networks with fewer parameters than this train on one intra-op thread.
SMALL_NETWORK_PARAMS = 2_000_000

#: Environment the OpenMP runtime must see before torch is imported.
OMP_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


def passive_omp_env() -> None:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the environment already says otherwise (only
    effective before torch is first imported in this process)."""
    for key, value in OMP_ENV.items():
        os.environ.setdefault(key, value)


def cores_available() -> int:
    """The cores this process may run on (its CPU affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def threads_for(n_params: int, threads: int | None = None) -> int:
    """Intra-op threads for a network of ``n_params`` parameters: 1 when it is small
    (< :data:`SMALL_NETWORK_PARAMS`), else ``threads`` (a trial's CPUs) or every core."""
    if n_params < SMALL_NETWORK_PARAMS:
        return 1
    return max(1, threads if threads is not None else cores_available())


def apply_thread_policy(n_params: int, threads: int | None = None) -> int:
    """Set torch's intra-op threads to :func:`threads_for`; returns the count."""
    n = threads_for(n_params, threads)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
