"""README.md's code runs as written: every Python snippet, and the tour's eight commands top
to bottom, on the built-in synthetic data with small sizes.

The rewrites are explicit and few (:data:`DATA_REWRITES`: the real data paths become the
synthetic default; :data:`SIZE_FLAGS`: fewer epochs / a smaller search), so a snippet that
stops working as written fails here. One Ray session (the tour's search)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")

#: Real data -> the synthetic default (the test must run without ../shared/data).
DATA_REWRITES = (
    (
        'load_session_data("../shared/data/yoochoose-sample", "2014-06-01,2014-06-16")',
        "load_session_data(None, None)",
    ),
    (" --data ../shared/data/yoochoose-sample", ""),
    (" --split 2014-06-01,2014-06-16", ""),
)
#: Smaller sizes, appended to (or replacing in) the commands that train.
SIZE_FLAGS = {
    "train": ["--epochs", "2"],
    "search": [
        "--population",
        "2",
        "--generations",
        "1",
        "--epochs",
        "2",
        "--num-cpus",
        "2",
        "--baselines",
        "popularity,itemknn,session-views",
    ],  # the GRUs train a while
}


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", README, flags=re.M | re.S)


def _rewrite(text: str) -> str:
    for old, new in DATA_REWRITES:
        text = text.replace(old, new)
    return text


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "RAY_ADDRESS": "local", "COLUMNS": "120"}


def _workdir(tmp: Path) -> Path:
    """A folder where the README's relative paths resolve: examples/ of the repository."""
    (tmp / "examples").symlink_to(REPO / "examples")
    return tmp


def _run_scripts(scripts: list[tuple[str, Path]]) -> subprocess.CompletedProcess[str]:
    """Run each (code, folder) as a script in one fresh interpreter (imports paid once),
    from its folder; stop at the first that raises."""
    files = []
    for i, (code, cwd) in enumerate(scripts):
        path = cwd / f"snippet_{i}.py"
        path.write_text(code, encoding="utf-8")
        files.append((str(path), str(cwd)))
    runner = (
        "import os, runpy, sys\n"
        f"for path, cwd in {files!r}:\n"
        "    os.chdir(cwd)\n"
        "    print('## ' + path, flush=True)\n"
        "    runpy.run_path(path, run_name='__main__')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", runner], env=_env(), capture_output=True, text=True, timeout=900
    )


def _tour() -> list[list[str]]:
    """The tour's commands, continuation lines joined, comments dropped."""
    section = README.split("## A tour in eight commands", 1)[1]
    block = re.search(r"^```bash\n(.*?)^```", section, flags=re.M | re.S)
    assert block is not None
    joined = block.group(1).replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            commands.append(shlex.split(_rewrite(line)))
    return commands


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _workdir(tmp_path_factory.mktemp("readme"))


@pytest.fixture(scope="module")
def tour(workdir: Path) -> dict[str, tuple[Any, float]]:
    """Run the tour top to bottom, in this process through typer's runner (the only Ray
    session of this module), from a folder where its relative paths resolve."""
    from typer.testing import CliRunner

    from autorec.cli.app import app

    commands = _tour()
    assert [c[1] for c in commands] == [
        "data",
        "baseline",
        "codegen",
        "train",
        "search",
        "report",
        "export",
        "recommend",
    ]
    runner = CliRunner()
    ran: dict[str, tuple[Any, float]] = {}
    old = Path.cwd()
    os.chdir(workdir)
    try:
        for argv in commands:
            assert argv[0] == "autorec"
            args = argv[1:]
            if args[:2] == ["data", "inspect"]:  # a synthetic events file for the real one
                assert runner.invoke(app, ["data", "synth", "sessions.csv"]).exit_code == 0
                args = ["data", "inspect", "sessions.csv"]
            args += SIZE_FLAGS.get(args[0], [])
            start = time.monotonic()
            result = runner.invoke(app, args, env={"RAY_ADDRESS": "local"})
            ran[args[0] if args[0] != "data" else "inspect"] = (result, time.monotonic() - start)
            assert result.exit_code == 0, f"autorec {' '.join(args)}\n{result.output}"
    finally:
        os.chdir(old)
    return ran


def test_tour_runs_top_to_bottom(tour: dict[str, tuple[Any, float]], workdir: Path) -> None:
    assert (workdir / "trained" / "weights.safetensors").is_file()
    assert (workdir / "runs" / "demo" / "report.html").is_file()
    assert (workdir / "recs.sqlite").is_file()
    search = tour["search"][0]
    assert "best baseline" in search.stdout  # the summary shows what the winner must beat


def test_tour_export_is_a_copy(tour: dict[str, tuple[Any, float]], workdir: Path) -> None:
    proc, wall = tour["export"]
    assert "copying the trained network" in proc.stderr and "no training" in proc.stderr
    assert "best baseline" in proc.stdout
    assert wall < tour["search"][1]  # seconds, not a retrain


def test_python_snippets_run_as_written(tmp_path: Path) -> None:
    """Every Python snippet of the README; the bundle one in a drnn and a predictor bundle."""
    snippets = [_rewrite(c) for c in _blocks("python")]
    assert len(snippets) >= 5
    bundle_code = next(c for c in snippets if '"bundle/load.py"' in c)
    here = _workdir(tmp_path)
    scripts = [(c, here) for c in snippets if c is not bundle_code]
    for genome in ("drnn_tiny", "predictor"):
        (tmp_path / genome).mkdir()
        cwd = _workdir(tmp_path / genome)
        scripts.append((_make_bundle(genome), cwd))
        scripts.append((bundle_code, cwd))
    proc = _run_scripts(scripts)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    tops = [ln for ln in proc.stdout.splitlines() if ln.startswith("[(")]
    assert len(tops) == 2  # the top-10 list of each bundle
    for genome in ("drnn_tiny", "predictor"):  # loading wrote nothing into the bundle
        assert not (tmp_path / genome / "bundle" / "__pycache__").exists()


def _make_bundle(genome: str) -> str:
    return (
        "from autorec.data import load_family_data\n"
        "from autorec.export import export_bundle\n"
        "from autorec.genome import load_genome\n"
        "from autorec.train import TrainOptions, train_genome\n"
        "from autorec.train.saving import save_trained\n"
        f"g = load_genome('examples/genomes/{genome}.yaml')\n"
        "r = train_genome(g, load_family_data(g.family, None, None), TrainOptions(max_epochs=2))\n"
        "save_trained(r, 'saved')\n"
        "export_bundle('saved', 'bundle')\n"
    )
