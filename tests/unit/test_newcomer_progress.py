"""Search progress where stderr is not a terminal, the summary's generation count and
Ctrl-C (exit 130, ``autorec resume RUN_DIR``) -- no Ray."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from autorec.cli.app import app
from autorec.tune._progress import Progress, format_duration
from autorec.tune._searcher import TrialRecord

runner = CliRunner()


def _record(i: int, fitness: float) -> TrialRecord:
    return TrialRecord(
        genome_key=f"{i:012x}",
        trial_id=f"t{i}",
        generation=0,
        family="drnn",
        status="ok",
        fitness=fitness,
        epochs=3,
        wall_s=12.0,
        n_params=10.0,
        loss=1.0,
        metrics={},
        objectives=(fitness,),
        genome={},
        trial_name=f"g0-drnn-w1l1h0-{i:012x}",
    )


def test_plain_lines_per_trial_and_generation_with_totals_and_eta() -> None:
    buf = io.StringIO()  # not a terminal: plain lines, no control characters
    progress = Progress(4, 3, console=Console(file=buf, force_terminal=False))
    with progress:
        for i in range(3):
            progress.trial_started(f"t{i}")
            progress.trial_finished(f"t{i}", "ok", _record(i, 0.5 + i / 10))
        progress.generation_closed({"generation": 0, "best_so_far": 0.7, "mean_fitness": 0.6})
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("autorec search: 4 populations of 3 (up to 12 trials")
    trials = [ln for ln in lines if ln.startswith("trial ")]
    assert len(trials) == 3
    assert "g0-drnn-w1l1h0-000000000002 ok fitness 0.7000 in 12s" in trials[2]
    assert "trials 3/12" in trials[2] and "eta " in trials[2] and "eta -" not in trials[2]
    gen = [ln for ln in lines if "closed" in ln]
    assert gen == [gen[0]] and gen[0].startswith("initial population 0 (1/4) closed")
    assert "\x1b" not in buf.getvalue()


def test_eta_is_time_per_finished_trial_times_trials_left(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("autorec.tune._progress.time.monotonic", lambda: clock[0])
    progress = Progress(2, 5, enabled=False)  # 10 trials
    progress.cached = 2
    assert progress.eta_s() is None
    clock[0] = 130.0
    for i in range(3):
        progress.trial_finished(f"t{i}", "ok")
    # 30 s for 3 trained trials; 10 - (3 + 2 cached) = 5 left -> 50 s
    assert progress.eta_s() == pytest.approx(50.0)
    assert format_duration(50) == "50s" and format_duration(185) == "3m05s"
    assert format_duration(3720) == "1h02m"


@pytest.mark.parametrize("command", ["search", "resume"])
def test_ctrl_c_exits_130_and_names_resume(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("autorec.tune.run_search", interrupted)
    monkeypatch.setattr("autorec.tune.resume_search", interrupted)
    rd = tmp_path / "run"
    args = ["search", "--run-dir", str(rd)] if command == "search" else ["resume", str(rd)]
    result = runner.invoke(app, args)
    assert result.exit_code == 130
    assert f"autorec resume {rd}" in result.stderr
    assert "Tuner.restore" not in result.output


def test_driver_turns_off_tunes_sigint_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tune's handler ends the run normally (exit 0) and suggests Tuner.restore
    from autorec.tune._driver import _tune_env

    monkeypatch.delenv("TUNE_DISABLE_SIGINT_HANDLER", raising=False)
    with _tune_env():
        assert os.environ["TUNE_DISABLE_SIGINT_HANDLER"] == "1"
    assert "TUNE_DISABLE_SIGINT_HANDLER" not in os.environ  # put back as it was
