"""Baselines on tiny hand-made data with rankings worked out by hand."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from autorec.baselines import ALS, BASELINES, ItemKNN, Popularity, SessionViews, make_baseline
from autorec.data.types import (
    CustomerExamples,
    IdMap,
    PurchaseLog,
    PurchaseProtocol,
    SessionLog,
    SessionSamples,
    SplitDates,
)
from autorec.errors import AutorecError
from autorec.evaluation import evaluate_customers, evaluate_sessions


def i64(values: list[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


# ---- sessions -----------------------------------------------------------------------------
# Items a=0, b=1, c=2, d=3; pages 0..3 show items 0..3, page 4 is a category page (item -1).
CAT = 4
ITEMS = IdMap.from_values(["a", "b", "c", "d"])
PAGES = IdMap.from_values(["pa", "pb", "pc", "pd", "pz"])
USERS = IdMap.from_values(["u0", "u1"])


def session_log(
    sessions: list[tuple[list[int], list[int]]], users: list[int] | None = None, t0: int = 0
) -> SessionLog:
    """(viewed pages, bought items) per session; views 10 s apart, buys after the last view;
    session i starts at t0 + 1000 * i."""
    views = [v for v, _ in sessions]
    buys = [b for _, b in sessions]
    start = [t0 + 1000 * i for i in range(len(sessions))]
    return SessionLog(
        session_ids=np.array([f"s{t0 + i}" for i in range(len(sessions))]),
        user=i64(users if users is not None else [-1] * len(sessions)),
        start=i64(start),
        page_ptr=i64([0, *np.cumsum([len(v) for v in views]).tolist()]),
        page=i64([p for v in views for p in v]),
        view_time=i64(
            [s + 10 * j for s, v in zip(start, views, strict=True) for j in range(len(v))]
        ),
        dwell=np.zeros(sum(len(v) for v in views), dtype=np.float32),
        buy_ptr=i64([0, *np.cumsum([len(b) for b in buys]).tolist()]),
        buy=i64([i for b in buys for i in b]),
        buy_time=i64([s + 500 for s, b in zip(start, buys, strict=True) for _ in b]),
        pages=PAGES,
        items=ITEMS,
        users=USERS,
        page_item=i64([0, 1, 2, 3, -1]),
    )


# Training sessions:           views             buys
#   t0                          a, b, cat         b
#   t1                          b, c              c
#   t2                          a, b              b
#   t3                          d                 -
# Purchases: b 2, c 1, a 0, d 0 -> popularity order [b, c, a, d] = [1, 2, 0, 3]
TRAIN = session_log([([0, 1, CAT], [1]), ([1, 2], [2]), ([0, 1], [1]), ([3], [])])
# Test session: views c, a, a, cat; buys a. Samples: its 4 prefixes.
TEST = session_log([([2, 0, 0, CAT], [0])], t0=10_000)
SAMPLES = SessionSamples(session=i64([0, 0, 0, 0]), length=i64([1, 2, 3, 4]))


def test_popularity_sessions() -> None:
    top = Popularity().fit_sessions(TRAIN).topk_sessions(TEST, SAMPLES, 3)
    assert top.tolist() == [[1, 2, 0]] * 4


def test_session_views_by_hand() -> None:
    # len 1: viewed {c:1}                    -> c, then popularity b, a      -> [2, 1, 0]
    # len 2: viewed {c:1 @1, a:1 @2}          -> a (more recent), c, then b   -> [0, 2, 1]
    # len 3: viewed {c:1, a:2}                -> a, c, b ; len 4 (cat page) same
    top = SessionViews().fit_sessions(TRAIN).topk_sessions(TEST, SAMPLES, 3)
    assert top.tolist() == [[2, 1, 0], [0, 2, 1], [0, 2, 1], [0, 2, 1]]


def test_session_views_count_beats_recency() -> None:
    # views a, a, c: a (2 views) before c (1 view, more recent)
    log = session_log([([0, 0, 2], [0])])
    samples = SessionSamples(session=i64([0]), length=i64([3]))
    assert SessionViews().fit_sessions(TRAIN).topk_sessions(log, samples, 2).tolist() == [[0, 2]]


def test_itemknn_sessions_by_hand() -> None:
    # viewed-in sessions V: a {t0,t2} (2), b {t0,t1,t2} (3), c {t1} (1), d {t3} (1)
    # bought-in sessions B: b {t0,t2} (2), c {t1} (1)
    # co-occurrence |V_i ∩ B_j|: (a,b)=2, (b,b)=2, (b,c)=1, (c,c)=1
    # cosine: s(a,b)=2/sqrt(2*2)=1, s(b,b)=2/sqrt(6)=.816, s(b,c)=1/sqrt(3)=.577, s(c,c)=1/1=1
    # len 1: viewed {c}    -> c:1, rest 0 -> c, then popularity b, a    -> [2, 1, 0]
    # len 2: viewed {c, a} -> b:1, c:1 tie -> popularity puts b first  -> [1, 2, 0]
    model = ItemKNN().fit_sessions(TRAIN)
    top = model.topk_sessions(TEST, SAMPLES, 3)
    assert top.tolist() == [[2, 1, 0], [1, 2, 0], [1, 2, 0], [1, 2, 0]]
    sim = model._similarity().toarray()
    assert sim[0, 1] == pytest.approx(1.0)
    assert sim[1, 1] == pytest.approx(2 / np.sqrt(6))
    assert sim[1, 2] == pytest.approx(1 / np.sqrt(3))


def test_als_sessions_deterministic_and_empty_prefix_falls_back_to_popularity() -> None:
    log = session_log([([CAT, 2], [2])], t0=10_000)
    samples = SessionSamples(session=i64([0, 0]), length=i64([1, 2]))
    a = ALS(factors=4, iterations=5).fit_sessions(TRAIN).topk_sessions(log, samples, 4)
    b = ALS(factors=4, iterations=5).fit_sessions(TRAIN).topk_sessions(log, samples, 4)
    assert np.array_equal(a, b)
    assert a[0].tolist() == [1, 2, 0, 3]  # category page only: no item -> popularity
    assert sorted(a[1].tolist()) == [0, 1, 2, 3]


def test_als_history_needs_user_ids_and_uses_earlier_purchases() -> None:
    with pytest.raises(AutorecError, match="user ids"):
        ALS(history=True).fit_sessions(TRAIN)
    train = session_log(
        [([0, 1, CAT], [1]), ([1, 2], [2]), ([0, 1], [1]), ([3], [])], users=[0, 1, 0, 1]
    )
    test = session_log([([CAT], [0]), ([CAT], [1])], users=[0, -1], t0=10_000)
    samples = SessionSamples(session=i64([0, 1]), length=i64([1, 1]))
    plain = ALS(factors=4, iterations=5).fit_sessions(train).topk_sessions(test, samples, 4)
    hist = ALS(factors=4, iterations=5, history=True).fit_sessions(train)
    top = hist.topk_sessions(test, samples, 4)
    # no viewed item: without history both rows are the popularity order; with history the
    # user-0 row is folded in from user 0's earlier purchases (b, b) and differs in general,
    # the anonymous row stays the popularity order
    assert plain.tolist() == [[1, 2, 0, 3]] * 2
    assert top[1].tolist() == [1, 2, 0, 3]
    from autorec.baselines._als import _history_for

    assert hist._hist is not None
    row, item = _history_for(hist._hist, test, samples)
    assert row.tolist() == [0, 0] and item.tolist() == [1, 1]


def test_session_views_rejects_purchase_data() -> None:
    log, proto = purchase_data()
    with pytest.raises(AutorecError, match="page views"):
        SessionViews().fit_purchases(log, proto)


def test_evaluate_sessions_with_a_baseline() -> None:
    # session-views on TEST: lists [c, b], [a, c], [a, c], [a, c]; bought {a}
    # -> top1 = 3/4, top2 = 3/4 (the first list misses a);
    # path: (s0, a) L1 = 4 views (bought after the last), L2 = 2 (first top-1 a) -> 0.5
    model = SessionViews().fit_sessions(TRAIN)
    out = evaluate_sessions(model, TEST, SAMPLES, ks=(1, 2))
    assert out == pytest.approx(
        {"top1": 0.75, "top2": 0.75, "path_compression": 0.5, "n_samples": 4}
    )


# ---- purchase histories -------------------------------------------------------------------
def ts(day: int) -> int:
    return int(datetime(2020, 1, day, tzinfo=timezone.utc).timestamp())


DATES = SplitDates(*(datetime(2020, 1, d, tzinfo=timezone.utc) for d in (1, 10, 20, 30)))


def purchase_data() -> tuple[PurchaseLog, PurchaseProtocol]:
    """Log items 0..4; the catalogue holds log items [0, 1, 2, 3] (item 4 only bought in Z).

    Purchases in [dx, dyz) = [1st, 20th):  u0: 0, 1   u1: 0, 1, 2   u2: 2, 3   u3: 1
    In Z: u0 buys 2, u2 buys 0, u3 buys 4.
    Popularity: item0 2, item1 3, item2 2, item3 1 -> order [1, 0, 2, 3] (0 before 2 by id)
    """
    rows = [
        (0, 0, 2),
        (0, 1, 12),
        (1, 0, 3),
        (1, 1, 4),
        (1, 2, 15),
        (2, 2, 5),
        (2, 3, 14),
        (3, 1, 6),
        (0, 2, 22),
        (2, 0, 23),
        (3, 4, 24),
    ]
    log = PurchaseLog(
        user=i64([u for u, _, _ in rows]),
        item=i64([i for _, i, _ in rows]),
        time=i64([ts(d) for _, _, d in rows]),
        users=IdMap.from_values(["u0", "u1", "u2", "u3"]),
        items=IdMap.from_values(["m0", "m1", "m2", "m3", "m4"]),
    )
    test = CustomerExamples(
        customers=i64([0, 2]),
        input_ptr=i64([0, 2, 4]),
        input_item=i64([0, 1, 2, 3]),
        input_age_days=np.zeros(4, dtype=np.float32),
        target_ptr=i64([0, 1, 2]),
        target_item=i64([2, 0]),
    )
    proto = PurchaseProtocol(
        dates=DATES,
        catalogue=i64([0, 1, 2, 3]),
        train=test,
        test=test,
        popularity=i64([2, 3, 2, 1]),
    )
    return log, proto


def test_popularity_customers_by_hand() -> None:
    # u0 excludes {0, 1} -> [2, 3]; u2 excludes {2, 3} -> [1, 0]
    log, proto = purchase_data()
    model = Popularity().fit_purchases(log, proto)
    assert model.topk_customers(proto.test, 2).tolist() == [[2, 3], [1, 0]]
    # Precision@2: u0 hits {2} -> 1/2, u2 hits {0} -> 1/2 => 0.5; PCC@2 = |{2, 0}|/4 = 0.5
    out = evaluate_customers(model, proto.test, proto.n_items, k=2)
    assert out == pytest.approx(
        {"precision@2": 0.5, "pcc@2": 0.5, "pcc@2_count": 2, "n_customers": 2}
    )
    # k larger than the eligible items pads with -1
    assert model.topk_customers(proto.test, 3).tolist() == [[2, 3, -1], [1, 0, -1]]


def test_itemknn_customers_by_hand() -> None:
    # buyers: item0 {u0,u1} (2), item1 {u0,u1,u3} (3), item2 {u1,u2} (2), item3 {u2} (1)
    # co-occurrence: (0,1)=2, (0,2)=1, (1,2)=1, (2,3)=1
    # cosine: s01=2/sqrt(6)=.816, s02=1/2=.5, s12=1/sqrt(6)=.408, s23=1/sqrt(2)=.707
    # u0 inputs {0,1}: item2 = .5 + .408 = .908, item3 = 0        -> [2, 3]
    # u2 inputs {2,3}: item0 = .5 + 0 = .5, item1 = .408 + 0 = .408 -> [0, 1]
    log, proto = purchase_data()
    model = ItemKNN().fit_purchases(log, proto)
    assert model.topk_customers(proto.test, 2).tolist() == [[2, 3], [0, 1]]
    sim = model._similarity().toarray()
    assert sim[0, 1] == pytest.approx(2 / np.sqrt(6))
    assert sim[2, 3] == pytest.approx(1 / np.sqrt(2))
    assert np.all(np.diag(sim) == 0)


def test_itemknn_customer_scores_by_hand() -> None:
    # the dense scores topk_customers ranks, inputs included (cosines as above):
    # u0 inputs {0,1}: item0 s10, item1 s01, item2 s02 + s12, item3 0
    # u2 inputs {2,3}: item0 s20, item1 s21, item2 s32, item3 s23
    log, proto = purchase_data()
    with pytest.raises(RuntimeError, match="not fitted for purchases"):
        ItemKNN().customer_scores(proto.test)
    model = ItemKNN().fit_purchases(log, proto)
    s01, s02, s12, s23 = 2 / np.sqrt(6), 0.5, 1 / np.sqrt(6), 1 / np.sqrt(2)
    assert model.customer_scores(proto.test) == pytest.approx(
        np.array([[s01, s01, s02 + s12, 0.0], [s02, s12, s23, s23]])
    )


def test_als_customers_excludes_inputs_and_is_deterministic() -> None:
    log, proto = purchase_data()
    a = ALS(factors=3, iterations=4).fit_purchases(log, proto).topk_customers(proto.test, 2)
    b = ALS(factors=3, iterations=4).fit_purchases(log, proto).topk_customers(proto.test, 2)
    assert np.array_equal(a, b)
    assert sorted(a[0].tolist()) == [2, 3] and sorted(a[1].tolist()) == [0, 1]
    with pytest.raises(AutorecError):
        ALS(history=True).fit_purchases(log, proto)


def test_registry() -> None:
    assert list(BASELINES) == [
        "popularity",
        "itemknn",
        "als",
        "ease",
        "session-views",
        "gru",
        "gru-copy",
    ]
    assert isinstance(make_baseline("itemknn", shrink=1.0), ItemKNN)
    with pytest.raises(AutorecError, match="unknown baseline"):
        make_baseline("nope")
    with pytest.raises(AutorecError):
        make_baseline("als", factors=0)
    with pytest.raises(AutorecError):
        make_baseline("popularity", bogus=1)


def test_batches_bound_memory_and_agree() -> None:
    log, proto = purchase_data()
    model = ItemKNN().fit_purchases(log, proto)
    full = model.topk_customers(proto.test, 2)
    model.max_cells = 1  # one customer per score matrix
    assert np.array_equal(model.topk_customers(proto.test, 2), full)
