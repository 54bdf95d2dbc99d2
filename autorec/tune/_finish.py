"""What a search does once its trials are over: keep only the hall of fame's weights, write
``best_model/`` with the best genome's test metrics and compare them with the baselines
(:mod:`autorec.baselines._compare`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autorec.baselines import compare

if TYPE_CHECKING:
    from autorec.tune._trainable import SearchData

__all__ = ["finish_search"]

logger = logging.getLogger(__name__)


def finish_search(
    root: str | Path,
    data: SearchData,
    *,
    keep: list[str],
    data_path: str | None,
    epochs: int,
    seed: int,
    real_trainer: bool,
    baselines: str | None = None,
    say: Any = None,
) -> dict[str, Any] | None:
    """What a search does when it stops: drop the weights of genomes outside the hall of
    fame ``keep``, write ``best_model/`` with the best genome's test metrics (only with the
    real trainer) and ``comparison.json``. Never raises: a failure here is a warning, the
    search's results stay."""
    from autorec.genome import load_genome
    from autorec.tune._checkpoints import finalize_best, prune_weights

    best_file = Path(root) / "best_genome.yaml"
    if not keep or not best_file.is_file():
        return None
    echo = say if callable(say) else (lambda _line: None)
    try:
        prune_weights(root, keep)
        genome = load_genome(best_file)
        metrics: dict[str, Any] = {}
        if real_trainer:
            metrics = finalize_best(
                root, genome, data, data_path=data_path, epochs=epochs, seed=seed, say=echo
            )
        echo("scoring the baselines on the same test split (cached in baselines.json)")
        return compare(
            metrics.get("test_metrics"),
            data,
            genome_key=genome.key,
            cache=root,
            baselines=baselines,
        )
    except Exception as exc:
        logger.warning("best network / baseline comparison not written: %s", exc)
        return None
