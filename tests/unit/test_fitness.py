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
    # the estimate is the bounded window's (epochs 3-5) mean accuracy and mean loss:
    # ā = (0.25 + 0.251 + 0.252) / 3 = 0.251, l̄ = (2.5 + 2.4 + 2.2) / 3 = 7.1 / 3
    assert out.accuracy == pytest.approx(0.251)
    assert out.loss == pytest.approx(7.1 / 3)
    assert out.fitness == pytest.approx(0.251 + 1 / (1 + 7.1 / 3))  # 0.548030
    # the per-epoch record keeps each epoch's own fit
    assert out.history[-1].fitness == pytest.approx(0.252 + 1 / (1 + 2.2))


def test_min_epochs_trains_exactly_r_and_scores_the_last_window() -> None:
    accs = [0.1, 0.1, 0.1, 0.2, 0.3, 0.4]
    losses = [3.0, 3.0, 3.0, 2.0, 1.0, 0.5]
    fn, calls = _scripted(accs, losses)
    # π = inf would bound the first window (epochs 0-2); min_epochs = R defers the test
    out = run_early_stopped(fn, max_epochs=6, pi=math.inf, window=2, min_epochs=6)
    assert out.status == "ok" and calls == [0, 1, 2, 3, 4, 5]
    # last two epochs: ā = 0.35, l̄ = 0.75 -> 0.35 + 1 / 1.75
    assert out.fitness == pytest.approx(0.35 + 1 / 1.75)


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

    out = run_early_stopped(fn, max_epochs=5, pi=0.005)
    assert out.status == "diverged" and out.fitness == 0.0 and out.epochs == 0


def test_exception_gives_zero_with_traceback() -> None:
    def fn(e: int) -> EpochScores:
        if e == 1:
            raise RuntimeError("shape mismatch")
        return EpochScores(1.0, 1.0, 0.5)

    out = run_early_stopped(fn, max_epochs=5, pi=0.005, window=3)
    assert out.status == "error" and out.fitness == 0.0
    assert out.error is not None and "RuntimeError: shape mismatch" in out.error
    assert "Traceback" in out.error


def test_wall_limit_is_unsettled() -> None:
    fn, calls = _scripted([0.1 * i for i in range(10)])
    out = run_early_stopped(fn, max_epochs=10, pi=0.0, window=2, max_wall_s=0.0)
    assert out.status == "unsettled" and len(calls) == 1


# ---- adaptive π (pi="auto"): two binomial standard errors of the validation accuracy --------


def test_auto_pi_is_two_binomial_standard_errors() -> None:
    from autorec.train.fitness import auto_pi

    assert auto_pi(0.2, 842) == pytest.approx(2 * math.sqrt(0.2 * 0.8 / 842))  # ~0.0276
    assert auto_pi(0.5, 100) == pytest.approx(0.1)
    assert auto_pi(0.0, 50) == pytest.approx(0.002)  # the floor
    assert auto_pi(0.3, 10**9) == pytest.approx(0.002)
    with pytest.raises(ValueError):
        auto_pi(0.3, 0)


def test_auto_pi_stops_within_sampling_noise() -> None:
    # spread 0.02 over the last 3 epochs: inside the noise of 842 samples (π ≈ 0.028),
    # outside it for 100 000 samples (π ≈ 0.0025)
    accs = [0.05, 0.15, 0.19, 0.21, 0.20, 0.21, 0.20, 0.21]
    fn, calls = _scripted(accs)
    out = run_early_stopped(fn, max_epochs=8, pi="auto", window=3, n_val=842)
    assert out.status == "ok" and calls == [0, 1, 2, 3, 4]
    fn, calls = _scripted(accs)
    out = run_early_stopped(fn, max_epochs=8, pi="auto", window=3, n_val=100_000)
    assert out.status == "unsettled" and len(calls) == 8


def test_auto_pi_needs_the_validation_size() -> None:
    fn, _ = _scripted([0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="n_val"):
        run_early_stopped(fn, max_epochs=3, pi="auto", window=2)


def test_train_options_pi_default_and_parsing() -> None:
    from autorec.errors import AutorecError
    from autorec.train import DEFAULT_PI, TrainOptions
    from autorec.train._types import parse_pi

    assert DEFAULT_PI == "auto" and TrainOptions().pi == "auto"
    assert TrainOptions(pi=0.01).pi == 0.01
    assert parse_pi("auto") == "auto" and parse_pi("0.005") == 0.005
    for bad in ("often", "-1"):
        with pytest.raises(AutorecError, match="--pi"):
            parse_pi(bad)
    with pytest.raises(AutorecError, match="--pi"):
        TrainOptions(pi="sometimes")  # type: ignore[arg-type]
