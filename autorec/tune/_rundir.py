"""The run directory of one search: every file it holds and atomic writes to them.

Layout (``RUN_DIR``)::

    config.yaml            every option of the search, library versions, sessions started
    fitness_cache.json     one record per finished trial (key, evaluation, trial id, wall time)
                           -- the source of truth for ``autorec resume``
    trials.csv             the same records as a table (genome key, trial id, generation,
                           status, fitness, epochs, wall time, metrics)
    searcher_state.pkl     the searcher's state: Evolution.state_dict() (population, hall of
                           fame, logbook, RNG state) and the trial/genome maps
    generations/gen_XXX.json  population of generation XXX: genomes, keys, fitnesses, metrics
    logbook.json           per-generation statistics (best / mean fitness, diversity, ...)
    hall_of_fame.yaml      best genomes found, best first
    best_genome.yaml       the best genome (``autorec train`` / ``export`` read it)
    report.html, plots/    the generation-aware report (``autorec report`` rebuilds it)
    tune/session-NN/       Ray Tune's experiment folder of each driver session
    DONE                   written when the search has finished

Every write goes to a temporary file in the same folder and is moved into place with
``os.replace``, so a killed driver (``kill -9`` included) never leaves a half-written file.
"""

from __future__ import annotations

import csv
import io
import json
import pickle
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from autorec._io import atomic_write_bytes, atomic_write_text, write_json
from autorec._io import json_safe as jsonable

__all__ = [
    "RunDir",
    "atomic_write_bytes",
    "atomic_write_text",
    "jsonable",
]


class RunDir:
    """Paths and atomic readers/writers of one search's run directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    # paths -------------------------------------------------------------------------------
    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def cache(self) -> Path:
        return self.root / "fitness_cache.json"

    @property
    def trials_csv(self) -> Path:
        return self.root / "trials.csv"

    @property
    def searcher_state(self) -> Path:
        return self.root / "searcher_state.pkl"

    @property
    def generations(self) -> Path:
        return self.root / "generations"

    @property
    def logbook(self) -> Path:
        return self.root / "logbook.json"

    @property
    def hall_of_fame(self) -> Path:
        return self.root / "hall_of_fame.yaml"

    @property
    def best_genome(self) -> Path:
        return self.root / "best_genome.yaml"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def tune(self) -> Path:
        return self.root / "tune"

    @property
    def done(self) -> Path:
        return self.root / "DONE"

    def generation_file(self, generation: int) -> Path:
        return self.generations / f"gen_{generation:03d}.json"

    # config ------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.config.is_file()

    def write_config(self, config: Mapping[str, Any]) -> None:
        atomic_write_text(self.config, yaml.safe_dump(jsonable(dict(config)), sort_keys=False))

    def read_config(self) -> dict[str, Any]:
        """``config.yaml`` (an :class:`AutorecError` naming it when it is no YAML mapping)."""
        from autorec.tune._checks import parse_config

        return parse_config(self.config)

    # fitness cache / trials --------------------------------------------------------------
    def read_records(self) -> list[dict[str, Any]]:
        """The finished-trial records, in completion order (empty when none yet)."""
        if not self.cache.is_file():
            return []
        from autorec.tune._checks import check_records

        text = self.cache.read_bytes().decode("utf-8", errors="replace")
        return check_records(self.cache, text)

    def write_records(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Rewrite the fitness cache and trials.csv from ``records`` (atomic each)."""
        write_json(self.cache, {"version": 1, "records": list(records)})
        atomic_write_text(self.trials_csv, trials_table(records))

    # generic -----------------------------------------------------------------------------
    def write_json(self, path: Path, data: Any) -> None:
        write_json(path, data)

    def write_yaml(self, path: Path, data: Any) -> None:
        atomic_write_text(path, yaml.safe_dump(jsonable(data), sort_keys=False))

    def write_pickle(self, path: Path, data: Any) -> None:
        atomic_write_bytes(path, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))

    def read_generations(self) -> list[dict[str, Any]]:
        """Every ``generations/gen_XXX.json``, in generation order."""
        if not self.generations.is_dir():
            return []
        out = []
        for path in sorted(self.generations.glob("gen_*.json")):
            out.append(dict(json.loads(path.read_text(encoding="utf-8"))))
        return out


TRIAL_COLUMNS = (
    "genome_key",
    "trial_id",
    "trial_name",
    "generation",
    "session",
    "family",
    "status",
    "fitness",
    "epochs",
    "wall_s",
    "n_params",
    "loss",
    "rung",
)


def trials_table(records: Iterable[Mapping[str, Any]]) -> str:
    """CSV text of the trial records: :data:`TRIAL_COLUMNS` then every metric (sorted)."""
    rows = list(records)
    metric_names = sorted(
        {m for r in rows for m in dict(r.get("metrics") or {})} - set(TRIAL_COLUMNS)
    )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*TRIAL_COLUMNS, *metric_names])
    for r in rows:
        metrics = dict(r.get("metrics") or {})
        writer.writerow(
            [_cell(r.get(c)) for c in TRIAL_COLUMNS] + [_cell(metrics.get(m)) for m in metric_names]
        )
    return buf.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
