"""The cause measurements of the reproductions, on hand-made results: the depth
intervention's verdict and its weight hook, and the history-state swap's."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_reproduce_quick import _load


def _res(module: Any, p1: dict[tuple[str, int], float]) -> list[Any]:
    out = []
    for (factor, depth), value in p1.items():
        kw = {"out_scale": module.SHRINK if depth == 1 else 1 / module.SHRINK}
        cfg = module.Config(factor, depth, **(kw if factor == "initialisation" else {}))
        out.append((cfg, {"values": {"p1": [value], "val_p10": [0.05]}}))
    return out


@pytest.mark.parametrize(
    ("i1", "i4", "verdict"),
    [
        (0.16, 0.14, "is the cause"),  # both cross the half-gap line (0.15)
        (0.13, 0.18, "part of the cause"),  # 30 % and 20 % of the gap
        (0.105, 0.195, "is not the cause"),  # 5 % each
    ],
)
def test_depth_intervention_reports_the_share_of_the_gap(
    i1: float, i4: float, verdict: str
) -> None:
    dc = _load("depth_causes")
    res = _res(dc, {("initialisation", 1): i1, ("initialisation", 4): i4})
    text = dc._intervention(res, 0.10, 0.20)
    assert verdict in text
    assert f"closes {round(100 * (i1 - 0.10) / 0.10)} %" in text


def test_scale_output_multiplies_only_the_output_weights() -> None:
    dc = _load("depth_causes")
    assert dc.scale_output(1.0) is None
    net = torch.nn.Module()
    net.out = torch.nn.Linear(2, 3)
    net.hidden = torch.nn.Linear(2, 2)
    before_out, before_hidden = net.out.weight.clone(), net.hidden.weight.clone()
    hook = dc.scale_output(0.1)
    assert hook is not None
    hook(net, None, None)
    assert torch.allclose(net.out.weight, 0.1 * before_out)
    assert torch.equal(net.hidden.weight, before_hidden)
    with pytest.raises(RuntimeError, match=r"no out\.weight"):
        hook(torch.nn.Linear(2, 2), None, None)


def _structure(arms: dict[tuple[bool, bool], float]) -> Any:
    return SimpleNamespace(
        arms={
            ("history", tuned, on): SimpleNamespace(metrics={"top1": v})
            for (tuned, on), v in arms.items()
        }
    )


def test_history_swap_separates_the_state_from_the_winners_genes() -> None:
    ts = _load("tune_structure")
    # default gain +0.03, tuned arms +0.06
    s = _structure(
        {(False, False): 0.47, (False, True): 0.50, (True, False): 0.67, (True, True): 0.73}
    )
    # the state itself is worth +0.05 / +0.07 on the two winners: mean +0.06
    own = ts.swap_cause(s, {"without": {"top1": 0.72}, "with": {"top1": 0.66}}, quick=False)
    assert "mean +0.060" in own and "is the state itself" in own and "worth more" in own
    # worth nothing on either winner: the gap is the other genes
    other = ts.swap_cause(s, {"without": {"top1": 0.67}, "with": {"top1": 0.73}}, quick=False)
    assert "mean +0.000" in other and "not the state" in other
    assert "does shrink after tuning (+0.030 on the default genome, +0.000" in other
    assert "--quick" in ts.swap_cause(s, {}, quick=True)
