"""`autorec data inspect|synth` through typer's CliRunner: output, --json, bad input → exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autorec.cli.app import app

runner = CliRunner()


def test_synth_then_inspect_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "sessions.csv"
    result = runner.invoke(
        app, ["data", "synth", str(out), "--kind", "sessions", "--seed", "3", "--size", "200"]
    )
    assert result.exit_code == 0, result.output
    assert "synthetic sessions events" in result.stdout
    result = runner.invoke(app, ["data", "inspect", str(out), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)  # one JSON object, nothing else on stdout
    assert info["kind"] == "sessions" and info["format"] == "events-csv"
    assert info["sessions"] == 200 and info["views"] > 200 and info["purchases"] > 0
    human = runner.invoke(app, ["data", "inspect", str(out)])
    assert human.exit_code == 0 and "sessions" in human.stdout and "time range" in human.stdout


def test_synth_purchases_parquet_json(tmp_path: Path) -> None:
    out = tmp_path / "p.parquet"
    result = runner.invoke(
        app, ["data", "synth", str(out), "--kind", "purchases", "--json", "--size", "100"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["source"] == "synthetic:purchases(seed=0)"
    info = json.loads(runner.invoke(app, ["data", "inspect", str(out), "--json"]).stdout)
    assert info["kind"] == "purchases" and info["users"] == 100 and info["views"] == 0


def _bad(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("noitem.csv", "user_id,timestamp\n1,2\n", "no item column"),
        ("badtime.csv", "item_id,timestamp\n1,tomorrow\n", "cannot parse 'tomorrow'"),
        ("empty.csv", "item_id,timestamp,rating\n1,2,1\n", "no events left after filtering"),
        ("what.xyz", "x\n", "unknown data format"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, name: str, text: str, needle: str) -> None:
    path = _bad(tmp_path, name, text)
    result = runner.invoke(app, ["data", "inspect", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert name in lines[0]
    assert "Traceback" not in result.output


def test_missing_path_and_bad_synth_target(tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "inspect", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2 and "no such file or folder" in result.stderr
    result = runner.invoke(app, ["data", "synth", str(tmp_path / "x.txt")])
    assert result.exit_code == 2 and "end the file name with .csv" in result.stderr
    result = runner.invoke(app, ["data", "synth", str(tmp_path / "x.csv"), "--kind", "movies"])
    assert result.exit_code == 2  # click usage error


def test_help_reads_well() -> None:
    result = runner.invoke(app, ["data", "--help"])
    assert result.exit_code == 0 and "inspect" in result.stdout and "synth" in result.stdout
    result = runner.invoke(app, ["data", "synth", "--help"])
    assert "--kind" in result.stdout and "--seed" in result.stdout
