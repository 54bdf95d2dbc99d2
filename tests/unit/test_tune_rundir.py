"""Run-directory files, the report and the progress display, without a Ray cluster."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("ray.tune.search")

from fake_trainer import fake_train_genome
from rich.console import Console

from autorec.evolution import Evolution
from autorec.genome import SearchSpace
from autorec.tune import GeneticSearcher, RunDir, TrialRecord, atomic_write_text, build_report
from autorec.tune._generations import GenerationWriter
from autorec.tune._progress import Progress
from autorec.tune._trainable import train_trial, trial_name


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["b.txt"]


def test_train_trial_without_tune_reports_final_result() -> None:
    g = SearchSpace.from_yaml("drnn").default_genome()
    cfg = {"family": "drnn", **dict(g.genes), "genome_key": g.key, "generation": 0}
    out = train_trial(cfg, None, None, fake_train_genome)
    assert out["final"] and out["status"] == "ok" and out["fitness"] > 0
    assert out["genome_key"] == g.key and "val_top1" in out
    assert trial_name(cfg).startswith("g0-drnn-w")

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("boom")

    bad = train_trial(cfg, None, None, boom)
    assert bad["status"] == "error" and bad["fitness"] == 0.0 and "boom" in bad["error_message"]
    assert "Traceback" in bad["traceback"] and "RuntimeError: boom" in bad["traceback"]

    # a trainer that returns status "error" (train_genome never raises): its traceback is
    # the trial's, not lost behind fitness 0
    def returns_error(*a: object, **k: object) -> object:
        trace = "Traceback (most recent call last):\n  ...\nIndexError: batch index 7"
        return SimpleNamespace(fitness=0.0, status="error", epochs=1, error=trace)

    failed = train_trial(cfg, None, None, returns_error)
    assert failed["status"] == "error" and failed["fitness"] == 0.0
    assert failed["error_message"] == "IndexError: batch index 7"
    assert failed["traceback"].startswith("Traceback")


def test_generation_files_report_and_progress(tmp_path: Path) -> None:
    rd = RunDir(tmp_path / "run")
    rd.write_config({"space": "drnn", "algorithm": "elitist", "generations": 1})
    evo = Evolution(
        SearchSpace.from_yaml("drnn"), "elitist", population_size=3, generations=1, seed=0
    )
    records: list[dict[str, object]] = []
    known: dict[str, TrialRecord] = {}
    buf = io.StringIO()
    progress = Progress(2, 3, console=Console(file=buf, force_terminal=True, width=100))
    writer = GenerationWriter(rd, evo, known, progress)
    evo.on_generation.append(writer)

    def persist(rec: TrialRecord) -> None:
        records.append(rec.to_dict())
        known[rec.genome_key] = rec
        rd.write_records(records)

    s = GeneticSearcher(evo, on_record=persist)
    n = 0
    with progress:
        while True:
            n += 1
            cfg = s.suggest(f"t{n}")
            if cfg == "FINISHED":
                break
            assert isinstance(cfg, dict)
            progress.trial_started(f"t{n}")
            out = train_trial(cfg, None, None, fake_train_genome)
            s.on_trial_complete(f"t{n}", out)
            progress.trial_finished(f"t{n}", out["status"])
    assert "generation 2/2" in buf.getvalue() and "best" in buf.getvalue()
    assert [g["generation"] for g in rd.read_generations()] == [0, 1]
    book = json.loads(rd.logbook.read_text())
    assert len(book["generations"]) == 2 and len(book["deap_logbook"]) == 2
    with rd.trials_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(records) and "val_top1" in rows[0]
    assert rd.best_genome.is_file() and rd.hall_of_fame.is_file()
    page = rd.report.read_text()
    assert page.count("data:image/png;base64,") == 2 and 'id="trials"' in page
    rd.report.unlink()
    build_report(rd)
    assert rd.report.is_file() and (rd.plots / "fitness.png").is_file()
