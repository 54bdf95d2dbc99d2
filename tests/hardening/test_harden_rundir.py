"""Findings 5-12: a run directory read back is checked, locked and tied to its data, and
nothing in it changes (nor does Ray start) before every check has passed."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
from pathlib import Path

import pytest
import yaml

pytest.importorskip("ray.tune.search")

import ray.cloudpickle

from autorec.errors import AutorecError
from autorec.tune import (
    RunDir,
    SearchOptions,
    _driver,
    resume_search,
    run_search,
)


@pytest.fixture(autouse=True)
def no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reaching Ray means a check was skipped: fail at once instead of starting it."""

    def refuse(*a: object, **k: object) -> None:
        raise RuntimeError("reached Ray before the checks ended")

    monkeypatch.setattr(_driver, "start_ray", refuse)


def _run_dir(tmp_path: Path, data: Path | None = None, **extra: object) -> Path:
    rd = tmp_path / "run"
    rd.mkdir()
    opts = SearchOptions(population=3, seed=1, run_dir=str(rd), data=str(data) if data else None)
    config = {**dataclasses.asdict(opts), "sessions": [], **extra}
    (rd / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return rd


def _refused(rd: Path, match: str) -> None:
    before = {p.name: p.read_bytes() for p in rd.iterdir() if p.is_file() and p.name != ".lock"}
    with pytest.raises(AutorecError, match=match):
        resume_search(rd, quiet=True)
    after = {p.name: p.read_bytes() for p in rd.iterdir() if p.is_file() and p.name != ".lock"}
    assert after == before, "a refused resume changed the run dir"


def test_5_a_fitness_cache_of_another_shape_is_refused_not_emptied(tmp_path: Path) -> None:
    rd = _run_dir(tmp_path)
    (rd / "fitness_cache.json").write_text("[1, 2, 3]")
    with pytest.raises(AutorecError, match=r"fitness_cache\.json: is not"):
        RunDir(rd).read_records()
    _refused(rd, r"fitness_cache\.json")


@pytest.mark.parametrize("text", ["", "population: 3\nseed: 1\n"])
def test_6_an_empty_or_cut_config_is_refused(tmp_path: Path, text: str) -> None:
    rd = _run_dir(tmp_path)
    (rd / "config.yaml").write_text(text)
    _refused(rd, r"config\.yaml: (holds nothing|lacks space)")


def test_7_a_second_driver_is_refused_while_one_holds_the_run_dir(tmp_path: Path) -> None:
    from autorec.tune._lock import run_dir_lock

    rd = _run_dir(tmp_path)
    with run_dir_lock(rd.resolve()):
        _refused(rd, rf"in use by another autorec search or resume \(pid {os.getpid()}\)")
    # released: the next resume gets past the lock (to the Ray stand-in)
    with pytest.raises(RuntimeError, match="reached Ray"):
        resume_search(rd, quiet=True)


def test_8_resuming_on_other_data_or_split_is_refused(tmp_path: Path) -> None:
    from autorec.tune._checks import data_fingerprint

    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("user_id,item_id,timestamp\nu1,i1,1\n")
    b.write_text("user_id,item_id,timestamp\nu9,i9,9\n")
    rd = _run_dir(tmp_path, a, data_fingerprint=data_fingerprint(str(a), None))
    config = yaml.safe_load((rd / "config.yaml").read_text())
    (rd / "config.yaml").write_text(yaml.safe_dump({**config, "data": str(b)}))
    _refused(rd, r"field data: is .*b\.csv', but the search started on .*a\.csv")
    (rd / "config.yaml").write_text(yaml.safe_dump({**config, "split": "2020-01-01,2020-02-01"}))
    _refused(rd, "field split")
    (rd / "config.yaml").write_text(yaml.safe_dump(config))
    a.write_text("user_id,item_id,timestamp\nu1,i2,1\n")  # same path, other bytes
    _refused(rd, r"data file a\.csv has changed")


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        (
            "fitness_cache.json",
            '{"version": 1, "records": [{"genome_key": "ab", ',
            "not valid JSON",
        ),
        ("fitness_cache.json", "", "not valid JSON"),
        (
            "fitness_cache.json",
            '{"version": 1, "records": [{"genome_key": "ab", "fitness": "high"}]}',
            r"record 0, field fitness: 'high' is not a number",
        ),
        ("config.yaml", "space: drnn\npopulation: [3\n", r"not valid YAML \(line 3: expected"),
        ("config.yaml", "space: drnn\x07\n", "not valid YAML"),
        ("config.yaml", None, r"field population: 'many' is not a int"),
    ],
)
def test_9_bad_files_end_in_one_error_and_change_nothing(
    tmp_path: Path, name: str, text: str | None, match: str
) -> None:
    rd = _run_dir(tmp_path)
    if text is None:
        config = yaml.safe_load((rd / "config.yaml").read_text())
        text = yaml.safe_dump({**config, "population": "many"})
    (rd / name).write_text(text)
    _refused(rd, match)


def test_9_a_read_only_run_dir_is_refused(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    rd = _run_dir(tmp_path)
    rd.chmod(0o500)
    try:
        _refused(rd, "cannot be written")
    finally:
        rd.chmod(0o700)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"split": "2014-06-16,2014-06-01"}, "--split"),
        ({"objectives": "fitness,bogus", "algorithm": "nsga2"}, "unknown objective 'bogus'"),
    ],
)
def test_10_options_are_checked_before_ray_or_any_file(
    tmp_path: Path, kw: dict[str, str], match: str
) -> None:
    rd = tmp_path / "run"
    with pytest.raises(AutorecError, match=match):
        run_search(SearchOptions(population=2, generations=0, run_dir=str(rd), **kw), quiet=True)
    assert not (rd / "config.yaml").exists()


def test_11_all_failed_has_one_line_and_exit_1(tmp_path: Path) -> None:
    import typer

    from autorec.cli.search import print_summary

    rd = _run_dir(tmp_path)
    recs = [{"genome_key": k, "status": "error", "fitness": 0.0, "error": "E: boom"} for k in "ab"]
    RunDir(rd).write_records(recs)
    summary = _driver.SearchSummary(str(rd), True, "a", 0.0, {}, {}, "error", 1, 2, 2, 0, 1.0)
    with pytest.raises(typer.Exit) as exit_info:
        print_summary(summary, as_json=True)
    assert exit_info.value.exit_code == 1


def test_12_autorec_errors_cross_process_boundaries_whole() -> None:
    err = AutorecError("genome abc", "cannot be planned", "use fewer units")
    for codec in (pickle, ray.cloudpickle):
        back = codec.loads(codec.dumps(err))
        assert isinstance(back, AutorecError) and str(back) == str(err)
        assert (back.where, back.problem, back.fix) == (err.where, err.problem, err.fix)


def test_12_a_planner_refusal_is_kept_in_the_trial_error() -> None:
    from autorec.tune._checks import note_refusal, trial_error

    note_refusal("k1", "needs 900 GiB, the largest GPU has 80")
    assert trial_error("k1", "", True) == "planner refused: needs 900 GiB, the largest GPU has 80"
    assert trial_error("k1", "MemoryError: x", True).endswith("; then MemoryError: x")
    assert trial_error("k2", "", True) == "trial failed"
    assert trial_error("k1", "", False) == ""
    assert json.dumps(trial_error("k1", "", True))
