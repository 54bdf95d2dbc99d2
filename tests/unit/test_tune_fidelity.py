"""The pure rung logic of ``--fidelity halving`` (autorec.tune._fidelity), worked by hand."""

from __future__ import annotations

import pytest

from autorec.errors import AutorecError
from autorec.tune._fidelity import (
    RungLadder,
    RungTracker,
    check_fidelity,
    fidelity_for,
    rung_milestones,
    window_fitness,
)


def test_milestones_are_grace_times_powers_of_eta_below_r() -> None:
    assert rung_milestones(10) == (1, 3, 9)
    assert rung_milestones(9) == (1, 3)
    assert rung_milestones(8, eta=2) == (1, 2, 4)
    assert rung_milestones(30, grace=2) == (2, 6, 18)
    assert rung_milestones(1) == ()
    with pytest.raises(ValueError):
        rung_milestones(10, eta=1)


def test_window_fitness_is_the_formula_of_the_window_means() -> None:
    reports = [(0.9, 9.0), (0.2, 1.0), (0.4, 3.0)]
    assert window_fitness(reports, 2) == pytest.approx(0.3 + 1 / 3)  # acc .3, loss 2
    assert window_fitness(reports, 1) == pytest.approx(0.4 + 1 / 4)
    assert window_fitness([], 3) == 0.0
    assert window_fitness([(0.5, float("nan"))], 3) == 0.0


def test_ladder_promotes_the_top_third_seen_so_far_per_generation() -> None:
    ladder = RungLadder((1, 3), eta=3)
    assert ladder.decide(0, "a", 1, 0.1) is None  # the first always goes on
    assert ladder.decide(0, "b", 1, 0.4) is None  # >= cutoff 0.1
    assert ladder.decide(0, "c", 1, 0.2) == 0  # cutoff of [0.1, 0.4]: 0.1 + 0.3 * 2/3 = 0.3
    # recorded [0.1, 0.4, 0.2]: the 2/3 quantile is 0.2 + (0.4 - 0.2) * 1/3 = 0.2667
    assert ladder.cutoff(0, 0) == pytest.approx(0.2 + 0.2 / 3)
    assert ladder.decide(0, "d", 1, 0.26) == 0
    assert ladder.decide(0, "e", 1, 0.27) is None
    assert ladder.decide(1, "f", 1, 0.0) is None  # another generation: its own ladder
    assert ladder.decide(0, "b", 1, 0.0) is None  # judged once per rung
    assert ladder.decide(0, "b", 2, 0.0) is None  # between rungs
    assert ladder.decide(0, "b", 3, 0.5) is None  # first at rung 1


def _report(epoch: int, acc: float, loss: float) -> dict[str, object]:
    return {"final": False, "epoch": epoch, "val_accuracy": acc, "loss": loss}


def test_tracker_stops_a_weaker_trial_and_rewrites_its_result() -> None:
    tracker = RungTracker(9, window=2)  # rungs at 1 and 3 epochs
    good = {"generation": 0, "genome_key": "good"}
    weak = {"generation": 0, "genome_key": "weak"}
    assert not tracker.observe("t1", good, _report(0, 0.5, 1.0))
    assert not tracker.observe("t2", weak, _report(0, 0.6, 1.0))  # better at rung 0
    assert not tracker.observe("t1", good, _report(1, 0.5, 1.0))
    assert not tracker.observe("t2", weak, _report(1, 0.1, 1.0))
    assert not tracker.observe("t1", good, _report(2, 0.7, 1.0))
    assert tracker.observe("t2", weak, _report(2, 0.2, 1.0))  # (0.1+0.2)/2 + 0.5 < 0.6 + 0.5
    stop = tracker.stopped["t2"]
    assert (stop.rung, stop.epochs) == (1, 3)
    assert stop.fitness == pytest.approx(0.15 + 0.5)
    final = tracker.final_result("t2", {"epoch": 2, "final": False, "fitness": 0.7})
    assert final is not None
    assert final["final"] is True and final["status"] == "ok" and final["rung"] == 1
    assert final["fitness"] == pytest.approx(0.65) and final["epochs"] == 3
    assert tracker.rungs_of("t2") == {1: pytest.approx(1.1), 3: pytest.approx(0.65)}
    assert tracker.final_result("t1", {"fitness": 0.9}) == {"fitness": 0.9}  # not stopped
    assert not tracker.observe("t1", good, {"final": True, "fitness": 1.2, "epochs": 9})
    tracker.forget("t2")
    assert tracker.rungs_of("t2") == {} and "t2" not in tracker.stopped


def test_seeded_rungs_set_the_cutoff_of_a_resumed_generation() -> None:
    tracker = RungTracker(9, window=1)
    tracker.seed(2, "elite", {1: 0.9, 3: 1.0, 5: 0.0})  # 5 is no milestone: ignored
    assert tracker.ladder.values[2] == {0: {"elite": 0.9}, 1: {"elite": 1.0}}
    assert tracker.observe("t", {"generation": 2, "genome_key": "k"}, _report(0, 0.1, 1.0))


def test_fidelity_option() -> None:
    class Opts:
        max_epochs = 10
        window = 3

    assert fidelity_for("none", Opts()) == (None, None)
    tracker, scheduler = fidelity_for("halving", Opts())
    assert tracker is not None and tracker.ladder.milestones == (1, 3, 9)
    assert "halving" in scheduler.debug_string()
    with pytest.raises(AutorecError, match="--fidelity"):
        check_fidelity("hyperband")
