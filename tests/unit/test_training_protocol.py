"""--protocol rolling|paper, the sizes every result reports, and the validation-noise warning."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from autorec.data import ALL_WINDOWS, load_purchase_data, training_protocol
from autorec.errors import AutorecError
from autorec.evolution import Evaluation
from autorec.tune._noise import NoiseCheck, noise_figures


def test_protocols() -> None:
    assert training_protocol() == (ALL_WINDOWS, True)
    assert training_protocol("rolling", 3, False) == (3, False)
    assert training_protocol("paper") == (1, False)
    assert training_protocol("paper", 1, None) == (1, False)
    with pytest.raises(AutorecError, match="paper"):
        training_protocol("paper", 4, None)
    with pytest.raises(AutorecError, match="paper"):
        training_protocol("paper", None, True)
    with pytest.raises(AutorecError, match="unknown protocol"):
        training_protocol("bogus")


def test_rolling_uses_more_examples_and_the_same_test() -> None:
    paper = load_purchase_data(None, train_windows=1, autoencoder=False)
    rolling = load_purchase_data(None, train_windows=ALL_WINDOWS, autoencoder=True)
    # the synthetic data's default split: X 14 days... every window back to dx plus one
    # auto-encoder example per customer: strictly more training examples, same test set
    assert rolling.protocol.train.n_customers > paper.protocol.train.n_customers
    assert rolling.validation.train.n_customers > paper.validation.train.n_customers
    assert rolling.protocol.test.customers.tolist() == paper.protocol.test.customers.tolist()


def test_noise_figures_by_hand() -> None:
    # median accuracy 0.1 on 49 samples: se = sqrt(0.1 * 0.9 / 49) = 0.3 / 7 = 0.042857
    # fitness 0.04, 0.19, 0.20, 0.21, 0.22: the better half (two) 0.22, 0.21 -> std 0.005
    # (over all five it would be 0.067: the poor genome must not hide the noise)
    fig = noise_figures([0.1, 0.1, 0.12], 49, [0.04, 0.19, 0.20, 0.21, 0.22])
    assert fig is not None
    assert fig.stderr == pytest.approx(0.3 / 7)
    assert fig.spread == pytest.approx(0.005)
    assert fig.n_genomes == 5
    assert fig.too_noisy
    quiet = noise_figures([0.5, 0.5], 10_000, [0.2, 0.4])  # se 0.005 < std 0.1
    assert quiet is not None and not quiet.too_noisy
    assert noise_figures([0.1], 49, [0.2]) is None


def test_noise_check_warns_once() -> None:
    def ev(key: str, fit: float, status: str = "ok") -> Evaluation:
        metrics = {"val_precision@10": 0.1, "val_n_val": 49.0}
        return Evaluation(key=key, fitness=fit, metrics=metrics, status=status)  # type: ignore[arg-type]

    pop = [(None, ev("a", 0.20)), (None, ev("b", 0.22)), (None, ev("c", 0.0, "diverged"))]
    said: list[str] = []
    check = NoiseCheck(warn=said.append)
    check(SimpleNamespace(population=pop))
    check(SimpleNamespace(population=pop))
    assert len(said) == 1 and "too small to tell this population apart" in said[0]
    assert check.last is not None and check.last.n_genomes == 2 and check.last.n_val == 49
