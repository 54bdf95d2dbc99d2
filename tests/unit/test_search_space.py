"""Search-space YAML: the built-in files load, and every validation error names file, gene,
bad value and fix."""

from __future__ import annotations

import copy
import importlib.resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from autorec.errors import AutorecError
from autorec.genome import BUILTIN_SPACES, SCHEMAS, SearchSpace


def builtin(name: str) -> dict[str, Any]:
    text = importlib.resources.files("search_spaces").joinpath(f"{name}.yaml").read_text()
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def err(data: Any, where: str = "space.yaml") -> str:
    with pytest.raises(AutorecError) as exc:
        SearchSpace.from_dict(data, where=where)
    msg = str(exc.value)
    assert msg.startswith(where), msg
    return msg


def with_gene(name: str, spec: Any, base: str = "drnn") -> dict[str, Any]:
    d = copy.deepcopy(builtin(base))
    d["genes"][name] = spec
    return d


@pytest.mark.parametrize("name", BUILTIN_SPACES)
def test_builtin_spaces_load(name: str) -> None:
    s = SearchSpace.from_yaml(name)
    assert list(s.genes) == list(SCHEMAS[s.family])
    assert s.source == f"search_spaces/{name}.yaml"
    s.validate(s.default_genome())


def test_fixed_genes_and_kinds() -> None:
    p = SearchSpace.from_yaml("predictor")
    assert p.genes["split_mode"].fixed and p.genes["split_mode"].default == "predictor"
    ss = SearchSpace.from_yaml("soft_split")
    assert ss.genes["split_mode"].choices == ("soft", "equal")
    d = SearchSpace.from_yaml("drnn")
    assert d.genes["units_1"].kind == "log_int" and d.genes["batch_size"].kind == "choice"
    assert d.genes["units_1"].group == "layer_1" and d.genes["height"].group == "depth"
    # a bare scalar means fixed
    s = SearchSpace.from_dict(with_gene("activation", "tanh"))
    assert s.genes["activation"].fixed and s.genes["activation"].default == "tanh"


def test_from_yaml_file_and_unknown_name(tmp_path: Path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text(yaml.safe_dump(with_gene("width", {"kind": "int", "low": 2, "high": 3})))
    s = SearchSpace.from_yaml(f)
    assert s.name == "mine" and s.genes["width"].high == 3
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(with_gene("width", {"kind": "int", "low": 0, "high": 3})))
    with pytest.raises(AutorecError, match=r"bad\.yaml.*width.*low=0"):
        SearchSpace.from_yaml(bad)
    with pytest.raises(AutorecError, match="did you mean 'drnn'"):
        SearchSpace.from_yaml("drn")
    with pytest.raises(AutorecError, match="cannot read"):
        SearchSpace.from_yaml(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("family: [drnn\n")
    with pytest.raises(AutorecError, match=r"broken\.yaml.*invalid YAML"):
        SearchSpace.from_yaml(broken)


def test_top_level_errors() -> None:
    assert "expected a mapping" in err([1, 2])
    d = builtin("drnn")
    d["gens"] = {}
    assert "did you mean 'genes'" in err(d)
    d = builtin("drnn")
    d["family"] = "drn"
    assert "unknown family 'drn'" in err(d) and "did you mean 'drnn'" in err(d)
    d = builtin("drnn")
    del d["family"]
    assert "missing 'family'" in err(d)
    d = builtin("drnn")
    d["genes"] = [1]
    assert "'genes'" in err(d)


def test_unknown_and_missing_genes() -> None:
    msg = err(with_gene("widht", {"kind": "int", "low": 1, "high": 3}))
    assert "unknown gene 'widht'" in msg and "did you mean 'width'" in msg
    d = builtin("drnn")
    del d["genes"]["units_3"]
    del d["genes"]["loss"]
    msg = err(d)
    assert "missing gene(s) units_3, loss" in msg and "fixed" in msg


@pytest.mark.parametrize(
    ("gene", "spec", "needles"),
    [
        ("width", {"kind": "int", "low": 5, "high": 2}, ["width", "low 5 > high 2", "swap"]),
        ("width", {"kind": "int", "low": 0, "high": 4}, ["width", "low=0", "[1, inf)"]),
        ("dropout", {"kind": "float", "low": 0.0, "high": 1.0}, ["dropout", "high=1.0", "[0, 1)"]),
        ("length", {"kind": "int", "low": 1, "high": 9}, ["length", "high=9", "[1, 4]"]),
        (
            "width",
            {"kind": "integer", "low": 1, "high": 4},
            ["unknown kind 'integer'", "did you mean 'int'"],
        ),
        ("width", {"kind": "float", "low": 1, "high": 4}, ["int gene", "cannot use kind 'float'"]),
        ("activation", {"kind": "int", "low": 1, "high": 2}, ["cannot use kind 'int'", "choice"]),
        ("fnn", {"kind": "choice", "choices": [True, False]}, ["fnn", "cannot use kind"]),
        (
            "activation",
            {"kind": "choice", "choices": ["relu", "relux"]},
            ["activation", "relux", "did you mean 'relu'"],
        ),
        ("activation", {"kind": "choice", "choices": []}, ["no 'choices' list"]),
        ("activation", {"kind": "choice", "choices": ["relu", "relu"]}, ["twice"]),
        ("activation", {"kind": "choice", "low": 1, "choices": ["relu"]}, ["does not take 'low'"]),
        (
            "width",
            {"kind": "int", "low": 1, "high": 4, "choices": [1]},
            ["does not take 'choices'"],
        ),
        ("width", {"kind": "int", "high": 4}, ["has no 'low'"]),
        ("width", {"low": 1, "high": 4}, ["has no 'kind'"]),
        ("width", {"kind": "int", "lo": 1, "high": 4}, ["unknown key 'lo'", "did you mean 'low'"]),
        (
            "learning_rate",
            {"kind": "log_float", "low": 0.0, "high": 1.0},
            ["learning_rate", "low=0.0"],
        ),
        ("l2", {"kind": "log_float", "low": 0.0, "high": 1.0}, ["l2", "<= 0", "kind float"]),
        (
            "width",
            {"kind": "int", "low": 1, "high": 4, "default": 6},
            ["default 6 is outside", "[1, 4]"],
        ),
        ("width", {"fixed": 0}, ["width", "0", "hard limits"]),
        ("width", {"fixed": 3, "kind": "int"}, ["fixed but also has kind"]),
        ("width", [1, 2], ["width", "{fixed: VALUE}"]),
        (
            "width",
            {"kind": "int", "low": 1, "high": 4, "mutation": {"type": "gauss"}},
            ["mutation type 'gauss'", "did you mean 'gaussian'"],
        ),
        ("width", {"kind": "int", "low": 1, "high": 4, "mutation": {"sigma": -1}}, ["sigma -1"]),
        (
            "width",
            {"kind": "int", "low": 1, "high": 4, "mutation": {"sgima": 0.1}},
            ["unknown key 'sgima'", "did you mean 'sigma'"],
        ),
        (
            "activation",
            {"kind": "choice", "choices": ["relu"], "mutation": {"sigma": 0.1}},
            ["takes no gaussian mutation"],
        ),
        (
            "height",
            {"kind": "int", "low": 1, "high": 3},
            ["height", "length-1", "lower height's low to 0"],
        ),
        ("batch_size", {"kind": "choice", "choices": [32, 0]}, ["batch_size", "0"]),
    ],
)
def test_gene_errors(gene: str, spec: Any, needles: list[str]) -> None:
    msg = err(with_gene(gene, spec))
    assert f"'{gene}'" in msg, msg
    for n in needles:
        assert n in msg, (n, msg)


def test_predictor_errors() -> None:
    msg = err(
        with_gene("split_mode", {"kind": "choice", "choices": ["soft", "hard"]}, base="soft_split")
    )
    assert "'hard'" in msg and "predictor, soft, equal" in msg
    msg = err(with_gene("rho", {"kind": "float", "low": 0.0, "high": 0.5}, base="predictor"))
    assert "rho" in msg and "(0, 1)" in msg


def test_validate_reports_gene_outside_space() -> None:
    s = SearchSpace.from_yaml("drnn")
    g = s.default_genome().replace(width=20)
    with pytest.raises(AutorecError, match=r"width.*20.*\[1, 8\]"):
        s.validate(g)
    p = SearchSpace.from_yaml("predictor")
    q = p.default_genome().replace(split_mode="soft")
    with pytest.raises(AutorecError, match="fixes it to 'predictor'"):
        p.validate(q)
    assert not p.is_valid(q) and p.is_valid(p.default_genome())


def test_benchmark_spaces_in_examples_load() -> None:
    """Every search space shipped with the benchmarks lists every gene of its family (a gene
    added to a schema must be added there too, or the benchmark stops at start-up)."""
    folder = Path(__file__).resolve().parents[2] / "examples" / "benchmarks"
    paths = sorted(folder.glob("*.yaml"))
    assert paths
    for path in paths:
        space = SearchSpace.from_yaml(str(path))
        assert set(space.genes) == set(SCHEMAS[space.family]), path.name
