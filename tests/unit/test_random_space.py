"""autorec.tune.tune_param_space: SearchSpace -> Tune param_space for Tune's random search."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("ray.tune.search")

from ray.tune.search.sample import Categorical, Float, Integer, LogUniform, Uniform
from ray.tune.search.variant_generator import generate_variants

from autorec.genome import KINDS, Genome, SearchSpace
from autorec.tune import genome_from_sample, tune_domain, tune_param_space

SPACES = ("drnn", "predictor", "soft_split")


def _samples(space: SearchSpace, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` configs drawn the way Tune's BasicVariantGenerator draws them."""
    spec = {"config": tune_param_space(space)}
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        for _resolved, variant in generate_variants(spec, random_state=rng):
            out.append(dict(variant["config"]))
    return out


def test_every_gene_kind_is_converted() -> None:
    seen: set[str] = set()
    for name in SPACES:
        space = SearchSpace.from_yaml(name)
        ps = tune_param_space(space)
        assert ps["family"] == space.family
        assert set(ps) == {"family", *space.genes}
        for gname, gene in space.genes.items():
            dom = ps[gname]
            if gene.fixed:
                seen.add("fixed")
                assert dom == gene.default
                continue
            seen.add(gene.kind)
            assert dom is tune_domain(gene) or type(dom) is type(tune_domain(gene))
            if gene.kind in ("int", "log_int"):
                assert isinstance(dom, Integer)
                assert (dom.lower, dom.upper) == (gene.low, gene.high + 1)  # type: ignore[operator]
                sampler = LogUniform if gene.kind == "log_int" else Uniform
                assert isinstance(dom.get_sampler(), sampler)  # type: ignore[no-untyped-call]
            elif gene.kind in ("float", "log_float"):
                assert isinstance(dom, Float)
                assert (dom.lower, dom.upper) == (gene.low, gene.high)
                sampler = LogUniform if gene.kind == "log_float" else Uniform
                assert isinstance(dom.get_sampler(), sampler)  # type: ignore[no-untyped-call]
            elif gene.kind == "bool":
                assert isinstance(dom, Categorical)
                assert list(dom.categories) == [False, True]
            else:
                assert isinstance(dom, Categorical)
                assert list(dom.categories) == list(gene.choices)
    assert seen == {*KINDS, "fixed"}


@pytest.mark.parametrize("name", SPACES)
def test_sampled_configs_validate_as_genomes(name: str) -> None:
    space = SearchSpace.from_yaml(name)
    configs = _samples(space, 150, seed=1)
    keys = set()
    for config in configs:
        genome = genome_from_sample(space, config)
        space.validate(genome)
        keys.add(genome.key)
        for gname, gene in space.genes.items():
            if (
                gname in genome.active
                and not gene.fixed
                and gene.kind != "float"
                and (gene.kind != "log_float" and gname != "height")
            ):
                assert genome[gname] == config[gname], gname  # only repair changes values
    assert len(keys) > 140  # random search rarely repeats a genome
    # integer bounds are inclusive: both ends of the small ranges are drawn
    for gname, gene in space.genes.items():
        if (
            gene.kind == "int"
            and not gene.fixed
            and gname != "height"
            and gene.high - gene.low <= 8
        ):  # type: ignore[operator]
            drawn = {c[gname] for c in configs}
            assert gene.low in drawn and gene.high in drawn, gname


def test_height_is_clamped_then_repaired() -> None:
    space = SearchSpace.from_yaml("drnn")
    configs = _samples(space, 200, seed=2)
    assert any(c["height"] > c["length"] - 1 for c in configs)  # Tune does draw invalid ones
    for config in configs:
        genome = genome_from_sample(space, config)
        assert genome["height"] == min(config["height"], config["length"] - 1)
    bad = {**space.default_genome().to_dict(), "length": 1, "height": 3, "dropout": 0.1234567891}
    genome = genome_from_sample(space, bad)
    assert genome["height"] == 0
    assert genome["dropout"] == 0.123457  # snapped to 6 significant digits by repair
    assert isinstance(genome, Genome)


def test_same_random_state_same_configs() -> None:
    space = SearchSpace.from_yaml("predictor")
    a = [genome_from_sample(space, c).key for c in _samples(space, 20, seed=5)]
    b = [genome_from_sample(space, c).key for c in _samples(space, 20, seed=5)]
    c = [genome_from_sample(space, c).key for c in _samples(space, 20, seed=6)]
    assert a == b
    assert a != c
