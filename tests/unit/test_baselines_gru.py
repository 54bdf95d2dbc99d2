"""The GRU session baselines on tiny hand-made sessions (tests/unit/test_baselines.py's)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autorec.baselines import GRUCopySession, GRUSession, make_baseline
from autorec.baselines._gru import copy_features, prefix_pages
from autorec.data.types import SessionSamples
from autorec.errors import AutorecError
from tests.unit.test_baselines import CAT, SAMPLES, TEST, TRAIN, i64, purchase_data, session_log


def test_prefix_pages_by_hand() -> None:
    # TEST views pages c(2), a(0), a(0), cat(4); indices + 1, right-padded with 0
    pages, length = prefix_pages(TEST, SAMPLES, max_len=3)
    assert pages.tolist() == [[3, 0, 0], [3, 1, 0], [3, 1, 1], [1, 1, 5]]
    assert length.tolist() == [1, 2, 3, 3]  # the 4-page prefix keeps its last 3 pages


def test_copy_features_by_hand() -> None:
    # prefix of 3 pages c, a, a: c viewed once (not last), a twice (last); b, d not viewed
    feats = copy_features(TEST, SessionSamples(i64([0]), i64([3])), 4)[0]
    assert feats[:, 0].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert feats[:, 1].tolist() == pytest.approx([np.log(3), 0.0, np.log(2), 0.0])
    assert feats[:, 2].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_copy_score_alone_ranks_viewed_items_first() -> None:
    # output layer and gate zeroed, copy weights (1, 0, 0): viewed items score 1, the rest 0;
    # ties fall back to popularity [b, c, a, d]
    model = GRUCopySession(epochs=1, hidden=4, embedding=4).fit_sessions(TRAIN)
    net = model.net
    assert net is not None
    with torch.no_grad():
        for p in (net.out.weight, net.out.bias, net.gate.weight, net.gate.bias):
            p.zero_()
        net.copy_w.copy_(torch.tensor([1.0, 0.0, 0.0]))
    # prefixes {c}, {c, a}, {c, a}, {c, a} (category page)
    top = model.topk_sessions(TEST, SAMPLES, 3)
    assert top.tolist() == [[2, 1, 0], [2, 0, 1], [2, 0, 1], [2, 0, 1]]


@pytest.mark.parametrize("cls", [GRUSession, GRUCopySession])
def test_learns_view_to_buy(cls: type[GRUSession]) -> None:
    # viewing a is followed by buying b, viewing c by buying d (12 sessions each)
    train = session_log([([0], [1])] * 12 + [([2], [3])] * 12)
    model = cls(embedding=8, hidden=8, epochs=20, lr=0.05, batch=24).fit_sessions(train)
    test = session_log([([0], [1]), ([2], [3])], t0=100_000)
    samples = SessionSamples(i64([0, 1]), i64([1, 1]))
    assert model.topk_sessions(test, samples, 1).tolist() == [[1], [3]]
    assert model.describe()["n_train_samples"] == 24


def test_deterministic_and_sessions_only() -> None:
    a = GRUSession(epochs=2, hidden=4, embedding=4).fit_sessions(TRAIN)
    b = GRUSession(epochs=2, hidden=4, embedding=4).fit_sessions(TRAIN)
    assert np.array_equal(a.topk_sessions(TEST, SAMPLES, 4), b.topk_sessions(TEST, SAMPLES, 4))
    log, proto = purchase_data()
    with pytest.raises(AutorecError, match="page views"):
        GRUSession().fit_purchases(log, proto)
    with pytest.raises(AutorecError):
        make_baseline("gru", hidden=0)
    assert CAT == 4
