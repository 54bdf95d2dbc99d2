"""A deterministic stand-in trainer for tests and demos of the search machinery.

``fake_train_genome`` has :func:`autorec.train.train_genome`'s signature and returns an
object with :class:`~autorec.train.TrainResult`'s fields, without touching torch. Its
fitness is a fixed function of the genome key (so a search with it is deterministic), and it
reports a few epochs through ``on_epoch``. Environment variables (read in the worker):

- ``AUTOREC_FAKE_LOG``: a file each training appends ``start KEY`` / ``end KEY`` lines to
  (resume tests count trainings with it);
- ``AUTOREC_FAKE_SLEEP``: seconds each fake epoch sleeps (default 0);
- ``AUTOREC_FAKE_FAIL``: genomes whose key starts with one of these comma-separated hex
  prefixes raise ``RuntimeError`` (error-handling tests).

It lives with the tests, not in the package: tests pass it to ``run_search(train_fn=...)``
or run the CLI through ``fake_cli.py``, which injects it. On import it registers
this module for pickling by value, so Ray workers need not import it.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FakeEpoch",
    "FakeResult",
    "always_failing_train_genome",
    "failing_train_genome",
    "fake_fitness",
    "fake_train_genome",
    "rising_accuracy",
    "rising_train_genome",
]


@dataclass(frozen=True)
class FakeEpoch:
    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    fitness: float
    wall_s: float


@dataclass
class FakeResult:
    key: str
    fitness: float
    status: str
    converged: bool
    epochs: int
    val_metrics: dict[str, float]
    test_metrics: dict[str, float]
    loss: float
    n_params: int
    wall_s: float
    model: Any = None
    genome: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def fake_fitness(key: str) -> tuple[float, float]:
    """(accuracy, loss) fixed by the key: accuracy in [0, 0.5), loss in [0.5, 2.5)."""
    h = hashlib.sha256(key.encode("utf-8")).digest()
    acc = int.from_bytes(h[:4], "big") / 2**32 * 0.5
    loss = 0.5 + int.from_bytes(h[4:8], "big") / 2**32 * 2.0
    return acc, loss


def _log(line: str) -> None:
    path = os.environ.get("AUTOREC_FAKE_LOG")
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def fake_train_genome(
    genome: Any, data: Any, options: Any, on_epoch: Callable[[Any], None] | None = None
) -> FakeResult:
    """Pretend to train ``genome``: 3 epochs converging to :func:`fake_fitness`."""
    key = str(genome.key)
    started = time.monotonic()
    _log(f"start {key}")
    prefixes = [p for p in os.environ.get("AUTOREC_FAKE_FAIL", "").split(",") if p]
    if any(key.startswith(p) for p in prefixes):
        _log(f"fail {key}")
        raise RuntimeError(f"fake failure of {key}")
    sleep = float(os.environ.get("AUTOREC_FAKE_SLEEP", "0") or 0)
    acc, loss = fake_fitness(key)
    epochs = min(3, int(getattr(options, "max_epochs", 3) or 3))
    for epoch in range(1, epochs + 1):
        if sleep:
            time.sleep(sleep)
        if on_epoch is not None:
            on_epoch(
                FakeEpoch(
                    epoch,
                    loss + 1.0 / epoch,
                    loss,
                    acc,
                    acc + 1.0 / (1.0 + loss),
                    time.monotonic() - started,
                )
            )
    _log(f"end {key}")
    fitness = acc + 1.0 / (1.0 + loss)
    return FakeResult(
        key=key,
        fitness=fitness,
        status="ok",
        converged=True,
        epochs=epochs,
        val_metrics={"top1": acc, "top10": min(1.0, 2 * acc)},
        test_metrics={},
        loss=loss,
        n_params=1000 + len(key),
        wall_s=time.monotonic() - started,
        genome=genome,
    )


def failing_train_genome(
    genome: Any, data: Any, options: Any, on_epoch: Callable[[Any], None] | None = None
) -> FakeResult:
    """Like :func:`fake_train_genome`, but raises for about a third of the genomes (those
    whose key's first hex digit is 0-4) -- for error-handling tests."""
    if str(genome.key)[0] in "01234":
        _log(f"fail {genome.key}")
        raise RuntimeError(f"fake failure of {genome.key}")
    return fake_train_genome(genome, data, options, on_epoch)


def always_failing_train_genome(
    genome: Any, data: Any, options: Any, on_epoch: Callable[[Any], None] | None = None
) -> FakeResult:
    """Raises for every genome (a search whose every trial fails)."""
    raise RuntimeError(f"fake failure of {genome.key}")


def rising_accuracy(key: str, epoch: int) -> float:
    """The validation accuracy :func:`rising_train_genome` reports after ``epoch`` epochs
    (1-based): rising towards :func:`fake_fitness`'s accuracy, ``acc * (1 - 2**-epoch)``."""
    return fake_fitness(key)[0] * (1.0 - 0.5**epoch)


def rising_train_genome(
    genome: Any, data: Any, options: Any, on_epoch: Callable[[Any], None] | None = None
) -> FakeResult:
    """Like :func:`fake_train_genome`, but trains all R = ``options.max_epochs`` epochs with
    the accuracy of :func:`rising_accuracy` (the loss of :func:`fake_fitness` throughout),
    so a rung scheduler has epochs to stop (multi-fidelity tests). Its fitness is the
    early-stopped estimate over the last 3 epochs."""
    key = str(genome.key)
    started = time.monotonic()
    _log(f"start {key}")
    _, loss = fake_fitness(key)
    epochs = int(getattr(options, "max_epochs", 3) or 3)
    for epoch in range(1, epochs + 1):
        acc = rising_accuracy(key, epoch)
        if on_epoch is not None:
            on_epoch(
                FakeEpoch(epoch, loss, loss, acc, acc + 1 / (1 + loss), time.monotonic() - started)
            )
    _log(f"end {key}")
    last = [rising_accuracy(key, e) for e in range(max(1, epochs - 2), epochs + 1)]
    acc = sum(last) / len(last)
    return FakeResult(
        key=key,
        fitness=acc + 1.0 / (1.0 + loss),
        status="ok",
        converged=True,
        epochs=epochs,
        val_metrics={"top1": acc},
        test_metrics={},
        loss=loss,
        n_params=1000,
        wall_s=time.monotonic() - started,
        genome=genome,
    )


def _pickle_by_value() -> None:
    """Ray workers cannot import this test module: send its functions by value."""
    import sys

    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


_pickle_by_value()
