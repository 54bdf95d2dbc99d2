"""Smoke tests of the paper reproductions in examples/reproduce/: every script runs end to end
with ``--quick`` (synthetic data, tiny sizes) and writes its section and figure."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "examples" / "reproduce"
#: script -> its section on the results page
SECTIONS = {
    "table2": "table2",
    "fnn_causes": "fnn_causes",
    "tune_structure": "tuning_structure",
    "topk": "topk",
    "batch_size": "batch_size",
    "convergence": "convergence",
    "soft_split": "soft_split",
    "depth": "depth",
    "depth_causes": "depth_causes",
    "time_decay": "time_decay",
}


def _load(name: str) -> ModuleType:
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(f"reproduce_{name}", SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for every script: the structure scripts share their quick searches."""
    return tmp_path_factory.mktemp("reproduce")


@pytest.mark.parametrize("script", [s for s in SECTIONS if (SCRIPTS / f"{s}.py").exists()])
def test_quick_run_writes_its_section_and_figure(script: str, work: Path) -> None:
    out = work / "docs"
    rc = _load(script).main(["--quick", "--out", str(out), "--runs", str(work / "runs")])
    assert rc == 0
    page = (out / "reproduce.md").read_text(encoding="utf-8")
    name = SECTIONS[script]
    body = page.split(f"<!-- section:{name} -->", 1)[1].split(f"<!-- /section:{name} -->", 1)[0]
    assert "--quick smoke run" in body
    assert f"python examples/reproduce/{script}.py --quick" in body
    assert "| " in body and "paper" in body  # its table, next to the paper's figures
    marks = ("**Holds.**", "**Does not hold.**", "**Inconclusive.**", "**Measured cause.**")
    assert any(v in body for v in marks)
    fig = out / "figures" / f"reproduce_{name}.png"
    assert f"](figures/{fig.name})" in body
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_page_keeps_other_sections_in_order(tmp_path: Path) -> None:
    common = _load("_common")
    for name, text in (("depth", "first"), ("table2", "second"), ("depth", "third")):
        sec = common.section(name, name, "x.py", quick=True)
        sec.add(text)
        common.write_section(tmp_path, sec, quick=True)
    page = (tmp_path / "reproduce.md").read_text(encoding="utf-8")
    assert page.count("<!-- section:depth -->") == 1 and "first" not in page
    assert page.index("second") < page.index("third")  # table2 comes before depth
