"""Evolution engine and strategies, driven with a synthetic objective (no Ray, no torch)."""

from __future__ import annotations

import itertools
import json
import math
import pickle
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from autorec.errors import AutorecError
from autorec.evolution import (
    STRATEGIES,
    Evaluation,
    Evolution,
    GenerationSummary,
    make_strategy,
    sel_tournament,
)
from autorec.genome import Genome, SearchSpace

SPACE = SearchSpace.from_yaml("drnn")


def objective(g: Genome) -> Evaluation:
    """A smooth synthetic fitness of the genes, with a size objective that conflicts."""
    units = sum(int(g[f"units_{i}"]) for i in range(1, int(g["length"]) + 1))
    fit = (
        1.0
        - abs(math.log10(float(g["learning_rate"])) + 2.0) / 3.0
        + 0.05 * int(g["width"])
        + 0.2 * math.log(units) / math.log(2048)
        + (0.1 if g["activation"] == "tanh" else 0.0)
    )
    return Evaluation(g.key, fit, metrics={"n_params": float(units * int(g["width"]))}, epochs=3)


def run(
    evo: Evolution,
    calls: Counter[str] | None = None,
    fn: Callable[[Genome], Evaluation] = objective,
    reverse: bool = False,
) -> Evolution:
    """Drive to the end: ask everything available, then tell (optionally in reverse order)."""
    while not evo.done:
        batch = []
        while (g := evo.ask()) is not None:
            batch.append(g)
        assert batch, "nothing to ask but not done"
        for g in reversed(batch) if reverse else batch:
            if calls is not None:
                calls[g.key] += 1
            evo.tell(g.key, fn(g))
    return evo


def make(strategy: str = "elitist", seed: int = 1, **kw: Any) -> Evolution:
    args: dict[str, Any] = {"population_size": 8, "generations": 5, "seed": seed}
    args.update(kw)
    return Evolution(SPACE, strategy, **args)


def trajectory(evo: Evolution) -> tuple[object, ...]:
    return (evo.history, [dict(r) for r in evo.logbook], [g.key for g, _ in evo.hall_of_fame])


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_same_seed_same_trajectory(strategy: str) -> None:
    a = run(make(strategy, objectives=("fitness", "-n_params")))
    b = run(make(strategy, objectives=("fitness", "-n_params")), reverse=True)  # order-free
    assert trajectory(a) == trajectory(b)
    c = run(make(strategy, seed=2, objectives=("fitness", "-n_params")))
    assert trajectory(c) != trajectory(a)
    assert len(a.logbook) == 6 and a.generation == 5 and a.done


def test_no_global_random_state_used() -> None:
    random.seed(123)
    before = random.getstate()
    np.random.seed(5)
    np_before = np.random.get_state()[1].copy()  # type: ignore[index]
    for s in STRATEGIES:
        run(make(s, generations=3, objectives=("fitness", "-n_params")))
    assert random.getstate() == before
    assert (np.random.get_state()[1] == np_before).all()  # type: ignore[index]


@pytest.mark.parametrize("seed", range(6))
def test_elitist_best_never_decreases(seed: int) -> None:
    evo = run(make("elitist", seed=seed, population_size=6, generations=8))
    best = [r["best"] for r in evo.logbook]
    assert all(b2 >= b1 for b1, b2 in itertools.pairwise(best)), best
    assert evo.best is not None and evo.best[1].fitness == max(best)
    hof = [ev.fitness for _, ev in evo.hall_of_fame]
    assert hof == sorted(hof, reverse=True)
    assert len({g.key for g, _ in evo.hall_of_fame}) == len(hof)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_cache_prevents_reevaluation(strategy: str) -> None:
    calls: Counter[str] = Counter()
    evo = run(make(strategy, population_size=6, generations=10), calls)
    assert calls and max(calls.values()) == 1  # every key trained once
    assert sum(calls.values()) == len(evo.cache)
    evals = sum(int(r["evals"]) for r in evo.logbook)
    assert evals == len(calls)
    assert sum(int(r["cached"]) + int(r["evals"]) for r in evo.logbook) == 6 * 11


def test_duplicates_in_a_generation_are_asked_once() -> None:
    g = SPACE.default_genome()
    evo = Evolution(SPACE, "elitist", population_size=4, generations=0, seed=0, initial=[g, g, g])
    asked = []
    while (x := evo.ask()) is not None:
        asked.append(x.key)
    assert len(asked) == 2 and asked.count(g.key) == 1
    assert evo.pending == frozenset(asked)
    for k in asked:
        evo.tell(k, objective(evo.genome(k)))
    assert evo.done and evo.logbook[0]["diversity"] == 2


def test_cached_genomes_are_assigned_without_asking() -> None:
    calls: Counter[str] = Counter()
    first = run(make("elitist", generations=1), calls)
    again = make("elitist", generations=1)
    # results known from elsewhere (e.g. a previous run) are told out of band
    for key, ev in first.cache.items():
        again.tell(key, ev)
    assert again.done and again.ask() is None
    assert trajectory(again) == trajectory(first)


def test_paper_reevaluates_only_changed_children() -> None:
    # no variation: the population is only shuffled, nothing is trained again
    evo = run(make("paper", p_c=0.0, p_m=0.0, generations=4))
    assert [int(r["evals"]) for r in evo.logbook] == [8, 0, 0, 0, 0]
    assert all(Counter(h) == Counter(evo.history[0]) for h in evo.history)
    # with variation: a generation trains exactly its children that are new genomes
    evo = make("paper", p_c=0.7, p_m=0.3, generations=6)
    seen: set[str] = set()
    expected: list[int] = []

    def count(s: GenerationSummary) -> None:
        keys = {g.key for g, _ in s.population}
        expected.append(len(keys - seen))
        seen.update(keys)

    evo.add_callback(count)
    run(evo)
    assert [int(r["evals"]) for r in evo.logbook] == expected
    assert sum(expected[1:]) < 6 * 8  # some children were unchanged (not re-trained)


def test_paper_replaces_population_and_tracks_best() -> None:
    evo = run(make("paper", generations=6, seed=3))
    best_ever = max(ev.fitness for ev in evo.cache.values())
    assert evo.best is not None and evo.best[1].fitness == best_ever


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("cut", [3, 13, 27])
def test_state_dict_round_trip_mid_generation(strategy: str, cut: int) -> None:
    kw: dict[str, Any] = {"objectives": ("fitness", "-n_params")}
    ref = run(make(strategy, **kw))
    evo = make(strategy, **kw)
    steps = 0
    outstanding: list[Genome] = []
    while steps < cut and not evo.done:
        g = evo.ask()
        if g is None:
            for o in outstanding:
                evo.tell(o.key, objective(o))
            outstanding = []
            continue
        outstanding.append(g)
        if len(outstanding) == 2:  # tell one of two, keep one pending across the save
            o = outstanding.pop(0)
            evo.tell(o.key, objective(o))
        steps += 1
    state = json.loads(json.dumps(evo.state_dict()))  # JSON-able ...
    state = pickle.loads(pickle.dumps(state))  # ... and picklable
    restored = make(strategy, **kw)
    restored.load_state_dict(state)
    assert restored.generation == evo.generation
    assert restored.rng.bit_generator.state == evo.rng.bit_generator.state
    run(restored)
    assert trajectory(restored) == trajectory(ref)


def test_load_state_dict_keeps_pending_when_asked() -> None:
    ref = run(make("elitist"))
    evo = make("elitist")
    g = evo.ask()
    assert g is not None
    restored = make("elitist")
    restored.load_state_dict(evo.state_dict(), requeue_pending=False)
    assert restored.pending == {g.key}
    restored.tell(g.key, objective(g))
    run(restored)
    assert trajectory(restored) == trajectory(ref)
    with pytest.raises(ValueError, match="seed"):
        make("elitist", seed=9).load_state_dict(evo.state_dict())


def test_nsga2_produces_a_pareto_front() -> None:
    evo = run(make("nsga2", population_size=10, generations=6, objectives=("fitness", "-n_params")))
    front = evo.pareto_front
    assert len(front) >= 2

    def objs(ev: Evaluation) -> tuple[float, float]:
        return (ev.fitness, -ev.metrics["n_params"])

    def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return all(x >= y for x, y in zip(a, b, strict=True)) and a != b

    everything = [objs(ev) for ev in evo.cache.values()]
    for _, ev in front:
        assert not any(dominates(o, objs(ev)) for o in everything)
    # every non-dominated evaluated point is represented on the front
    nd = {o for o in everything if not any(dominates(p, o) for p in everything)}
    assert nd == {objs(ev) for _, ev in front}


def test_nsga2_uses_explicit_objectives() -> None:
    evo = make("nsga2", objectives=("a", "b"), generations=2)

    def fn(g: Genome) -> Evaluation:
        x = float(g["dropout"])
        return Evaluation(g.key, 1 - x, objectives=(x, 1 - x))

    run(evo, fn=fn)
    assert len(evo.pareto_front) > 2  # a line: every distinct point is non-dominated
    bad = make("nsga2", objectives=("a", "b"))
    g = bad.ask()
    assert g is not None
    with pytest.raises(ValueError, match="objectives"):
        bad.tell(g.key, Evaluation(g.key, 1.0, objectives=(1.0,)))


def test_callbacks_receive_summaries() -> None:
    got: list[GenerationSummary] = []
    evo = Evolution(
        SPACE, "elitist", population_size=5, generations=3, seed=0, on_generation=got.append
    )
    run(evo)
    assert [s.generation for s in got] == [0, 1, 2, 3]
    assert [s.done for s in got] == [False, False, False, True]
    for s in got:
        assert len(s.population) == 5 and all(ev is not None for _, ev in s.population)
        assert s.best[1].fitness == s.stats["best"]
        assert s.best_ever[1].fitness >= s.best[1].fitness


def test_children_valid_over_many_seeds() -> None:
    for strategy in STRATEGIES:
        for seed in range(8):
            evo = run(
                make(
                    strategy,
                    seed=seed,
                    population_size=6,
                    generations=3,
                    objectives=("fitness", "-n_params"),
                )
            )
            for g in evo.genomes.values():
                SPACE.validate(g)


def test_errors_and_helpers() -> None:
    with pytest.raises(AutorecError, match="did you mean 'elitist'"):
        make_strategy("elitst")
    with pytest.raises(AutorecError, match="bad parameters"):
        make_strategy("paper", elite=2)
    assert make_strategy("elitist", elite=2).params()["elite"] == 2
    with pytest.raises(ValueError, match="p_c"):
        make(p_c=1.5)
    evo = make()
    g = evo.ask()
    assert g is not None
    with pytest.raises(ValueError, match="key"):
        evo.tell(g.key, Evaluation("other", 1.0))
    evo.tell(g.key, Evaluation("", float("nan"), status="diverged"))  # key filled, NaN -> 0
    assert evo.cache[g.key].key == g.key
    items = list(range(10))
    a = sel_tournament(items, 5, 3, np.random.default_rng(0), float)
    assert a == sel_tournament(items, 5, 3, np.random.default_rng(0), float)
