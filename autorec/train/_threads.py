"""Thread policy of training: the one place that picks torch's intra-op threads.

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
* No ``OMP_WAIT_POLICY`` is set: with small networks on one thread there are no idle OpenMP
  threads to spin, and ``PASSIVE`` made the multi-threaded catalogue-scale step twice as slow
  (:mod:`autorec._env`, which sets the rest of torch's process environment).

torch's thread count is per process; :func:`apply_thread_policy` changes it only when it
differs (inter-op threads can be set once per process and are left alone).
"""

from __future__ import annotations

import os

import torch

__all__ = [
    "SMALL_NETWORK_PARAMS",
    "apply_thread_policy",
    "cores_available",
    "threads_for",
]

#: Networks with fewer parameters than this train on one intra-op thread.
SMALL_NETWORK_PARAMS = 2_000_000


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
