"""``autorec search --warm-start RUN_DIR|BUNDLE``: start a search from what an earlier one
learnt.

Generation 0 is seeded with the earlier run's hall of fame (best first; a bundle gives its
one genome), each repaired into the new search space (:meth:`SearchSpace.repair`: genes the
new space lacks are dropped, missing ones filled, values clipped into the new ranges); the
rest of generation 0 is sampled as usual.

Fitness is reused -- a seed whose key the earlier run measured is told its recorded
evaluation instead of being trained again -- only when the fitness would be the same: the
earlier run is a search run dir and every option a trial's fitness depends on (data, split,
epochs, seed, trainer, objectives, training-example shaping: every option except the ones
that only steer the search or place it, :data:`NOT_FITNESS`) is identical. A repaired
genome whose key changed is a new genome and is trained.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from autorec.errors import AutorecError

__all__ = ["NOT_FITNESS", "warm_start_genomes", "warm_start_records"]

#: SearchOptions that do not change what a trial's fitness is.
NOT_FITNESS = frozenset(
    {
        "space",
        "population",
        "generations",
        "algorithm",
        "p_c",
        "p_m",
        "run_dir",
        "address",
        "num_cpus",
        "cpus_per_trial",
        "gpus_per_trial",
        "max_failures",
        "warm_start",
        "baselines",  # compared with after the search, not part of a trial's fitness
    }
)

_FIX = "pass a search run dir (config.yaml + hall_of_fame.yaml) or an exported bundle"


def _source(path: str | Path) -> tuple[str, Path]:
    root = Path(path)
    if (root / "manifest.json").is_file() and (root / "genome.yaml").is_file():
        return "bundle", root
    if (root / "config.yaml").is_file():
        return "run", root
    raise AutorecError(f"option --warm-start {path}", "is neither a run dir nor a bundle", _FIX)


def _read_yaml(path: Path, what: str) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise AutorecError(
            f"option --warm-start {path}", f"cannot read {what}: {err}", _FIX
        ) from None


def _earlier_genomes(path: str | Path) -> list[dict[str, Any]]:
    kind, root = _source(path)
    if kind == "bundle":
        genome = _read_yaml(root / "genome.yaml", "genome.yaml")
        return [genome] if isinstance(genome, dict) else []
    hof = root / "hall_of_fame.yaml"
    if not hof.is_file():
        raise AutorecError(
            f"option --warm-start {path}",
            "has no hall_of_fame.yaml yet (no generation finished)",
            "let the earlier search finish a generation, or resume it first",
        )
    entries = _read_yaml(hof, "hall_of_fame.yaml") or []
    return [
        e["genome"] for e in entries if isinstance(e, dict) and isinstance(e.get("genome"), dict)
    ]


def warm_start_genomes(path: str | Path, space: Any) -> list[Any]:
    """The earlier run's best genomes (best first), repaired into ``space``, duplicates
    (after repair) dropped."""
    from autorec.genome import Genome

    out: list[Any] = []
    seen: set[str] = set()
    for raw in _earlier_genomes(path):
        if raw.get("family") != space.family:
            raise AutorecError(
                f"option --warm-start {path}",
                f"holds {raw.get('family')} genomes but the search space is {space.family}",
                "warm-start from a run or bundle of the same family",
            )
        genome = space.repair(Genome.from_dict(raw, where=f"--warm-start {path}"))
        if genome.key not in seen:
            seen.add(genome.key)
            out.append(genome)
    return out


def _same_fitness(earlier: Mapping[str, Any], options: Any) -> bool:
    for f in dataclasses.fields(options):
        if f.name in NOT_FITNESS:
            continue
        if earlier.get(f.name, f.default) != getattr(options, f.name):
            return False
    return True


def warm_start_records(path: str | Path, options: Any) -> dict[str, Any]:
    """Genome key -> the earlier run's trial record, when fitness may be reused (module
    docstring); empty otherwise."""
    from autorec.tune._rundir import RunDir
    from autorec.tune._searcher import TrialRecord

    kind, root = _source(path)
    if kind != "run":
        return {}
    rd = RunDir(root)
    if not _same_fitness(rd.read_config(), options):
        return {}
    records = [TrialRecord.from_dict(r) for r in rd.read_records()]
    return {r.genome_key: r for r in records if r.status in ("ok", "unsettled")}
