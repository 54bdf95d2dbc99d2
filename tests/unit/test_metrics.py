"""Metrics on small cases worked out by hand
(docs/design.md#data-formats-and-evaluation-protocols)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autorec.data.types import IdMap, SessionLog, SessionSamples
from autorec.metrics import (
    hit_matrix,
    path_compression,
    path_compression_ratio,
    pcc_at_k,
    precision_at_k,
    topk_accuracy,
)


def i64(values: list[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def session_log(sessions: list[dict[str, list[tuple[int, int]]]], n_items: int) -> SessionLog:
    """Sessions of ``{"views": [(page, time)], "buys": [(item, time)]}``; page p shows item p."""
    views = [s["views"] for s in sessions]
    buys = [s["buys"] for s in sessions]
    page = [p for v in views for p, _ in v]
    return SessionLog(
        session_ids=np.array([f"s{i}" for i in range(len(sessions))]),
        user=np.full(len(sessions), -1, dtype=np.int64),
        start=i64([v[0][1] for v in views]),
        page_ptr=i64([0, *np.cumsum([len(v) for v in views]).tolist()]),
        page=i64(page),
        view_time=i64([t for v in views for _, t in v]),
        dwell=np.zeros(len(page), dtype=np.float32),
        buy_ptr=i64([0, *np.cumsum([len(b) for b in buys]).tolist()]),
        buy=i64([i for b in buys for i, _ in b]),
        buy_time=i64([t for b in buys for _, t in b]),
        pages=IdMap.from_values([f"p{i}" for i in range(n_items)]),
        items=IdMap.from_values([f"i{i}" for i in range(n_items)]),
        users=IdMap.from_values([]),
        page_item=np.arange(n_items, dtype=np.int64),
    )


# ---- purchase-history protocol ------------------------------------------------------------
# 3 customers, K=2, catalogue of 5 items.
#   customer 0: recs [0, 1], bought Z = {1, 3} -> hit {1}     -> |Rec∩T|/K = 1/2
#   customer 1: recs [2, 3], bought Z = {4}    -> hit {}      -> 0/2
#   customer 2: recs [1, 4], bought Z = {1, 4} -> hit {1, 4}  -> 2/2
# Precision@2 = (1/2 + 0 + 1)/3 = 0.5 ; PCC@2 = |{1} ∪ {} ∪ {1, 4}| / 5 = 2/5 = 0.4 (count 2)
# K=1 (first column): hits c0 {} (0), c1 {} (2), c2 {1} -> Precision@1 = 1/3, PCC@1 = 1/5
RECS = np.asarray([[0, 1], [2, 3], [1, 4]], dtype=np.int64)
T_PTR = i64([0, 2, 3, 5])
T_ITEM = i64([1, 3, 4, 1, 4])


def test_hit_matrix_by_hand() -> None:
    hits = hit_matrix(RECS, T_PTR, T_ITEM)
    assert hits.tolist() == [[False, True], [False, False], [True, True]]


def test_precision_at_k_by_hand() -> None:
    assert precision_at_k(RECS, T_PTR, T_ITEM) == pytest.approx(0.5)
    assert precision_at_k(RECS, T_PTR, T_ITEM, k=1) == pytest.approx(1 / 3)


def test_pcc_at_k_by_hand() -> None:
    assert pcc_at_k(RECS, T_PTR, T_ITEM, n_catalogue=5) == pytest.approx((0.4, 2))
    assert pcc_at_k(RECS, T_PTR, T_ITEM, n_catalogue=5, k=1) == pytest.approx((0.2, 1))


def test_padding_and_duplicates_never_hit_twice() -> None:
    # one customer, K=3, recs [1, 1, -1], bought {1}: the set Rec = {1} -> 1 hit -> 1/3
    assert precision_at_k(np.asarray([[1, 1, -1]]), i64([0, 1]), i64([1])) == pytest.approx(1 / 3)
    assert pcc_at_k(np.asarray([[1, 1, -1]]), i64([0, 1]), i64([1]), n_catalogue=4) == (0.25, 1)


def test_no_customers() -> None:
    empty = np.zeros((0, 2), dtype=np.int64)
    assert precision_at_k(empty, i64([0]), i64([])) == 0.0
    assert pcc_at_k(empty, i64([0]), i64([]), n_catalogue=3) == (0.0, 0)


# ---- session protocol ---------------------------------------------------------------------
# Items/pages 0..3 ("A"=0, "B"=1, "C"=2, "D"=3), page p shows item p.
#   session 0: views at t=0,10,20,30; buys A@25, B@35, A@40 (A twice: counted once, at 25)
#   session 1: views at t=100,110;     buys B@105
# Samples: every prefix: s0 lengths 1..4, s1 lengths 1..2 (6 samples).
# Recommendation lists (top-2) per sample:
#   s0/1 [B, C]  s0/2 [A, D]  s0/3 [C, A]  s0/4 [B, D]  s1/1 [A, C]  s1/2 [B, A]
# top-1 hits: s0/1 B∈{A,B} yes, s0/2 A yes, s0/3 C no, s0/4 B yes, s1/1 A∉{B} no, s1/2 yes
#   -> top1 = 4/6 ; top-2 adds s0/3 (A) -> top2 = 5/6
# Path compression:
#   (s0, A): L1 = views at or before 25 = {0,10,20} = 3; top-1 is A first at length 2 -> 2/3
#   (s0, B): L1 = views <= 35 = 4; top-1 is B at length 1 -> 1/4
#   (s1, B): L1 = views <= 105 = 1; length 1 predicts A; length 2 > L1 -> L2 = L1 = 1 -> 1
#   ratio = (2/3 + 1/4 + 1) / 3 = 23/36
A, B, C, D = 0, 1, 2, 3
LOG = session_log(
    [
        {"views": [(0, 0), (1, 10), (2, 20), (3, 30)], "buys": [(A, 25), (B, 35), (A, 40)]},
        {"views": [(2, 100), (3, 110)], "buys": [(B, 105)]},
    ],
    n_items=4,
)
SAMPLES = SessionSamples(session=i64([0, 0, 0, 0, 1, 1]), length=i64([1, 2, 3, 4, 1, 2]))
S_RECS = np.asarray([[B, C], [A, D], [C, A], [B, D], [A, C], [B, A]], dtype=np.int64)


def test_topk_accuracy_by_hand() -> None:
    assert topk_accuracy(S_RECS, LOG, SAMPLES, k=1) == pytest.approx(4 / 6)
    assert topk_accuracy(S_RECS, LOG, SAMPLES, k=2) == pytest.approx(5 / 6)


def test_path_compression_by_hand() -> None:
    pc = path_compression(S_RECS[:, 0], LOG, SAMPLES)
    assert pc.session.tolist() == [0, 0, 1]
    assert pc.item.tolist() == [A, B, B]
    assert pc.l1.tolist() == [3, 4, 1]
    assert pc.l2.tolist() == [2, 1, 1]
    assert pc.ratio == pytest.approx(23 / 36)


def test_path_compression_never_predicted_is_one() -> None:
    # nothing ever predicted right -> every L2 = L1 -> ratio 1
    top1 = np.full(6, D, dtype=np.int64)
    assert path_compression_ratio(top1, LOG, SAMPLES) == pytest.approx(1.0)


def test_path_compression_late_prediction_does_not_count() -> None:
    # (s0, A) bought after 3 views; a correct top-1 only at length 4 (after the buy) -> L2 = L1
    top1 = i64([D, D, D, A, D, D])
    pc = path_compression(top1, LOG, SAMPLES)
    assert pc.l2.tolist() == [3, 4, 1]


def test_path_compression_purchase_before_any_view_is_left_out() -> None:
    # session 0 buys C at t=5 before its first view (t=10): L1 = 0 -> pair dropped;
    # (s0, A) at t=15: L1 = 1, predicted at length 1 -> 1/1. Ratio = 1.
    log = session_log([{"views": [(0, 10), (1, 20)], "buys": [(C, 5), (A, 15)]}], n_items=4)
    samples = SessionSamples(session=i64([0, 0]), length=i64([1, 2]))
    pc = path_compression(i64([A, A]), log, samples)
    assert pc.item.tolist() == [A]
    assert pc.ratio == pytest.approx(1.0)
    # only the L1 = 0 pair -> no pair at all -> NaN
    log2 = session_log([{"views": [(0, 10)], "buys": [(C, 5)]}], n_items=4)
    one = SessionSamples(session=i64([0]), length=i64([1]))
    assert math.isnan(path_compression_ratio(i64([C]), log2, one))


def test_path_compression_only_sessions_with_samples() -> None:
    # samples of session 1 only: the single pair (s1, B) -> ratio 1
    samples = SessionSamples(session=i64([1, 1]), length=i64([1, 2]))
    assert path_compression_ratio(i64([A, B]), LOG, samples) == pytest.approx(1.0)
