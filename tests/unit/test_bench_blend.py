"""The blend benchmark's parts on hand-made scores: standardising, blending, the paired figure,
and the public score accessors it reads (a network's logits, a baseline's dense scores)."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
import torch
from bench_modules import load_bench

from autorec.data.types import CustomerExamples


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("bench_blend")


def _examples() -> CustomerExamples:
    """Two customers over 4 items: c0 bought {0}, c1 bought {2, 3}; targets unused."""
    return CustomerExamples(
        customers=np.array([0, 1]),
        input_ptr=np.array([0, 1, 3]),
        input_item=np.array([0, 2, 3]),
        input_age_days=np.zeros(3, dtype=np.float32),
        target_ptr=np.array([0, 1, 2]),
        target_item=np.array([1, 0]),
    )


class _Fixed(torch.nn.Module):
    """A 'network' whose logits are the same row for every customer: [4, 3, 2, 1]."""

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.tensor([[4.0, 3.0, 2.0, 1.0]]).repeat(len(batch["x_offsets"]), 1)


class _Peer:
    """A 'baseline' that only likes item 3: dense scores [0, 0, 0, 3] for every customer."""

    def customer_scores(self, examples: CustomerExamples) -> np.ndarray:
        return np.tile([0.0, 0.0, 0.0, 3.0], (examples.n_customers, 1))


def _net() -> object:
    from autorec.models import batches
    from autorec.train import ModelCustomerRanker

    return ModelCustomerRanker(_Fixed().train(), batches.purchase_batch)


def test_standardised_rows(bench: ModuleType) -> None:
    z = bench.standardised(torch.tensor([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]], dtype=torch.float64))
    # row 0: mean 2, sample std 1 -> [-1, 0, 1]; a constant row has nothing to say -> 0
    assert z.tolist() == [[-1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]


def test_model_ranker_scores_are_the_logits_in_eval_mode() -> None:
    ranker = _net()
    scores = ranker.scores(_examples(), np.array([1]))  # type: ignore[attr-defined]
    assert scores.tolist() == [[4.0, 3.0, 2.0, 1.0]]
    assert ranker.model.training  # type: ignore[attr-defined]  # the mode it was in, restored


def test_blend_by_hand(bench: ModuleType) -> None:
    # z(net) = [3, 1, -1, -3] / sqrt(20/3) = [1.16, 0.39, -0.39, -1.16]
    # z(peer) = [-0.5, -0.5, -0.5, 1.5]
    # w = 0: the net's order; c0 excludes 0 -> [1, 2]; c1 excludes {2, 3} -> [0, 1]
    # w = 4: [-0.84, -1.61, -2.39, 4.84] -> item 3 first; c0 -> [3, 1]; c1 still [0, 1]
    examples = _examples()
    alone = bench.BlendRanker(_net(), _Peer(), 0.0).topk_customers(examples, 2)
    assert alone.tolist() == [[1, 2], [0, 1]]
    blend = bench.BlendRanker(_net(), _Peer(), 4.0).topk_customers(examples, 2)
    assert blend.tolist() == [[3, 1], [0, 1]]


def test_paired_against_each_origins_best_peer(bench: ModuleType) -> None:
    rows = [
        {"origin": 0, "values": {"net": [0.2, 0.0], "ease": [0.1, 0.1], "knn": [0.0, 0.0]}},
        {"origin": 1, "values": {"net": [0.0, 0.0], "ease": [0.0, 0.0], "knn": [0.1, 0.1]}},
    ]
    # origin 0: net - ease = [0.1, -0.1]; origin 1: net - knn = [-0.1, -0.1]
    # pooled mean -0.05 over 4 customers; sample std 0.1 -> se 0.05; wins 0/2 (0 is not > 0)
    # against ease alone: [0.1, -0.1, 0, 0] -> mean 0, sample std 0.0816 -> se 0.0408; wins 0/2
    # against knn alone: [0.2, 0, -0.1, -0.1] -> mean 0, std 0.1414 -> se 0.0707; wins 1/2
    assert bench.paired(rows, ["ease", "knn"]) == [
        "  net - ease: +0.0000 ± 0.0408 over 4 customers; wins 0/2 origins",
        "  net - knn: +0.0000 ± 0.0707 over 4 customers; wins 1/2 origins",
        "  net - best peer: -0.0500 ± 0.0500 over 4 customers; wins 0/2 origins",
    ]


def test_quick_run(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out
    header = "| origin | customers | w chosen | net | itemknn | net+itemknn | net+itemknn w=1 |"
    assert header in out
    assert "net+itemknn - best peer:" in out
