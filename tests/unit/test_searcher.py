"""GeneticSearcher driven directly (no Ray cluster): suggest / on_trial_complete loops."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray.tune.search")

from ray.tune.search import Searcher

from autorec.evolution import Evolution
from autorec.genome import SearchSpace
from autorec.tune import GeneticSearcher, TrialRecord, genome_from_config


def _fitness(key: str) -> float:
    h = hashlib.sha256(key.encode()).digest()
    return 0.2 + int.from_bytes(h[:4], "big") / 2**32


def _result(config: dict[str, Any]) -> dict[str, Any]:
    fit = _fitness(config["genome_key"])
    return {
        "final": True,
        "fitness": fit,
        "status": "ok",
        "epochs": 3,
        "val_top1": fit / 2,
        "loss": 1.0,
        "n_params": 123,
        "wall_s": 0.1,
    }


def _evolution(seed: int = 3, algorithm: str = "elitist", generations: int = 3) -> Evolution:
    return Evolution(
        SearchSpace.from_yaml("drnn"),
        algorithm,
        population_size=5,
        generations=generations,
        seed=seed,
    )


class Driver:
    """A tiny stand-in for Tune: asks for trials while the searcher hands them out, then
    completes pending trials in an order given by ``order`` (to show order independence)."""

    def __init__(self, searcher: GeneticSearcher, order: str = "fifo") -> None:
        self.searcher = searcher
        self.order = order
        self.running: dict[str, dict[str, Any]] = {}
        self.counter = 0
        self.trained: list[str] = []

    def step(self, max_running: int = 3) -> bool:
        """Fill up to ``max_running`` trials, complete one. False when finished."""
        while len(self.running) < max_running:
            self.counter += 1
            tid = f"t{self.counter:04d}"
            cfg = self.searcher.suggest(tid)
            if cfg == Searcher.FINISHED:
                assert not self.running
                return False
            if cfg is None:
                break
            assert isinstance(cfg, dict)
            self.running[tid] = cfg
        if not self.running:
            return self.searcher.suggest("probe") != Searcher.FINISHED
        tid = sorted(self.running)[0] if self.order == "fifo" else sorted(self.running)[-1]
        cfg = self.running.pop(tid)
        self.trained.append(cfg["genome_key"])
        self.searcher.on_trial_complete(tid, _result(cfg))
        return True

    def run(self, max_steps: int = 10_000) -> None:
        for _ in range(max_steps):
            if not self.step():
                return
        raise AssertionError("search did not finish")


def _trajectory(evo: Evolution) -> list[list[str]]:
    return [list(h) for h in evo.history]


def test_suggest_returns_config_with_genes_and_key() -> None:
    evo = _evolution()
    s = GeneticSearcher(evo)
    cfg = s.suggest("a")
    assert isinstance(cfg, dict)
    assert cfg["family"] == "drnn" and cfg["generation"] == 0
    g = genome_from_config(cfg)
    assert g.key == cfg["genome_key"]
    assert "width" in cfg and "learning_rate" in cfg
    assert s.trials["a"][0] == g.key and s.pending[g.key] == "a"


def test_full_loop_finishes_and_elitist_best_never_falls() -> None:
    evo = _evolution()
    s = GeneticSearcher(evo)
    Driver(s).run()
    assert evo.done
    assert s.suggest("late") == Searcher.FINISHED
    best = [row["best"] for row in evo.logbook]
    running_best = [max(best[: i + 1]) for i in range(len(best))]
    assert best == running_best, "elitist: the population's best never falls"
    assert len(evo.history) == 4
    keys = [r.genome_key for r in s.records]
    assert len(keys) == len(set(keys)), "a genome key was trained twice"


def test_result_order_does_not_change_trajectory() -> None:
    a, b = _evolution(), _evolution()
    Driver(GeneticSearcher(a), "fifo").run()
    Driver(GeneticSearcher(b), "lifo").run()
    assert _trajectory(a) == _trajectory(b)
    assert a.hall_of_fame[0][0].key == b.hall_of_fame[0][0].key


def test_error_trial_scores_zero_and_search_continues() -> None:
    evo = _evolution(generations=1)
    s = GeneticSearcher(evo)
    c1 = s.suggest("x1")
    c2 = s.suggest("x2")
    assert isinstance(c1, dict) and isinstance(c2, dict)
    s.on_trial_complete("x1", None, error=True)
    s.on_trial_complete("x2", {"final": True, "fitness": float("nan"), "status": "ok"})
    assert evo.cache[c1["genome_key"]].fitness == 0.0
    assert evo.cache[c1["genome_key"]].status == "error"
    assert evo.cache[c2["genome_key"]].status == "error"
    d = Driver(s)
    d.run()
    assert evo.done
    # a diverged trial keeps its status and scores 0
    evo2 = _evolution(generations=0)
    s2 = GeneticSearcher(evo2)
    c = s2.suggest("d")
    assert isinstance(c, dict)
    s2.on_trial_complete("d", {"final": True, "fitness": 0.7, "status": "diverged"})
    assert evo2.cache[c["genome_key"]].fitness == 0.0
    assert evo2.cache[c["genome_key"]].status == "diverged"


def test_unknown_and_duplicate_completions_are_ignored() -> None:
    s = GeneticSearcher(_evolution())
    s.on_trial_complete("nope", {"fitness": 1.0})
    cfg = s.suggest("a")
    assert isinstance(cfg, dict)
    s.on_trial_complete("a", _result(cfg))
    s.on_trial_complete("a", _result(cfg))
    assert len(s.records) == 1


def test_save_restore_mid_generation_same_trajectory(tmp_path: Path) -> None:
    ref = _evolution()
    Driver(GeneticSearcher(ref)).run()

    evo = _evolution()
    s = GeneticSearcher(evo)
    d = Driver(s)
    for _ in range(7):  # into generation 1, with trials running
        assert d.step()
    assert s.pending, "save with trials in flight"
    path = tmp_path / "searcher.pkl"
    s.save(str(path))

    # a new searcher restored from disk; the in-flight trials complete on it (Tune restore)
    s2 = GeneticSearcher(_evolution())
    s2.restore(str(path))
    d.searcher = s2
    d.run()
    assert _trajectory(s2.evolution) == _trajectory(ref)
    assert s2.evolution.hall_of_fame[0][0].key == ref.hall_of_fame[0][0].key


def test_restore_with_requeue_asks_lost_trials_again(tmp_path: Path) -> None:
    ref = _evolution()
    Driver(GeneticSearcher(ref)).run()
    evo = _evolution()
    s = GeneticSearcher(evo)
    d = Driver(s)
    for _ in range(6):
        d.step()
    lost = set(s.pending)
    assert lost
    s.save(str(tmp_path / "s.pkl"))
    s2 = GeneticSearcher(_evolution(), requeue_pending=True)
    s2.restore(str(tmp_path / "s.pkl"))
    d2 = Driver(s2)  # the old in-flight trials are gone
    d2.run()
    assert _trajectory(s2.evolution) == _trajectory(ref)
    assert lost <= set(d2.trained)


def test_replay_from_known_records_trains_nothing_twice() -> None:
    """What ``autorec resume`` does: a fresh evolution replays the fitness cache."""
    ref = _evolution()
    first = GeneticSearcher(ref)
    d = Driver(first)
    for _ in range(9):
        d.step()
    done_keys = {r.genome_key for r in first.records}
    known = {r.genome_key: TrialRecord.from_dict(r.to_dict()) for r in first.records}

    evo = _evolution()
    s = GeneticSearcher(evo, known=known)
    d2 = Driver(s)
    d2.run()
    assert not done_keys & set(d2.trained)
    assert s.replayed == len(done_keys)

    full = _evolution()
    Driver(GeneticSearcher(full)).run()
    assert _trajectory(evo) == _trajectory(full)


def test_state_is_picklable_without_callbacks(tmp_path: Path) -> None:
    import pickle

    s = GeneticSearcher(_evolution(), on_record=lambda r: None)
    s.suggest("a")
    clone = pickle.loads(pickle.dumps(s))
    assert clone.on_record is None and clone.evolution is None
    evo = _evolution()
    clone.attach(evo)
    assert clone.trials == s.trials and clone.evolution is evo
    assert evo.waiting == s.evolution.waiting + len(s.evolution.pending)  # requeued
