"""EASE on tiny cases worked out by hand (Steck 2019's closed form and its session variant)."""

from __future__ import annotations

import numpy as np
import pytest

from autorec.baselines import EASE, make_baseline
from autorec.baselines._ease import ease_weights
from autorec.data.types import PurchaseData, SessionSamples
from autorec.evaluation import evaluate_customers, mean_se
from tests.unit.test_baselines import CAT, TRAIN, i64, purchase_data, session_log


def test_two_item_closed_form_by_hand() -> None:
    # G = [[a, c], [c, d]]: P = (G + λI)^-1 = [[d+λ, -c], [-c, a+λ]] / det, so
    # B_01 = -P_01 / P_11 = c / (a+λ) and B_10 = c / (d+λ); diag(B) = 0.
    # a=2, c=1, d=3, λ=1 -> B_01 = 1/3, B_10 = 1/4
    b = ease_weights(np.array([[2.0, 1.0], [1.0, 3.0]]), 1.0)
    assert b == pytest.approx(np.array([[0.0, 1 / 3], [1 / 4, 0.0]]))


def test_closed_form_is_the_constrained_least_squares() -> None:
    # column j of B minimises ||x_j - X b||² + λ||b||² with b_j = 0: the ridge solution on
    # the other items, (G_{-j,-j} + λI)^-1 G_{-j,j}
    log, proto = purchase_data()
    from autorec.baselines._base import protocol_window_matrix

    x = protocol_window_matrix(log, proto).toarray()
    g = x.T @ x
    b = ease_weights(g, 2.0)
    for j in range(4):
        rest = [i for i in range(4) if i != j]
        col = np.linalg.solve(g[np.ix_(rest, rest)] + 2.0 * np.eye(3), g[rest, j])
        assert b[rest, j] == pytest.approx(col)
        assert b[j, j] == 0.0


def test_customers_by_hand() -> None:
    # buyers in [dx, dyz): item0 {u0,u1}, item1 {u0,u1,u3}, item2 {u1,u2}, item3 {u2}
    # G = [[2,2,1,0],[2,3,1,0],[1,1,2,1],[0,0,1,1]]. With λ = 1000, P = (G+λI)^-1 ≈
    # (I - G/λ + G²/λ²)/λ, so B_ij = -P_ij/P_jj ≈ G_ij/λ + (G_ij G_jj - (G²)_ij)/λ².
    # u0 (inputs 0, 1): item2 ≈ (1 + 1)/λ > 0; item3: G_03 = G_13 = 0 and
    # (G²)_03 + (G²)_13 = 1 + 1, so ≈ -2/λ² < 0 -> [2, 3]
    log, proto = purchase_data()
    model = EASE(lam=1000.0).fit_purchases(log, proto)
    top = model.topk_customers(proto.test, 2)
    assert top[0].tolist() == [2, 3]
    assert sorted(top[1].tolist()) == [0, 1]  # u2's inputs 2, 3 are excluded
    scores = model._score_customers(proto.test)
    assert scores[0, 2] == pytest.approx(2 / 1000, rel=0.01)
    assert scores[0, 3] == pytest.approx(-2 / 1000**2, rel=0.02)


def test_lambda_is_chosen_on_the_validation_protocol() -> None:
    log, proto = purchase_data()
    data = PurchaseData(protocol=proto, validation=proto, log=log, source="hand")
    model = EASE(lambdas=(1000.0, 2000.0), k=2).fit(data)
    # u0's target 2 and u2's 0; with 2 items left after the exclusions, both lists hold both
    # remaining items at k=2, so both λ score Precision@2 = (1 + 1) / 4 = 0.5 and the
    # smaller one is kept
    assert model.selection == {"1000": 0.5, "2000": 0.5}
    assert model.lam == 1000.0
    assert model.describe()["validation"] == {"1000": 0.5, "2000": 0.5}
    out = evaluate_customers(model, proto.test, proto.n_items, k=2, stderr=True)
    # per-customer precision 1/2, 1/2: mean 0.5, standard error 0
    assert out["precision@2"] == 0.5 and out["precision@2_se"] == 0.0


def test_sessions_by_hand() -> None:
    # training views (binary) a{t0,t2} b{t0,t1,t2} c{t1} d{t3}; buys b{t0,t2} c{t1}.
    # max_items=2 keeps the inputs a, b (most viewed); outputs: the bought items b, c.
    # G = VᵀV = [[2,2],[2,3]], λ=1: (G+I)^-1 = [[4,-2],[-2,3]]/8; VᵀY = [[2,0],[2,1]]
    # B = [[4,-2],[2,3]]/8 = [[.5,-.25],[.25,.375]] (rows a, b; columns b, c)
    model = EASE(lam=1.0, max_items=2).fit_sessions(TRAIN)
    assert model._weights() == pytest.approx(np.array([[0.5, -0.25], [0.25, 0.375]]))
    # prefix {b}: b .25, c .375 -> [c, b], then a (never bought: below both)
    # prefix {b, a}: b .75, c .125 -> [b, c, a]
    test = session_log([([1, 0, CAT], [0])], t0=10_000)
    samples = SessionSamples(session=i64([0, 0, 0]), length=i64([1, 2, 3]))
    assert model.topk_sessions(test, samples, 3).tolist() == [[2, 1, 0], [1, 2, 0], [1, 2, 0]]


def test_bad_parameters() -> None:
    from autorec.errors import AutorecError

    with pytest.raises(AutorecError):
        make_baseline("ease", lam=0)
    with pytest.raises(AutorecError):
        make_baseline("ease", lambdas=())


def test_mean_se_by_hand() -> None:
    # values 0, 1: mean .5, sum of squares .5, se = sqrt(.5 / (2*1)) = .5
    assert mean_se([0.0, 1.0]) == pytest.approx(0.5)
    # clusters {0,1} and {1,1}: deviations -.75,.25 | .25,.25 -> sums -.5, .5 -> sqrt(.5)/4
    assert mean_se([0.0, 1.0, 1.0, 1.0], cluster=[0, 0, 1, 1]) == pytest.approx(np.sqrt(0.5) / 4)
    assert mean_se([1.0]) == 0.0
