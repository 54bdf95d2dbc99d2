"""`autorec search | resume | report` through typer's CliRunner (a fake trainer keeps the
one real search in seconds), plus bad input -> one stderr line and exit code 2."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autorec.cli.app import app

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
STDERR: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def fake_trainer_injected() -> Iterator[None]:
    """search / resume train with the test double (tests/support/fake_trainer.py)."""
    import fake_cli

    import autorec.tune

    saved = autorec.tune.run_search, autorec.tune.resume_search
    fake_cli.install()
    yield
    autorec.tune.run_search, autorec.tune.resume_search = saved


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, object]]]:
    """One tiny search through the CLI (a local Ray, shut down afterwards)."""
    os.environ.setdefault("PYTHONPATH", str(REPO))
    rd = tmp_path_factory.mktemp("cli") / "run"
    result = runner.invoke(
        app,
        [
            "search",
            "--population",
            "3",
            "--generations",
            "1",
            "--seed",
            "2",
            "--run-dir",
            str(rd),
            "--num-cpus",
            "2",
            "--baselines",
            "popularity,itemknn,session-views",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    STDERR["search"] = result.stderr
    yield rd, json.loads(result.stdout)


def test_search_json_prints_best_and_run_dir(searched: tuple[Path, dict[str, object]]) -> None:
    rd, out = searched
    assert out["run_dir"] == str(rd.resolve())
    assert out["finished"] is True
    best = out["best"]
    assert isinstance(best, dict)
    assert best["genome"]["family"] == "drnn" and best["fitness"] > 0
    assert "val_top1" in best["metrics"]
    assert (rd / "best_genome.yaml").is_file() and (rd / "report.html").is_file()


def test_search_progress_lines_and_baseline_comparison(
    searched: tuple[Path, dict[str, object]],
) -> None:
    rd, out = searched
    # stderr is not a terminal here: one plain line per finished trial and per generation
    err = STDERR["search"]
    trial_lines = [ln for ln in err.splitlines() if ln.startswith("trial g")]
    assert len(trial_lines) == out["trials"] and "trials 1/6" in trial_lines[0]
    assert "initial population 0 (1/2) closed" in err and "generation 1 (2/2) closed" in err
    assert out["generations"] == 1 and out["populations"] == 2  # --generations 1
    comp = out["comparison"]
    assert isinstance(comp, dict)
    # the fake trainer leaves no network: the baselines are there, the verdict is unknown
    assert comp["best_baseline"] == "session-views" and comp["verdict"] == "unknown"
    assert (rd / "baselines.json").is_file() and (rd / "comparison.json").is_file()


def test_report_rebuilds(searched: tuple[Path, dict[str, object]]) -> None:
    rd, _ = searched
    (rd / "report.html").unlink()
    result = runner.invoke(app, ["report", str(rd), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    # --generations 1: one bred generation after the initial population
    assert info["generations"] == 1 and info["populations"] == 2 and info["finished"] is True
    assert (rd / "report.html").is_file() and (rd / "plots" / "fitness.png").is_file()


def test_resume_of_finished_search_trains_nothing(searched: tuple[Path, dict[str, object]]) -> None:
    rd, out = searched
    result = runner.invoke(app, ["resume", str(rd), "--json"])
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    assert again["trained_this_session"] == 0
    assert again["best"] == out["best"]


def test_help_lists_options() -> None:
    result = runner.invoke(app, ["search", "--help"])
    assert result.exit_code == 0
    for opt in (
        "--space",
        "--population",
        "--generations",
        "--algorithm",
        "--p-c",
        "--p-m",
        "--epochs",
        "--seed",
        "--run-dir",
        "--address",
        "--cpus-per-trial",
        "--json",
    ):
        assert opt in result.stdout
    assert "--train-fn" not in result.stdout  # no trainer is ever named by a string


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["search", "--algorithm", "bogus"], "unknown algorithm 'bogus'"),
        (["search", "--space", "nope.yaml"], "nope"),
        (["search", "--p-c", "1.5"], "--p-c"),
        (["search", "--baselines", "popularity,nope"], "unknown baseline 'nope'"),
        (["resume", "/definitely/not/a/run"], "config.yaml"),
        (["report", "/definitely/not/a/run"], "config.yaml"),
    ],
)
def test_bad_input_exits_2(args: list[str], needle: str, tmp_path: Path) -> None:
    if args[0] == "search":
        args = [*args, "--run-dir", str(tmp_path / "r")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert needle in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "r").exists() or not (tmp_path / "r" / "config.yaml").exists()


def test_existing_run_dir_is_refused(searched: tuple[Path, dict[str, object]]) -> None:
    rd, _ = searched
    result = runner.invoke(app, ["search", "--run-dir", str(rd)])
    assert result.exit_code == 2
    assert "autorec resume" in result.stderr
