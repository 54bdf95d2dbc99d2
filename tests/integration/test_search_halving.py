"""``--fidelity halving`` on a real local Ray (one Ray session for the module) with a fake
trainer whose accuracy rises over R = 9 epochs (rungs at 1 and 3 epochs): a genome stopped
at a rung reaches the GA with its rung fitness and epochs, and ``resume`` trains nothing
that finished, stopped genomes included."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from fake_trainer import fake_fitness, rising_accuracy, rising_train_genome  # noqa: E402

from autorec.data import SessionData, load_session_data  # noqa: E402
from autorec.tune import SearchOptions, resume_search, run_search, start_ray  # noqa: E402

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fake_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    log = tmp_path_factory.mktemp("log") / "trainings.log"
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), *paths])
    os.environ["AUTOREC_FAKE_LOG"] = str(log)  # before Ray starts: its workers inherit it
    start_ray(num_cpus=2, quiet=True)
    yield log
    ray.shutdown()
    os.environ.pop("AUTOREC_FAKE_LOG", None)


def _trained(log: Path) -> list[str]:
    if not log.is_file():
        return []
    return [ln.split()[1] for ln in log.read_text().splitlines() if ln.startswith("start ")]


@pytest.fixture(scope="module")
def sessions() -> SessionData:
    """The built-in synthetic sessions, loaded once for the module's searches."""
    return load_session_data(None, seed=3)


@pytest.fixture(scope="module")
def halving(
    fake_log: Path, sessions: SessionData, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Any]:
    rd = tmp_path_factory.mktemp("halving") / "run"
    opts = SearchOptions(
        population=6,
        generations=1,
        seed=3,
        epochs=9,
        fidelity="halving",
        run_dir=str(rd),
        cpus_per_trial=1.0,  # two trials at a time on the module's two CPUs
        baselines="popularity",  # one quick baseline: the fake results are not compared
    )
    return rd, run_search(opts, train_fn=rising_train_genome, data=sessions, quiet=True)


def _records(rd: Path) -> list[dict[str, Any]]:
    data = json.loads((rd / "fitness_cache.json").read_text())
    return list(data["records"] if isinstance(data, dict) else data)


def _rung_fitness(key: str, epochs: int) -> float:
    """What the rung sees after ``epochs`` epochs: the formula over the last 3 of them."""
    _, loss = fake_fitness(key)
    accs = [rising_accuracy(key, e) for e in range(max(1, epochs - 2), epochs + 1)]
    return sum(accs) / len(accs) + 1 / (1 + loss)


def test_stopped_genome_reaches_the_ga_with_its_rung_fitness(halving: tuple[Path, Any]) -> None:
    rd, summary = halving
    assert summary.finished
    records = _records(rd)
    stopped = [r for r in records if r["rung"] is not None]
    full = [r for r in records if r["rung"] is None]
    assert stopped and full  # some genomes stopped at a rung, some trained to R
    for r in stopped:
        assert r["status"] == "ok" and r["epochs"] in (1, 3)
        assert r["epochs"] == (1, 3)[r["rung"]]
        assert r["fitness"] == pytest.approx(_rung_fitness(r["genome_key"], r["epochs"]))
        assert max(int(e) for e in r["rungs"]) == r["epochs"]
    assert all(r["epochs"] == 9 and set(r["rungs"]) == {"1", "3"} for r in full)
    # the budget is the epochs actually trained
    assert summary.trial_epochs == sum(r["epochs"] for r in records) < 9 * len(records)
    # the GA's own evaluations of every stopped genome: its rung fitness and epochs
    told = {
        m["genome_key"]: m["evaluation"]
        for path in sorted((rd / "generations").glob("gen_*.json"))
        for m in json.loads(path.read_text())["population"]
    }
    by_key = {r["genome_key"]: r for r in records}
    gen0 = [r for r in stopped if r["generation"] == 0]
    assert gen0 and all(r["genome_key"] in told for r in gen0)
    for key, ev in told.items():
        assert ev["fitness"] == pytest.approx(by_key[key]["fitness"])
        assert ev["epochs"] == by_key[key]["epochs"]
    assert "rung" in (rd / "trials.csv").read_text().splitlines()[0]
    assert "stopped at a rung" in (rd / "report.html").read_text()


def test_resume_trains_nothing_finished(
    halving: tuple[Path, Any], fake_log: Path, sessions: SessionData, tmp_path: Path
) -> None:
    src, _ = halving
    rd = tmp_path / "run"
    shutil.copytree(src, rd, ignore=shutil.ignore_patterns("tune"))
    # an interruption during generation 0: its stopped genomes and one finished one kept
    data = json.loads((rd / "fitness_cache.json").read_text())
    records = list(data["records"] if isinstance(data, dict) else data)
    gen0 = [r for r in records if r["generation"] == 0]
    kept = [r for r in gen0 if r["rung"] is not None] + [r for r in gen0 if r["rung"] is None][:1]
    assert any(r["rung"] is not None for r in kept)
    if isinstance(data, dict):
        data["records"] = kept
    else:
        data = kept
    (rd / "fitness_cache.json").write_text(json.dumps(data))
    (rd / "DONE").unlink(missing_ok=True)
    shutil.rmtree(rd / "generations", ignore_errors=True)
    before = len(_trained(fake_log))
    summary = resume_search(rd, train_fn=rising_train_genome, data=sessions, quiet=True)
    trained = _trained(fake_log)[before:]
    assert summary.finished and summary.replayed >= len(kept)
    assert trained and not {r["genome_key"] for r in kept} & set(trained)
    after = {r["genome_key"]: r for r in _records(rd)}
    for r in kept:  # the stopped genomes keep their rung and rung fitness
        assert after[r["genome_key"]]["rung"] == r["rung"]
        assert after[r["genome_key"]]["fitness"] == pytest.approx(r["fitness"])
