"""Early-stopped fitness (DRNN paper Sec. IV.B): bounded detection and the fit-0 cases."""

from __future__ import annotations

import math

import pytest

from autorec.train.fitness import (
    Diverged,
    EpochScores,
    fitness_value,
    is_bounded,
    run_early_stopped,
)


def _scripted(accs: list[float], losses: list[float] | None = None):  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def epoch_fn(e: int) -> EpochScores:
        calls.append(e)
        loss = losses[e] if losses else 1.0
        return EpochScores(train_loss=loss, val_loss=loss, val_accuracy=accs[e])

    return epoch_fn, calls


def test_formula_by_hand() -> None:
    assert fitness_value(0.25, 3.0) == pytest.approx(0.25 + 1 / 4)
    assert fitness_value(0.0, 0.0) == pytest.approx(1.0)
    assert fitness_value(0.5, math.nan) == 0.0
    assert fitness_value(0.5, math.inf) == 0.0


def test_is_bounded() -> None:
    assert not is_bounded([0.1, 0.1], window=3, pi=0.01)  # too few epochs
    assert is_bounded([0.0, 0.10, 0.105, 0.11], window=3, pi=0.01)
    assert not is_bounded([0.0, 0.10, 0.105, 0.12], window=3, pi=0.01)
    assert is_bounded([0.3], window=1, pi=0.0)


def test_stops_as_soon_as_bounded() -> None:
    accs = [0.0, 0.1, 0.2, 0.25, 0.251, 0.252, 0.3, 0.3]
    losses = [5.0, 4.0, 3.0, 2.5, 2.4, 2.2, 2.0, 2.0]
    fn, calls = _scripted(accs, losses)
    out = run_early_stopped(fn, max_epochs=8, pi=0.005, window=3)
    assert out.status == "ok" and out.converged
    assert calls == [0, 1, 2, 3, 4, 5]
    assert out.epochs == 6
    assert out.fitness == pytest.approx(0.252 + 1 / (1 + 2.2))
    assert out.history[-1].fitness == pytest.approx(out.fitness)


def test_unsettled_gives_zero() -> None:
    accs = [0.1 * i for i in range(6)]
    fn, calls = _scripted(accs)
    out = run_early_stopped(fn, max_epochs=6, pi=0.01, window=2)
    assert out.status == "unsettled" and not out.converged
    assert out.fitness == 0.0 and out.epochs == 6 and len(calls) == 6


def test_nan_loss_stops_at_once() -> None:
    accs = [0.1, 0.2, 0.2, 0.2, 0.2]
    losses = [1.0, math.nan, 1.0, 1.0, 1.0]
    fn, calls = _scripted(accs, losses)
    out = run_early_stopped(fn, max_epochs=5, pi=0.5, window=3)
    assert out.status == "diverged" and out.fitness == 0.0
    assert calls == [0, 1]


def test_diverged_exception_gives_zero() -> None:
    def fn(e: int) -> EpochScores:
        raise Diverged("loss inf at batch 3")

    out = run_early_stopped(fn, max_epochs=5)
    assert out.status == "diverged" and out.fitness == 0.0 and out.epochs == 0


def test_exception_gives_zero_with_traceback() -> None:
    def fn(e: int) -> EpochScores:
        if e == 1:
            raise RuntimeError("shape mismatch")
        return EpochScores(1.0, 1.0, 0.5)

    out = run_early_stopped(fn, max_epochs=5, window=3)
    assert out.status == "error" and out.fitness == 0.0
    assert out.error is not None and "RuntimeError: shape mismatch" in out.error
    assert "Traceback" in out.error


def test_wall_limit_is_unsettled() -> None:
    fn, calls = _scripted([0.1 * i for i in range(10)])
    out = run_early_stopped(fn, max_epochs=10, pi=0.0, window=2, max_wall_s=0.0)
    assert out.status == "unsettled" and len(calls) == 1
