"""The process environment torch must see before it is first imported.

* ``THP_MEM_ALLOC_ENABLE=1``: torch's CPU allocator asks for transparent huge pages for its
  large (>= 2 MiB) blocks. The item tables and their Adam moments (P x units floats) are read
  and written a row at a time at random; with 4 KiB pages nearly every row is a TLB miss.
  Measured on the catalogue-scale predictor (P = 10^5, hidden 1000, 2 cores; bench_flops.py):
  the whole training step 29-30 ms -> 27 ms, 40 % -> 44 % of the matmul peak. The kernel must
  allow it (``/sys/kernel/mm/transparent_hugepage/enabled`` ``always`` or ``madvise``); else
  it is a no-op.

Not set: ``OMP_WAIT_POLICY=PASSIVE`` (autorec set it until the row-sparse optimiser replaced
SparseAdam). Idle
OpenMP threads then sleep at once instead of spinning briefly, and every parallel region pays
their wake-up: the catalogue-scale step above took 46-56 ms with it against 27-28 ms without
(the lazy optimiser runs many short parallel regions). What it guarded against -- spinning
threads of small networks on an oversubscribed machine -- the thread policy already prevents
by training those on one thread (:mod:`autorec.train._threads`); the YOOCHOOSE DRNN trained in
the same time with and without it next to a CPU hog (7.0 s vs 7.0 s). The OpenMP default
(spin a little, then sleep) stays; a user can still set the variable.

These are read once, when torch (its allocator) loads, so the CLI entry
(``autorec/cli/__init__.py``), Ray workers (``runtime_env`` of ``autorec.tune``) and the
benchmarks call :func:`set_torch_env` before torch is imported. A value the user already set
wins. This module must not import torch.
"""

from __future__ import annotations

import os

__all__ = ["TORCH_ENV", "set_torch_env", "torch_env"]

#: Variables (and autorec's defaults) torch reads when it loads.
TORCH_ENV: dict[str, str] = {"THP_MEM_ALLOC_ENABLE": "1"}


def torch_env() -> dict[str, str]:
    """:data:`TORCH_ENV` with the values this process's environment already gives."""
    return {key: os.environ.get(key, value) for key, value in TORCH_ENV.items()}


def set_torch_env() -> None:
    """Put :data:`TORCH_ENV`'s defaults into ``os.environ`` (only effective before torch is
    first imported in this process; a value already set wins)."""
    for key, value in TORCH_ENV.items():
        os.environ.setdefault(key, value)
