"""Genome: schema limits, canonical key, YAML files and the GA operators (no torch, no Ray)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autorec.errors import AutorecError
from autorec.genome import (
    BUILTIN_SPACES,
    MAX_LAYERS,
    SCHEMAS,
    Genome,
    SearchSpace,
    active_genes,
    load_genome,
)


def drnn(**genes: object) -> Genome:
    return Genome.from_dict({"family": "drnn", **genes})


def pred(**genes: object) -> Genome:
    return Genome.from_dict({"family": "predictor", **genes})


# -- schema / hard limits -----------------------------------------------------------------------
def test_defaults_fill_missing_genes() -> None:
    g = drnn(width=3)
    assert g["width"] == 3
    assert set(g.genes) == set(SCHEMAS["drnn"])
    assert g["activation"] == "relu"
    assert pred()["split_mode"] == "predictor"


@pytest.mark.parametrize(
    ("genes", "needles"),
    [
        ({"width": 0}, ["width", "0", "[1, inf)"]),
        ({"units_1": -3}, ["units_1", "-3"]),
        ({"activation": "relux"}, ["activation", "relux", "did you mean 'relu'"]),
        ({"dropout": 1.0}, ["dropout", "[0, 1)"]),
        ({"width": 2.5}, ["width", "integer", "2.5"]),
        ({"width": True}, ["width", "number"]),
        ({"fnn": "yes"}, ["fnn", "true or false"]),
        ({"length": 2, "height": 2}, ["height", "length-1 = 1"]),
        ({"length": MAX_LAYERS + 1}, ["length"]),
        ({"widht": 3}, ["widht", "did you mean 'width'"]),
        ({"learning_rate": 0}, ["learning_rate"]),
    ],
)
def test_hard_limits_are_errors(genes: dict[str, object], needles: list[str]) -> None:
    with pytest.raises(AutorecError) as exc:
        drnn(**genes)
    msg = str(exc.value)
    for n in needles:
        assert n in msg, (n, msg)


def test_values_are_not_clamped_and_types_canonical() -> None:
    g = drnn(width=2.0, learning_rate="1e-3", dropout=0)
    assert g["width"] == 2 and isinstance(g["width"], int)
    assert g["learning_rate"] == 0.001 and isinstance(g["learning_rate"], float)
    assert isinstance(g["dropout"], float)
    with pytest.raises(AutorecError):
        pred(rho=1.0)
    with pytest.raises(AutorecError, match="family"):
        Genome.from_dict({"family": "drn"})


def test_typed_accessors() -> None:
    g = drnn(width=3, learning_rate=0.01, fnn=True)
    assert g.get_int("width") == 3 and g.get_float("learning_rate") == 0.01
    assert g.get_float("width") == 3.0 and g.get_str("activation") == "relu"
    assert g.get_bool("fnn") is True
    with pytest.raises(TypeError):
        g.get_int("activation")
    with pytest.raises(TypeError):
        g.get_bool("width")


def test_active_genes_rules() -> None:
    g = drnn(length=2, fnn=False, output="full")
    act = active_genes("drnn", g.genes)
    assert "units_2" in act and "units_3" not in act and "units_4" not in act
    assert "fnn_units" not in act and "negatives" not in act
    p = pred(split_mode="predictor", decay_mode="learnt")
    assert {"to", "wa1", "wp0", "ti"}.isdisjoint(p.active) and {"w1", "w0"} <= p.active
    e = pred(split_mode="equal", decay_mode="parametric")
    assert "to" not in e.active and "wa1" in e.active and "ti" in e.active and "w1" not in e.active
    s = pred(split_mode="soft")
    assert "to" in s.active


# -- canonical key --------------------------------------------------------------------------------
def test_key_ignores_inactive_genes() -> None:
    a = drnn(length=2, units_3=17, units_4=99, fnn=False, fnn_units=20, output="full", negatives=5)
    b = drnn(
        length=2, units_3=300, units_4=16, fnn=False, fnn_units=200, output="full", negatives=500
    )
    assert a != b and a.key == b.key
    assert drnn(length=3, units_3=17).key != drnn(length=3, units_3=300).key
    p1 = pred(split_mode="predictor", wa1=3.0, to=9.0, decay_mode="none", ti=1.0)
    p2 = pred(split_mode="predictor", wa1=0.5, to=2.0, decay_mode="none", ti=99.0)
    assert p1.key == p2.key
    assert pred(decay_mode="parametric", ti=1.0).key != pred(decay_mode="parametric", ti=2.0).key


def test_key_rounds_floats_and_is_stable() -> None:
    a = drnn(learning_rate=0.1)
    b = drnn(learning_rate=0.1000000001)
    assert a.key == b.key and a == b  # stored values are canonical too
    assert drnn(learning_rate=0.100001).key != a.key
    assert len(a.key) == 12 and all(c in "0123456789abcdef" for c in a.key)
    assert drnn().key == drnn().key
    assert drnn().key != pred().key
    assert hash(a) == hash(b)


def test_predictor_loss_gene_rules_and_key() -> None:
    # softmax (multinomial likelihood) has no negative terms: w0, wa0, wp0 inactive, and w1
    # (eq. 3's positive weight) too; bce keeps today's rules
    sm = pred(loss="softmax", split_mode="predictor")
    assert {"w1", "w0", "wa0", "wp0"}.isdisjoint(sm.active) and "loss" in sm.active
    soft = pred(loss="softmax", split_mode="soft")
    assert {"wa1", "wp1", "to"} <= soft.active and {"wa0", "wp0", "w1"}.isdisjoint(soft.active)
    assert {"w1", "w0"} <= pred(loss="bce").active
    assert pred(loss="softmax", w0=0.1, w1=5.0).key == pred(loss="softmax", w0=3.0).key
    assert (
        pred(loss="softmax", split_mode="soft", wa0=0.1, wp0=0.9).key
        == pred(loss="softmax", split_mode="soft", wa0=2.0, wp0=0.0).key
    )
    assert pred(loss="softmax").key != pred(loss="bce").key
    assert pred(input_dropout=0.5).key != pred().key
    assert pred(input_norm=True).key != pred().key
    with pytest.raises(AutorecError, match="loss"):
        pred(loss="hinge")
    with pytest.raises(AutorecError, match="input_dropout"):
        pred(input_dropout=1.0)


def test_later_genes_at_default_leave_earlier_keys_unchanged() -> None:
    import hashlib
    import json

    g = pred(split_mode="soft", wa0=0.3)
    later = ("loss", "input_dropout", "input_norm")
    old = {k: v for k, v in g.genes.items() if k in g.active and k not in later}
    text = json.dumps({"family": "predictor", **old}, sort_keys=True, separators=(",", ":"))
    assert g.key == hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


# -- files --------------------------------------------------------------------------------------
def test_yaml_round_trip(tmp_path: Path) -> None:
    g = SearchSpace.from_yaml("drnn").sample(np.random.default_rng(3))
    path = tmp_path / "g.yaml"
    text = g.to_yaml(path)
    assert text.startswith("family: drnn\n")
    back = load_genome(path)
    assert back == g and back.key == g.key
    assert Genome.from_dict(g.to_dict()) == g


def test_load_genome_partial_file_and_errors(tmp_path: Path) -> None:
    p = tmp_path / "ok.yaml"
    p.write_text("family: predictor\nlayers: 2\nunits_2: 1000\nlearning_rate: 1e-3\n")
    g = load_genome(p)
    assert g["layers"] == 2 and g["units_2"] == 1000 and g["learning_rate"] == 0.001
    bad = tmp_path / "bad.yaml"
    bad.write_text("family: drnn\nwidht: 3\n")
    with pytest.raises(AutorecError) as exc:
        load_genome(bad)
    assert "bad.yaml" in str(exc.value) and "did you mean 'width'" in str(exc.value)
    worse = tmp_path / "worse.yaml"
    worse.write_text("family: drnn\nactivation: relux\n")
    with pytest.raises(AutorecError, match=r"worse\.yaml.*relux.*relu"):
        load_genome(worse)
    syntax = tmp_path / "syntax.yaml"
    syntax.write_text("family: [drnn\n")
    with pytest.raises(AutorecError, match="invalid YAML"):
        load_genome(syntax)
    with pytest.raises(AutorecError, match="cannot read"):
        load_genome(tmp_path / "missing.yaml")
    nofam = tmp_path / "nofam.yaml"
    nofam.write_text("width: 3\n")
    with pytest.raises(AutorecError, match="family"):
        load_genome(nofam)


# -- operators ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spaces() -> dict[str, SearchSpace]:
    return {n: SearchSpace.from_yaml(n) for n in BUILTIN_SPACES}


def test_sample_is_deterministic(spaces: dict[str, SearchSpace]) -> None:
    s = spaces["drnn"]
    a = [s.sample(np.random.default_rng(7)) for _ in range(2)]
    assert a[0] == a[1]
    assert s.sample(np.random.default_rng(8)) != a[0]


def test_operators_keep_children_valid(spaces: dict[str, SearchSpace]) -> None:
    """Property-style: many seeds, every child valid, repair idempotent, YAML round-trips."""
    for name, s in spaces.items():
        for seed in range(150):
            rng = np.random.default_rng(seed)
            a, b = s.sample(rng), s.sample(rng)
            c, d = s.crossover(a, b, rng)
            m = s.mutate(c, rng, indpb=0.3)
            for g in (a, b, c, d, m):
                s.validate(g)
                assert s.repair(g) == g, name
                if g.family == "drnn":
                    assert g.get_int("height") <= g.get_int("length") - 1
                for gene in g.genes:
                    if gene not in g.active:  # inactive genes are normalised
                        assert g[gene] == s.genes[gene].default


def test_mutate_changes_something(spaces: dict[str, SearchSpace]) -> None:
    s = spaces["drnn"]
    rng = np.random.default_rng(0)
    g = s.sample(rng)
    for _ in range(50):
        assert s.mutate(g, rng, indpb=0.0) != g  # at least one gene always changes


def test_mutation_that_adds_a_layer_samples_its_units(spaces: dict[str, SearchSpace]) -> None:
    s = spaces["drnn"]
    g = s.repair(drnn(length=1, height=0, units_1=100))
    grown = [
        m
        for m in (s.mutate(g, np.random.default_rng(i), 0.5) for i in range(200))
        if m.get_int("length") > 1
    ]
    assert grown
    assert len({m["units_2"] for m in grown}) > 5  # fresh draws, not the default


def test_crossover_moves_layers_with_depth(spaces: dict[str, SearchSpace]) -> None:
    s = spaces["drnn"]
    a = s.repair(drnn(length=4, height=3, units_1=16, units_2=17, units_3=18, units_4=19))
    b = s.repair(drnn(length=1, height=0, units_1=500))
    for seed in range(100):
        c, d = s.crossover(a, b, np.random.default_rng(seed))
        for child in (c, d):
            if child["length"] == 4:  # depth (with height) came from a: layers 2-4 come from a
                assert child["height"] == 3
                assert (child["units_2"], child["units_3"], child["units_4"]) == (17, 18, 19)
                assert child["units_1"] in (16, 500)
            else:
                assert child["length"] == 1 and child["height"] == 0
        assert sorted([c["units_1"], d["units_1"]]) == [16, 500]  # layer 1 swaps as a unit


def test_crossover_switch_travels_with_its_genes(spaces: dict[str, SearchSpace]) -> None:
    s = spaces["drnn"]
    a = s.repair(drnn(fnn=True, fnn_layers=2, fnn_units=200))
    b = s.repair(drnn(fnn=False))
    for seed in range(40):
        for child in s.crossover(a, b, np.random.default_rng(seed)):
            if child["fnn"]:
                assert (child["fnn_layers"], child["fnn_units"]) == (2, 200)


def test_repair_snaps_and_resets(spaces: dict[str, SearchSpace]) -> None:
    s = spaces["drnn"]
    g = drnn(
        width=50, length=3, height=2, units_1=4000, units_4=7, learning_rate=0.9, batch_size=100
    )
    r = s.repair(g)
    assert r["width"] == 8 and r["units_1"] == 512 and r["learning_rate"] == 0.3
    assert r["batch_size"] == 128  # nearest choice
    assert r["units_4"] == s.genes["units_4"].default  # inactive: reset
    p = spaces["predictor"]
    q = p.repair(pred(split_mode="soft", wa1=5.0))
    assert q["split_mode"] == "predictor"  # fixed gene
    with pytest.raises(AutorecError, match="family"):
        p.repair(g)
