"""The code of README.md and docs/ runs as written: the tour's eight commands top to bottom,
then every other shell block, and every Python snippet, on the built-in synthetic data with
small sizes.

The rewrites are explicit and few (:data:`DATA_REWRITES`: the real data paths become the
synthetic default; :data:`SIZE_FLAGS` / :data:`DOC_SIZES`: fewer epochs, a smaller search),
so a block that stops working as written fails here. A command that cannot run here says so
in the markdown: a comment line ``# not run in tests: <reason>`` in a block skips the block,
the same comment after a command skips that command. docs/reproduce*.md is left to
tests/reproduce, which runs every reproduction script in its quick mode. One Ray session
(the tour's search; the other searches reuse it)."""

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
#: The pages whose code runs here: the README, then docs/ (reproduce*: tests/reproduce).
PAGES = [
    REPO / "README.md",
    *sorted(p for p in (REPO / "docs").rglob("*.md") if not p.name.startswith("reproduce")),
]
NOT_RUN = "# not run in tests:"

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


def _blocks(lang: str, text: str = README) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.M | re.S)


def _page_blocks(lang: str) -> list[tuple[str, str]]:
    """(page, block) for every ``lang`` block of :data:`PAGES`."""
    return [
        (str(page.relative_to(REPO)), block)
        for page in PAGES
        for block in _blocks(lang, page.read_text(encoding="utf-8"))
    ]


def _rewrite(text: str) -> str:
    for old, new in DATA_REWRITES:
        text = text.replace(old, new)
    return text


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "RAY_ADDRESS": "local", "COLUMNS": "120"}


def _workdir(tmp: Path) -> Path:
    """A folder where the docs' relative paths resolve: examples/ and search_spaces/."""
    (tmp / "examples").symlink_to(REPO / "examples")
    (tmp / "search_spaces").symlink_to(REPO / "search_spaces")
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


#: Smaller sizes for the docs' commands: (flag, value) replaced where given, else appended.
DOC_SIZES: dict[str, list[tuple[str, str]]] = {
    "train": [("--epochs", "2")],
    "retrain": [("--epochs", "2")],
    "search": [
        ("--population", "2"),
        ("--generations", "0"),
        ("--epochs", "2"),
        ("--num-cpus", "2"),
        ("--baselines", "popularity"),
    ],
}
#: Replaced only where given: a fixed window must fit the epochs; fewer rolling windows.
DOC_SIZES_GIVEN = {"--window": "2", "--train-windows": "2"}


def _shell_commands(block: str) -> tuple[list[str], list[str]]:
    """(commands to run, reasons of the commands not run) of one shell block: continuation
    lines joined, ``&&`` chains split, comments dropped; :data:`NOT_RUN` honoured."""
    lines = block.replace("\\\n", " ").splitlines()
    reasons = [ln.strip()[len(NOT_RUN) :].strip() for ln in lines if ln.strip().startswith(NOT_RUN)]
    if reasons:  # the whole block
        return [], reasons
    run: list[str] = []
    for line in lines:
        if NOT_RUN in line:
            reasons.append(line.split(NOT_RUN, 1)[1].strip())
            continue
        words = shlex.split(line, comments=True)
        if words:
            run.extend(part.strip() for part in shlex.join(words).split(" '&&' "))
    return run, reasons


def _size(argv: list[str]) -> list[str]:
    """Real data -> the synthetic default; smaller sizes (:data:`DOC_SIZES`)."""
    out = list(argv)
    if any(a.startswith("../shared/data") for a in out):
        if out[:2] == ["data", "inspect"]:
            out[2] = "sessions.csv"  # the tour's synthetic events file
        for flag in ("--data", "--split"):
            while flag in out:
                i = out.index(flag)
                del out[i : i + 2]
    for flag, value in DOC_SIZES.get(out[0], []):
        if flag in out:
            out[out.index(flag) + 1] = value
        else:
            out += [flag, value]
    for flag, value in DOC_SIZES_GIVEN.items():
        if flag in out:
            out[out.index(flag) + 1] = value
    if _purchases(out) and "--train-windows" not in out:  # rolling: every window by default
        out += ["--train-windows", "2"]
    return out


def _purchases(argv: list[str]) -> bool:
    """Whether a ``train`` / ``search`` command trains on purchase histories."""
    if argv[0] == "search":
        return "--space" in argv and argv[argv.index("--space") + 1] in ("predictor", "soft_split")
    if argv[0] == "train" and len(argv) > 1 and Path(argv[1]).is_file():
        return "family: predictor" in Path(argv[1]).read_text(encoding="utf-8")
    return False


def _run_shell(command: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """One command of a docs block: ``autorec`` in this process (typer's runner, the tour's
    Ray), ``export NAME=VALUE`` into ``env``, anything else through bash."""
    from typer.testing import CliRunner

    from autorec.cli.app import app

    argv = shlex.split(command)
    if argv[0] == "export":
        name, _, value = argv[1].partition("=")
        env[name] = value
        return 0, ""
    if argv[0] == "autorec":
        old = Path.cwd()
        os.chdir(cwd)
        try:
            result = CliRunner().invoke(app, _size(argv[1:]), env=env)
        finally:
            os.chdir(old)
        return result.exit_code, result.output
    proc = subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        env={**_env(), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_docs_shell_blocks_run(tour: dict[str, tuple[Any, float]], workdir: Path) -> None:
    """Every shell block of the README (after the tour) and of docs/, in the tour's folder so
    its run dir, saved network and bundle are there; a block's ``export`` lasts the block."""
    tour_block = README.split("## A tour in eight commands", 1)[1].split("```bash\n", 1)[1]
    ran, skipped, slow = 0, 0, []
    for page, block in _page_blocks("bash"):
        if tour_block.startswith(block):
            continue  # run by the tour fixture
        commands, reasons = _shell_commands(block)
        assert all(reasons), f"{page}: a '{NOT_RUN}' comment without a reason"
        skipped += len(reasons)
        env = {"RAY_ADDRESS": "local", "COLUMNS": "120"}
        for command in commands:
            start = time.monotonic()
            code, output = _run_shell(command, env, workdir)
            assert code == 0, f"{page}: {command}\n{output[-3000:]}"
            ran += 1
            slow.append((time.monotonic() - start, page, command))
    print("slowest:", *sorted(slow, reverse=True)[:8], sep="\n  ")
    assert ran >= 40 and skipped >= 5, (ran, skipped)


def test_python_snippets_run_as_written(tmp_path: Path) -> None:
    """Every Python snippet of the README and docs/; the bundle one in a drnn and a predictor
    bundle."""
    snippets = [_rewrite(c) for _, c in _page_blocks("python")]
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
