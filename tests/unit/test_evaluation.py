"""topk_excluding and the batched evaluate_* functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autorec.data.types import CustomerExamples, IdMap, SessionLog, SessionSamples
from autorec.evaluation import (
    CustomerRanker,
    SessionRanker,
    evaluate_customers,
    evaluate_sessions,
    paired_session_difference,
    slice_examples,
    topk_excluding,
)


def test_topk_excluding_by_hand() -> None:
    scores = torch.tensor([[1.0, 3.0, 3.0, 2.0, 3.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    # row 0 excludes {2}: eligible 0:1, 1:3, 3:2, 4:3 -> 1 and 4 tie at 3 (lower index first), 3
    # row 1 excludes {0, 1}: all eligible tie at 0 -> 2, 3, 4
    top = topk_excluding(scores, torch.tensor([2, 0, 1]), torch.tensor([0, 1]), k=3)
    assert top.tolist() == [[1, 4, 3], [2, 3, 4]]
    assert scores[0, 2] == 3.0  # input untouched


def test_topk_excluding_ties_at_the_cut_take_lower_indices() -> None:
    # 6 equal scores, k=2 -> [0, 1]; with 0 excluded -> [1, 2]
    scores = torch.zeros(1, 6)
    assert topk_excluding(scores, [], [0], 2).tolist() == [[0, 1]]
    assert topk_excluding(scores, [0], [0], 2).tolist() == [[1, 2]]


def test_topk_excluding_pads_when_too_few_eligible() -> None:
    scores = torch.tensor([[5.0, 1.0, 2.0]])
    # 2 of 3 excluded, k=2 -> [2, -1]; k=5 > n -> [2, -1, -1, -1, -1]
    assert topk_excluding(scores, [0, 1], [0], 2).tolist() == [[2, -1]]
    assert topk_excluding(scores, [0, 1], [0], 5).tolist() == [[2, -1, -1, -1, -1]]


def test_topk_excluding_nan_and_neginf_rank_below_finite_above_excluded() -> None:
    scores = torch.tensor([[float("nan"), float("-inf"), -1e30, 7.0]])
    # excluded {3}: eligible -1e30 (2), then nan (0) and -inf (1) tie at the lowest finite value
    assert topk_excluding(scores, [3], [0], 3).tolist() == [[2, 0, 1]]


def test_topk_excluding_matches_torch_topk_without_ties() -> None:
    gen = torch.Generator().manual_seed(0)
    scores = torch.rand(50, 200, generator=gen, dtype=torch.float64)
    ref = torch.topk(scores, 10, dim=1).indices
    got = topk_excluding(scores, [], torch.zeros(50, dtype=torch.long), 10)
    assert torch.equal(ref, got)
    # exclusions: remove each row's best item -> the reference's next 10
    best = ref[:, 0]
    got = topk_excluding(scores, best, torch.arange(50), 10)
    assert torch.equal(got, torch.topk(scores.scatter(1, best[:, None], -1.0), 10).indices)


def test_topk_excluding_integer_scores_and_checks() -> None:
    assert topk_excluding(torch.tensor([[1, 3, 2]]), [], [0], 2).tolist() == [[1, 2]]
    with pytest.raises(ValueError):
        topk_excluding(torch.zeros(2, 3), [], [0], 2)
    with pytest.raises(ValueError):
        topk_excluding(torch.zeros(3), [], [0], 2)


def i64(values: list[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


class FixedRanker:
    """Returns stored recommendations row-aligned to what it is asked (checks batching)."""

    def __init__(self, recs: np.ndarray) -> None:
        self.recs = recs
        self.calls: list[int] = []
        self.pos = 0

    def topk_sessions(self, log: SessionLog, samples: SessionSamples, k: int) -> np.ndarray:
        n = len(samples.session)
        self.calls.append(n)
        out = self.recs[self.pos : self.pos + n, :k]
        self.pos += n
        return out

    def topk_customers(self, examples: CustomerExamples, k: int) -> np.ndarray:
        return self.topk_sessions(None, SessionSamples(examples.customers, examples.customers), k)  # type: ignore[arg-type]


def _two_sessions() -> tuple[SessionLog, SessionSamples]:
    """Session s0 views p0..p3 and buys i0, i1, i0; s1 views p2, p3 and buys i1; every
    prefix is a sample."""
    log = SessionLog(
        session_ids=np.array(["s0", "s1"]),
        user=i64([-1, -1]),
        start=i64([0, 100]),
        page_ptr=i64([0, 4, 6]),
        page=i64([0, 1, 2, 3, 2, 3]),
        view_time=i64([0, 10, 20, 30, 100, 110]),
        dwell=np.zeros(6, dtype=np.float32),
        buy_ptr=i64([0, 3, 4]),
        buy=i64([0, 1, 0, 1]),
        buy_time=i64([25, 35, 40, 105]),
        pages=IdMap.from_values(["p0", "p1", "p2", "p3"]),
        items=IdMap.from_values(["i0", "i1", "i2", "i3"]),
        users=IdMap.from_values([]),
        page_item=i64([0, 1, 2, 3]),
    )
    samples = SessionSamples(session=i64([0, 0, 0, 0, 1, 1]), length=i64([1, 2, 3, 4, 1, 2]))
    return log, samples


def test_evaluate_sessions_batches_and_matches_hand_values() -> None:
    # the same sessions, samples and lists as tests/unit/test_metrics.py (worked out there):
    # top1 = 4/6, top2 = 5/6, path compression = (2/3 + 1/4 + 1)/3 = 23/36
    log, samples = _two_sessions()
    recs = np.asarray([[1, 2], [0, 3], [2, 0], [1, 3], [0, 2], [1, 0]], dtype=np.int64)
    ranker = FixedRanker(recs)
    assert isinstance(ranker, SessionRanker)
    out = evaluate_sessions(ranker, log, samples, ks=(1, 2), batch_size=4)
    assert ranker.calls == [4, 2]
    assert out == pytest.approx(
        {"top1": 4 / 6, "top2": 5 / 6, "path_compression": 23 / 36, "n_samples": 6}
    )


def test_paired_session_difference_by_hand() -> None:
    log, samples = _two_sessions()  # s0 buys {i0, i1}, s1 buys {i1}
    a = FixedRanker(np.asarray([[1], [0], [2], [1], [1], [0]], dtype=np.int64))
    b = FixedRanker(np.asarray([[2], [2], [2], [0], [1], [1]], dtype=np.int64))
    out = paired_session_difference(a, b, log, samples, k=1, batch_size=4)
    # hits a: 1 1 0 1 | 1 0; b: 0 0 0 1 | 1 1; differences 1 1 0 0 | 0 -1, mean 1/6.
    # Deviations from 1/6 summed per session: s0 +4/3, s1 -4/3, so the clustered standard
    # error is sqrt(2 * 16/9) / 6.
    assert out == pytest.approx(
        {
            "a": 4 / 6,
            "b": 3 / 6,
            "diff": 1 / 6,
            "se": np.sqrt(32 / 9) / 6,
            "n_samples": 6,
            "n_sessions": 2,
        }
    )
    with pytest.raises(ValueError, match="positive"):
        paired_session_difference(a, b, log, samples, k=0)


def _examples() -> CustomerExamples:
    return CustomerExamples(
        customers=i64([0, 1, 2]),
        input_ptr=i64([0, 1, 3, 4]),
        input_item=i64([0, 2, 3, 0]),
        input_age_days=np.zeros(4, dtype=np.float32),
        target_ptr=i64([0, 2, 3, 5]),
        target_item=i64([1, 3, 4, 1, 4]),
    )


def test_slice_examples_rebases() -> None:
    part = slice_examples(_examples(), 1, 3)
    assert part.input_ptr.tolist() == [0, 2, 3]
    assert part.input_item.tolist() == [2, 3, 0]
    assert part.target_ptr.tolist() == [0, 1, 3]
    assert part.target_item.tolist() == [4, 1, 4]


def test_evaluate_customers_by_hand() -> None:
    # the 3-customer case of test_metrics: Precision@2 = 0.5, PCC@2 = 2/5 (count 2)
    ranker = FixedRanker(np.asarray([[0, 1], [2, 3], [1, 4]], dtype=np.int64))
    assert isinstance(ranker, CustomerRanker)
    out = evaluate_customers(ranker, _examples(), n_catalogue=5, k=2, batch_size=2)
    assert ranker.calls == [2, 1]
    assert out == pytest.approx(
        {"precision@2": 0.5, "pcc@2": 0.4, "pcc@2_count": 2, "n_customers": 3}
    )
