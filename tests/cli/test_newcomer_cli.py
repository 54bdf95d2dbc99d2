"""The newcomer's command line: ``autorec runs``, ``search --config``, consistent and fast
``--help``, and the README agreeing with ``--help`` (no Ray: the search itself is
replaced where a test only checks the options it gets)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from autorec.cli.app import app

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
COMMANDS = [
    ["search"],
    ["resume"],
    ["report"],
    ["export"],
    ["recommend"],
    ["codegen"],
    ["train"],
    ["evaluate"],
    ["baseline"],
    ["runs"],
    ["data", "inspect"],
    ["data", "synth"],
]


def _help(args: list[str]) -> str:
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_help_text_is_consistent(args: list[str]) -> None:
    text = _help(args)
    assert "<bool>" not in text  # a flag takes no value
    assert "{run_dir}" not in text  # arguments are upper case, as RUN_DIR
    for line in text.splitlines():
        for option, metavar in (("--data ", "PATH"), ("--split ", "DATES")):
            if f"│ {option}" in line or f"│    {option}" in line:
                assert metavar in line, line


def test_help_starts_without_the_heavy_libraries() -> None:
    code = (
        "import sys, autorec.cli.app; "
        "print(sorted(m for m in ('numpy', 'pandas', 'torch', 'ray') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "[]"


def test_data_defaults_match_the_readers() -> None:
    from autorec.cli import data as cli_data
    from autorec.data import DEFAULT_MIN_RATING, DEFAULT_SESSION_TIMEOUT_S

    assert cli_data.DEFAULT_MIN_RATING == DEFAULT_MIN_RATING
    assert cli_data.DEFAULT_SESSION_TIMEOUT_S == DEFAULT_SESSION_TIMEOUT_S


def test_docs_cpus_per_trial_default_matches_help() -> None:
    page = (REPO / "docs" / "commands" / "search.md").read_text()
    row = next(ln for ln in page.splitlines() if ln.startswith("| `--cpus-per-trial C` |"))
    assert "planner" in row and "planner" in _help(["search"]).split("--cpus-per-trial")[1][:200]


def _capture(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def fake_run_search(options: Any, **kwargs: Any) -> Any:
        seen["options"] = options
        raise SystemExit(0)

    monkeypatch.setattr("autorec.tune.run_search", fake_run_search)
    return seen


def test_search_config_file_sets_options_and_flags_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _capture(monkeypatch)
    cfg = tmp_path / "search.yaml"
    cfg.write_text("population: 4\np-c: 0.5\nepochs: 3\nspace: predictor\n")
    result = runner.invoke(app, ["search", "--config", str(cfg), "--epochs", "5"])
    assert result.exit_code == 0, result.output
    opts = seen["options"]
    assert (opts.population, opts.p_c, opts.epochs, opts.space) == (4, 0.5, 5, "predictor")


def test_search_config_accepts_a_run_dirs_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _capture(monkeypatch)
    old = tmp_path / "old-run"
    old.mkdir()
    (old / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "space": "drnn",
                "population": 3,
                "generations": 1,
                "seed": 7,
                "run_dir": str(old),
                "versions": {"autorec": "0"},
                "created": "2026-01-01T00:00:00",
                "sessions": [{"session": 1}],
                "data_fingerprint": {"path": None, "split": None},
            }
        )
    )
    new = tmp_path / "new-run"
    result = runner.invoke(
        app, ["search", "--config", str(old / "config.yaml"), "--run-dir", str(new)]
    )
    assert result.exit_code == 0, result.output
    opts = seen["options"]
    assert (opts.population, opts.generations, opts.seed) == (3, 1, 7)
    assert opts.run_dir == str(new)  # the old run dir is not reused


@pytest.mark.parametrize(
    ("text", "needle"),
    [("populaton: 4\n", "did you mean 'population'"), ("population: six\n", "population")],
)
def test_search_config_bad_keys_exit_2(text: str, needle: str, tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    result = runner.invoke(app, ["search", "--config", str(cfg)])
    assert result.exit_code == 2 and needle in result.stderr and str(cfg) in result.stderr


def _fake_run(root: Path, *, done: bool, verdict: str, pid: int) -> None:
    root.mkdir(parents=True)
    (root / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "space": "drnn",
                "data": None if done else "../shared/data/x",
                "created": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 7200)),
                "sessions": [{"session": 1, "pid": pid}],
            }
        )
    )
    (root / "hall_of_fame.yaml").write_text(yaml.safe_dump([{"key": "abc", "fitness": 1.25}]))
    (root / "comparison.json").write_text(
        json.dumps(
            {
                "metrics": ["top1", "top10"],
                "network": {"top1": 0.5},
                "best_baseline": "session-views",
                "baselines": {"session-views": {"top1": 0.6}},
                "verdict": verdict,
            }
        )
    )
    if done:
        (root / "DONE").write_text("{}")


def test_runs_lists_status_data_fitness_test_metric_and_age(tmp_path: Path) -> None:
    _fake_run(tmp_path / "a", done=True, verdict="loses", pid=0)
    _fake_run(tmp_path / "b", done=False, verdict="beats", pid=os.getpid())
    (tmp_path / "not-a-run").mkdir()
    result = runner.invoke(app, ["runs", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    found = {Path(r["run_dir"]).name: r for r in json.loads(result.stdout)["runs"]}
    assert set(found) == {"a", "b"}
    assert found["a"]["status"] == "finished" and found["b"]["status"] == "running"
    assert found["a"]["data"] == "synthetic" and found["a"]["best_fitness"] == 1.25
    assert found["a"]["test_value"] == 0.5 and found["a"]["baseline_value"] == 0.6
    assert 7100 < found["a"]["age_s"] < 7400
    text = runner.invoke(app, ["runs", str(tmp_path)]).stdout
    assert "finished" in text and "session-views 0.6000 (network loses)" in text and "2h" in text


def test_runs_of_a_missing_folder_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["runs", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such folder" in result.stderr


def test_tour_runs_on_one_data_set_and_suggests_no_missing_option() -> None:
    """Point 7: the tour's search and codegen read the YOOCHOOSE sample like its other
    steps, and nothing suggests the `--top-p` option that no command has."""
    readme = (REPO / "README.md").read_text()
    tour = readme.split("## A tour in eight commands", 1)[1].split("```", 2)[1]
    joined = tour.replace("\\\n", " ")
    for command in ("autorec search", "autorec codegen", "autorec train"):
        line = next(ln for ln in joined.splitlines() if ln.startswith(command))
        assert "--data ../shared/data/yoochoose-sample" in line, line
    helps = " ".join(_help([command]) for command in ("train", "search", "export"))
    if "--top-p" not in helps:  # no command has it: nothing may suggest it
        for page in [REPO / "README.md", *(REPO / "docs").rglob("*.md")]:
            assert "--top-p" not in page.read_text(), page
        assert "--top-p" not in (REPO / "autorec" / "sharding" / "_plan.py").read_text()


def test_report_unique_column_is_a_count_and_best_so_far_is_drawn_on_top() -> None:
    """Point 9: "unique genomes" reads n/size, and the best-so-far line is drawn first,
    wider than the population's best, so it is never hidden under it."""
    from autorec.tune._report import _FITNESS_LINES, _unique_count

    assert _unique_count({"size": 6, "unique_fraction": 0.5}) == "3/6"
    keys = [key for key, _style, _label in _FITNESS_LINES]
    assert keys[0] == "best_so_far"
    widths = {key: style.get("linewidth", 1.5) for key, style, _label in _FITNESS_LINES}
    assert widths["best_so_far"] > widths["best_fitness"]


def test_report_hides_unused_genes_and_shows_the_loss_once() -> None:
    """Point 9: genes the network does not use (``units_4`` at length 3, ``fnn_units`` with
    ``fnn: no``, ``negatives`` with ``output: full``) are not listed as active, and the
    validation loss is shown once, not as both ``loss`` and ``val_loss``."""
    from autorec.tune._report import _metrics_once, _split_genes

    genome = {"family": "drnn", "width": 2, "length": 3, "height": 0, "units_1": 16,
              "units_2": 16, "units_3": 16, "units_4": 64, "fnn": False, "fnn_layers": 1,
              "fnn_units": 64, "output": "full", "negatives": 128}  # fmt: skip
    used, unused = _split_genes(genome)
    assert {"units_4", "fnn_layers", "fnn_units", "negatives"} <= set(unused)
    assert not {"units_4", "fnn_units", "negatives"} & set(used)
    assert used["units_3"] == 16 and used["fnn"] is False
    shown = _metrics_once({"metrics": {"loss": 4.5, "val_loss": 4.5, "val_top1": 0.6}})
    assert shown == {"loss": 4.5, "val_top1": 0.6}
    kept = _metrics_once({"metrics": {"loss": 4.5, "val_loss": 4.7}})  # different: both stay
    assert kept == {"loss": 4.5, "val_loss": 4.7}
