"""Sampled output (genes ``output: sampled``, ``negatives: N``): in training the
generated network scores only the batch's positives plus N shared, uniformly sampled items,
with importance weights (the logQ correction) that make every sum over items an unbiased
estimate; evaluation stays over the full catalogue."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

import codegen
from autorec.genome import Genome
from autorec.models import Dims, build_model
from autorec.train.optim import make_optimizer, row_sparse_parameters
from codegen import runtime as rt

DIMS = Dims(n_pages=30, n_items=40, n_users=4)
DRAWS = 200  # Monte-Carlo draws of the negatives per expectation check


def _genome(family: str, **genes: Any) -> Genome:
    return Genome.from_dict({"family": family, **genes, "output": "sampled", "negatives": 16})


def _batch(genome: Genome, seed: int = 0) -> dict[str, torch.Tensor]:
    from _sharding_support import make_batch

    return make_batch(genome, DIMS, 8, torch.Generator().manual_seed(seed), mean=3)


GENOMES = {
    "drnn_softmax": ("drnn", {"width": 2, "length": 1, "units_1": 8, "loss": "softmax",
                              "fnn": True, "fnn_layers": 1, "fnn_units": 4, "view_path": True}),
    "drnn_bce": ("drnn", {"width": 2, "length": 2, "height": 1, "units_1": 8, "units_2": 6,
                          "loss": "bce"}),
    "predictor": ("predictor", {"layers": 1, "units_1": 8, "split_mode": "predictor",
                                "w1": 2.0, "w0": 0.5}),
    "soft": ("predictor", {"layers": 1, "units_1": 8, "split_mode": "soft", "wa1": 1.0,
                           "wa0": 0.3, "wp1": 2.0, "wp0": 0.2, "to": 5.0}),
    "equal": ("predictor", {"layers": 1, "units_1": 8, "split_mode": "equal", "wa1": 0.0,
                            "wa0": 0.3, "wp1": 1.0, "wp0": 0.4}),
}  # fmt: skip


def _model(name: str, tmp_path: Path, scale: float = 1.0) -> tuple[Genome, Any]:
    """The network of ``GENOMES[name]`` with its weight matrices times ``scale`` (a wider
    spread of logits than at initialisation: a harder case for the estimator)."""
    family, genes = GENOMES[name]
    genome = _genome(family, **genes)
    torch.manual_seed(0)
    model = build_model(genome, DIMS, cache_dir=tmp_path)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.mul_(scale)
    return genome, model


def _data_loss(model: Any, batch: dict[str, torch.Tensor], out: Any) -> torch.Tensor:
    """The family loss of the runtime (no penalties) on what ``model``'s forward returned."""
    if isinstance(model.config, rt.DrnnConfig):
        return rt.drnn_loss(model.config, batch, out)
    return rt.predictor_loss(model.config, batch, out)


def _full_loss(genome: Genome, model: Any, batch: dict[str, torch.Tensor], tmp: Path) -> float:
    """The training loss of ``model``'s weights over every item: the same network with a full
    output (no dropout or noise in these genomes), every state scored."""
    twin: Any = build_model(Genome.from_dict({**genome.to_dict(), "output": "full"}), DIMS,
                            cache_dir=tmp)  # fmt: skip
    twin.load_state_dict(model.state_dict())
    twin.train()
    with torch.no_grad():
        return float(_data_loss(twin, batch, twin(batch)))


def _mc(model: Any, batch: dict[str, torch.Tensor], fn: Any) -> torch.Tensor:
    """``fn(sampled logits)`` over DRAWS seeds of the model's negative sampler."""
    out = []
    model.train()
    with torch.no_grad():
        for seed in range(DRAWS):
            model.sampler.manual_seed(seed)
            out.append(fn(model(batch)))
    return torch.stack(out)


@pytest.mark.parametrize("name", ["drnn_bce", "predictor", "soft", "equal"])
def test_sampled_bce_is_unbiased(name: str, tmp_path: Path) -> None:
    """Weighted BCE (DRNN bce, soft-split eq. 3, 7-9): the sampled loss is an unbiased
    estimate of the full loss; the mean of DRAWS draws is within 4 standard errors."""
    genome, model = _model(name, tmp_path, scale=3.0)
    batch = _batch(genome)
    full = _full_loss(genome, model, batch, tmp_path)
    draws = _mc(model, batch, lambda out: _data_loss(model, batch, out))
    se = float(draws.std()) / math.sqrt(DRAWS)
    assert abs(float(draws.mean()) - full) <= 4 * se + 1e-6 * abs(full), (draws.mean(), full, se)
    assert float(draws.std()) > 0  # it is really sampled


def test_sampled_softmax_partition_is_unbiased_and_loss_close(tmp_path: Path) -> None:
    """Sampled softmax: exp of the estimated log-partition (logsumexp of z + log weight over
    the candidates, the logQ correction) is an unbiased estimate of sum_j exp(z_j) -- mean of
    DRAWS draws within 4 standard errors per row. The loss itself takes the log of that
    estimate, so it is biased low by about Var/(2 Z^2) (Jensen); at initialisation scale the
    mean loss is within 4 standard errors plus 2 % of the full loss (the partition check is
    also run on 3x wider logits, where that bias grows)."""
    for scale in (3.0, 1.0):
        _check_partition(tmp_path, scale)
    genome, model = _model("drnn_softmax", tmp_path)
    batch = _batch(genome)
    full = _full_loss(genome, model, batch, tmp_path)
    losses = _mc(model, batch, lambda out: _data_loss(model, batch, out))
    loss_se = float(losses.std()) / math.sqrt(DRAWS)
    assert abs(float(losses.mean()) - full) <= 4 * loss_se + 0.02 * full, (losses.mean(), full)


def _check_partition(tmp_path: Path, scale: float) -> None:
    genome, model = _model("drnn_softmax", tmp_path, scale)
    batch = _batch(genome)
    model.eval()
    with torch.no_grad():
        z_full = model(batch)
    partition = torch.logsumexp(z_full, -1).exp()

    def z_hat(out: Any) -> torch.Tensor:
        s = out.logits
        return torch.logsumexp(s.scores + s.weight.log(), -1).exp()

    draws = _mc(model, batch, z_hat)  # [DRAWS, B]
    se = draws.std(0) / math.sqrt(DRAWS)
    assert bool((abs(draws.mean(0) - partition) <= 4 * se + 1e-5 * partition).all())


@pytest.mark.parametrize("name", list(GENOMES))
def test_gradients_flow_to_candidates_only(name: str, tmp_path: Path) -> None:
    genome, model = _model(name, tmp_path)
    batch = _batch(genome)
    model.train()
    out = model(batch)
    logits = out.logits
    assert type(logits).__name__ == "SampledLogits"
    n_cand = len(logits.cols)
    assert logits.scores.shape[-1] == n_cand < DIMS.n_items + 16
    positives = batch["target_idx" if genome.family == "drnn" else "y_idx"]
    assert bool(torch.isin(positives, logits.cols).all())  # positives always included
    model.loss(batch, out).backward()
    out = model.heads.top if genome.family == "drnn" else model.out
    rows = out.weight.grad.to_dense().abs().sum(1) > 0  # row-sparse gradient
    assert bool(rows.any()) and set(rows.nonzero().flatten().tolist()) <= set(logits.cols.tolist())
    table = model.stack.pages if genome.family == "drnn" else model.input
    assert float(table.weight.grad.to_dense().abs().sum()) > 0
    model.eval()  # evaluation: every item scored
    with torch.no_grad():
        assert model(batch).shape == (8, DIMS.n_items)


@pytest.mark.parametrize("name", ["drnn_softmax", "soft"])
def test_sampled_genome_trains_and_loss_decreases(name: str, tmp_path: Path) -> None:
    genome, model = _model(name, tmp_path)
    batch = _batch(genome, seed=1)
    # the item tables' gradients are row-sparse: Adam + SparseAdam (autorec.train.optim)
    opt = make_optimizer(
        model.parameters(),
        "adam",
        learning_rate=0.02,
        momentum=0.9,
        sparse=row_sparse_parameters(model),
    )

    def full_loss() -> float:
        model.eval()
        with torch.no_grad():
            return float(_data_loss(model, batch, model(batch)))

    before = full_loss()
    sampled = []
    for _ in range(40):
        model.train()
        loss = model.loss(batch, model(batch))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sampled.append(float(loss.detach()))
    assert full_loss() < 0.8 * before
    assert sum(sampled[-5:]) < sum(sampled[:5])


def test_sampler_is_seeded_from_the_global_rng(tmp_path: Path) -> None:
    genome, _ = _model("predictor", tmp_path)
    batch = _batch(genome)
    cols = []
    for _ in range(2):
        torch.manual_seed(3)
        model: Any = build_model(genome, DIMS, cache_dir=tmp_path).train()
        cols.append(model(batch).logits.cols)
    assert torch.equal(cols[0], cols[1])


def test_spec_checks_output_fields() -> None:
    spec = codegen.PredictorSpec(
        units=(4,), activation="relu", noise=0.0, dropout=0.0, decay_mode="none", ti=1.0,
        w1=1.0, w0=1.0, l2=0.0, beta=0.0, rho=0.1, split_mode="predictor", to=1.0, wa1=0.0,
        wa0=0.0, wp1=0.0, wp0=0.0, n_items=5,
    )  # fmt: skip
    with pytest.raises(codegen.SpecError, match="negatives"):
        replace(spec, negatives=8)
    with pytest.raises(codegen.SpecError, match="negatives"):
        replace(spec, output="sampled")
    with pytest.raises(codegen.SpecError, match="output"):
        replace(spec, output="blocked", negatives=8)
    source = codegen.render(replace(spec, output="sampled", negatives=8))
    assert "negatives=8" in source and 'output="sampled"' in source
    config = codegen.render(spec).split("CONFIG = ", 1)[1].split("\n)\n", 1)[0]
    assert "output=" not in config and "negatives=" not in config  # full: the defaults
