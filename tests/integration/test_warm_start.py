"""``search --warm-start``: generation 0 seeded from an earlier run's hall of fame (on a real
local Ray, one session for the module, tiny sizes, the synthetic default data, the
deterministic fake trainer); fitness reused only when data and split are identical."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ray = pytest.importorskip("ray")

from fake_trainer import fake_train_genome  # noqa: E402

from autorec.errors import AutorecError  # noqa: E402
from autorec.genome import SearchSpace  # noqa: E402
from autorec.tune import SearchOptions, run_search  # noqa: E402
from autorec.tune._warm import warm_start_genomes  # noqa: E402

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), *paths])
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        logging_level="ERROR",
        log_to_driver=False,
    )
    yield
    ray.shutdown()


def _search(run_dir: Path, **kw: Any) -> Any:
    opts = SearchOptions(
        **{"population": 4, "generations": 1, "seed": 3, "run_dir": str(run_dir), **kw}
    )
    return run_search(opts, quiet=True, train_fn=fake_train_genome)


def _generation(run_dir: Path, g: int) -> dict[str, Any]:
    out: dict[str, Any] = json.loads((run_dir / "generations" / f"gen_{g:03d}.json").read_text())
    return out


def test_warm_start_reaches_the_earlier_best_in_generation_0(
    ray_session: None, tmp_path: Path
) -> None:
    first = _search(tmp_path / "first")
    assert first.finished and first.best_fitness is not None
    hof = yaml.safe_load((tmp_path / "first" / "hall_of_fame.yaml").read_text())

    # same data, split and training options: the earlier fitness is reused, not retrained
    again = _search(tmp_path / "again", generations=0, warm_start=str(tmp_path / "first"))
    gen0 = _generation(tmp_path / "again", 0)
    keys = [p["genome_key"] for p in gen0["population"]]
    assert hof[0]["key"] in keys  # the earlier best seeds generation 0
    assert gen0["best_fitness"] >= first.best_fitness  # reached in generation 0
    assert again.replayed >= 1 and again.replayed + again.trained_this_session == 4

    # another split: the seeds are there, but every genome is trained again
    other = _search(
        tmp_path / "other",
        generations=0,
        split="2024-02-10,2024-02-20",
        warm_start=str(tmp_path / "first"),
    )
    gen0 = _generation(tmp_path / "other", 0)
    assert hof[0]["key"] in [p["genome_key"] for p in gen0["population"]]
    assert other.replayed == 0
    # the fake trainer's fitness is a function of the genome: the best is reached again
    assert gen0["best_fitness"] >= first.best_fitness


def test_bad_warm_start_fails_before_the_run_dir_is_made(tmp_path: Path) -> None:
    with pytest.raises(AutorecError, match="neither a run dir nor a bundle"):
        _search(tmp_path / "run", warm_start=str(tmp_path / "nowhere"))
    assert not (tmp_path / "run" / "config.yaml").exists()


def test_bundle_genome_is_repaired_into_the_space(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(REPO / "tests" / "unit"))
    from _export_fixtures import tiny_bundle

    bundle = tiny_bundle(tmp_path)  # genome: predictor, 1 layer of 4 units
    space = SearchSpace.from_yaml("predictor")
    (genome,) = warm_start_genomes(bundle, space)
    assert space.is_valid(genome) and genome.family == "predictor"
    assert genome.genes["layers"] == 1
    with pytest.raises(AutorecError, match="predictor genomes but the search space is drnn"):
        warm_start_genomes(bundle, SearchSpace.from_yaml("drnn"))
