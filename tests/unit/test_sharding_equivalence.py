"""Sharded (k = 2, 3) and unsharded training of generated networks from the same seed give
the same losses, weights and metrics after several optimiser steps, on CPU, for both
families
(docs/design.md#model-parallel-sharding; tolerance 1e-5 relative)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from autorec.evaluation import topk_excluding
from autorec.genome import Genome
from autorec.models import Dims, build_model
from autorec.sharding import (
    build_sharded_model,
    gather_logits,
    gathered_state_dict,
    is_sharded,
    sharded_topk,
)

DIMS = Dims(n_pages=40, n_items=61, n_users=5)
TOL = 1e-5


def _build(genome: Genome, devices: tuple[str, ...], cache: Path) -> nn.Module:
    """The generated network on ``devices``: with several, its source embeds the sharded
    item layers (``codegen/sharded.py``) and shards by itself."""
    torch.manual_seed(0)
    return build_model(genome, DIMS, devices=devices, cache_dir=cache)


CASES = [
    ("drnn", {"width": 3, "length": 2, "height": 1, "units_1": 12, "units_2": 8, "fnn": True,
              "fnn_layers": 2, "fnn_units": 6, "view_path": True, "loss": "softmax",
              "l2": 1e-3, "dropout": 0.2}),
    ("drnn", {"width": 1, "length": 1, "units_1": 8, "loss": "bce", "view_path": False,
              "optimizer": "nesterov", "momentum": 0.9}),
    ("predictor", {"layers": 2, "units_1": 12, "units_2": 6, "split_mode": "predictor",
                   "w1": 3.0, "w0": 0.5, "l2": 1e-3, "noise": 0.1}),
    ("predictor", {"layers": 1, "units_1": 10, "split_mode": "soft", "decay_mode": "learnt",
                   "wa1": 1.0, "wa0": 0.4, "wp1": 2.0, "wp0": 0.1, "to": 4.0, "beta": 0.01}),
]  # fmt: skip


SAMPLED = {"output": "sampled", "negatives": 12}  # sampled columns gathered from the shards
SAMPLED_CASES = [(family, {**genes, **SAMPLED}) for family, genes in (CASES[0], CASES[3])]


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize(
    ("family", "genes"),
    [*CASES, *SAMPLED_CASES],
)
def test_sharded_training_equals_unsharded(
    family: str, genes: dict[str, object], k: int, tmp_path: Path
) -> None:
    from _sharding_support import make_batch, make_optimizer

    genome = Genome.from_dict({"family": family, **genes, "batch_size": 16})
    plain = _build(genome, ("cpu",), tmp_path)
    sharded = _build(genome, ("cpu",) * k, tmp_path)
    assert is_sharded(sharded) and not is_sharded(plain)
    opts = [make_optimizer(genome, m) for m in (plain, sharded)]
    for step in range(4):
        batch = make_batch(genome, DIMS, 16, torch.Generator().manual_seed(step), mean=4)
        losses = []
        for model, opt in zip((plain, sharded), opts, strict=True):
            torch.manual_seed(100 + step)  # the same dropout / noise draws in both
            model.train()
            loss = model.loss(batch, model(batch))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert abs(losses[0] - losses[1]) <= TOL * max(1.0, abs(losses[0])), (step, losses)
    ref = plain.state_dict()
    got = gathered_state_dict(sharded)
    assert list(got) == list(ref)
    for key, value in got.items():
        torch.testing.assert_close(value, ref[key], rtol=TOL, atol=TOL)
    # evaluation: same logits, same top-K (inputs excluded for the predictor), same hits
    batch = make_batch(genome, DIMS, 16, torch.Generator().manual_seed(99), mean=4)
    plain.eval()
    sharded.eval()
    with torch.no_grad():
        z_plain = plain(batch)
        z_sharded = sharded(batch)
    assert not isinstance(z_sharded, torch.Tensor)  # the logits stay sharded
    torch.testing.assert_close(gather_logits(z_sharded), z_plain, rtol=TOL, atol=TOL)
    if family == "predictor":
        ex, ex_off = batch["x_idx"], batch["x_offsets"]
        tgt, t_off = batch["y_idx"], batch["y_offsets"]
    else:
        ex, ex_off = torch.zeros(0, dtype=torch.long), torch.zeros(16, dtype=torch.long)
        tgt, t_off = batch["target_idx"], batch["target_offsets"]
    top_plain = topk_excluding(z_plain, ex, ex_off, 10)
    top_sharded = sharded_topk(z_sharded, 10, ex, ex_off)
    assert torch.equal(top_plain, top_sharded)
    rows = torch.repeat_interleave(
        torch.arange(16), torch.diff(t_off, append=torch.tensor([len(tgt)]))
    )
    hits = [(top[rows] == tgt[:, None]).any(1).sum().item() for top in (top_plain, top_sharded)]
    assert hits[0] == hits[1]


def test_sharded_source_and_cache_name(tmp_path: Path) -> None:
    """The file of two devices imports the runtime (nothing pasted), differs from the
    one-device file in its DEVICES line only, is cached under a name with the device count,
    and build_sharded_model is build_model."""
    genome = Genome.from_dict({"family": CASES[2][0], **CASES[2][1]})
    model = _build(genome, ("cpu", "cpu"), tmp_path)
    path = Path(model.source_path)  # type: ignore[arg-type]
    assert path.name.endswith("_k2.py") and path.name.startswith(genome.key)
    source = path.read_text(encoding="utf-8")
    assert "from . import runtime as rt" in source and "class Sharded" not in source
    assert "import autorec" not in source and "import codegen" not in source
    plain = _build(genome, ("cpu",), tmp_path)
    one = Path(plain.source_path).read_text(encoding="utf-8")  # type: ignore[arg-type]
    diff = [(a, b) for a, b in zip(one.splitlines(), source.splitlines(), strict=True) if a != b]
    assert diff == [
        (
            'DEVICES = ("cpu",)  # devices[0] holds the network; one device',
            'DEVICES = ("cpu", "cpu")  # devices[0] holds the network; item layers split over all',
        )
    ]
    torch.manual_seed(0)
    alias = build_sharded_model(genome, DIMS, ("cpu", "cpu"), cache_dir=tmp_path)
    assert alias.source_path == model.source_path and is_sharded(alias)  # type: ignore[union-attr]
