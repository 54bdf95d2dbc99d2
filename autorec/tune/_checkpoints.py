"""Trained weights a search keeps, so ``autorec export`` copies a network instead of
retraining it.

* Every trial that ends with a network (status ``ok`` / ``unsettled``) reports it to Tune as
  a checkpoint (an ``autorec train --save`` folder: ``model.py``, ``weights.safetensors``,
  ``genome.yaml``, ``metrics.json``, ``train.json``), so it reaches the driver whatever node
  trained it.
* The driver's :class:`KeepWeights` callback moves it to ``RUN_DIR/weights/<genome key>/``
  when the trial completes; at every closed generation :func:`prune_weights` drops the
  folders of genomes that left the hall of fame, so the run keeps at most one network per
  hall-of-fame genome.
* When the search stops, :func:`finalize_best` writes ``RUN_DIR/best_model/`` for the best
  genome with its **test** metrics: session networks are the kept weights, scored on the
  test split (no training); purchase networks are retrained once on the real protocol, as
  every predictor's test score is (a trial fits only the validation protocol, whose
  catalogue differs). ``autorec export RUN_DIR`` then copies ``best_model/``.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from autorec._io import read_json, replace_dir

__all__ = [
    "BEST_MODEL",
    "WEIGHTS",
    "KeepWeights",
    "best_model_key",
    "finalize_best",
    "prune_weights",
    "trial_checkpoint",
    "weights_dir",
]

logger = logging.getLogger(__name__)

WEIGHTS = "weights"
BEST_MODEL = "best_model"
_CKPT_SUBDIR = "model"


def weights_dir(root: str | Path, key: str) -> Path:
    """``RUN_DIR/weights/<key>``: the kept network of genome ``key``."""
    return Path(root) / WEIGHTS / key


def trial_checkpoint(result: Any, data: Any = None) -> Any:
    """A Tune checkpoint holding ``result``'s network (``None`` when there is none: a failed
    trial, a test stand-in without a network), saved with the raw item ids of ``data`` (the
    trial's data set) where they fit it. The folder is a temporary one Tune copies into its
    storage when the trial reports it."""
    from ray import tune

    from autorec.errors import AutorecError
    from autorec.train import TrainResult
    from autorec.train.saving import save_trained

    if not isinstance(result, TrainResult) or result.model is None:
        return None
    if result.status not in ("ok", "unsettled"):
        return None
    tmp = Path(tempfile.mkdtemp(prefix="autorec-ckpt-"))
    try:
        save_trained(result, tmp / _CKPT_SUBDIR, dataset=data)
    except AutorecError:  # ids that do not fit (a stand-in data set): keep the network anyway
        save_trained(result, tmp / _CKPT_SUBDIR)
    return tune.Checkpoint.from_directory(str(tmp))


def _keep(root: Path, key: str, checkpoint: Any) -> None:
    target = weights_dir(root, key)
    tmp = target.parent / f".{key}.tmp-{uuid.uuid4().hex[:8]}"
    target.parent.mkdir(parents=True, exist_ok=True)
    source = Path(str(checkpoint.path)) / _CKPT_SUBDIR
    if source.is_dir():  # local storage: a rename, not a copy
        try:
            shutil.move(str(source), str(tmp))
        except OSError:
            shutil.copytree(source, tmp)
    else:  # remote storage: download
        with tempfile.TemporaryDirectory() as down:
            checkpoint.to_directory(down)
            shutil.copytree(Path(down) / _CKPT_SUBDIR, tmp)
    replace_dir(tmp, target)


def _callback_base() -> type:
    from ray.tune import Callback

    return Callback


class KeepWeights(_callback_base()):  # type: ignore[misc]
    """Tune callback: a completed trial's checkpoint becomes ``weights/<genome key>/``."""

    def __init__(self, root: str | Path) -> None:
        self.root = str(root)

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        checkpoint = getattr(trial, "checkpoint", None)
        key = str((trial.config or {}).get("genome_key", ""))
        if checkpoint is None or not key:
            return
        try:
            _keep(Path(self.root), key, checkpoint)
        except Exception as exc:  # keeping weights must never stop the search
            logger.warning("weights of trial %s not kept: %s", trial.trial_id, exc)


def prune_weights(root: str | Path, keep: Iterable[str]) -> None:
    """Delete the kept networks of every genome not in ``keep`` (the hall of fame)."""
    folder = Path(root) / WEIGHTS
    if not folder.is_dir():
        return
    wanted = set(keep)
    for path in folder.iterdir():
        if path.is_dir() and not path.name.startswith(".") and path.name not in wanted:
            shutil.rmtree(path, ignore_errors=True)


def best_model_key(root: str | Path) -> str | None:
    """The genome key of ``RUN_DIR/best_model/`` (``None`` when there is none)."""
    info = Path(root) / BEST_MODEL / "train.json"
    if not info.is_file():
        return None
    with contextlib.suppress(OSError, ValueError):
        return str(read_json(info).get("genome_key") or "") or None
    return None


def _data_info(data: Any, path: str | None) -> dict[str, Any]:
    from autorec.cli.train import data_info

    resolved = str(Path(path).resolve()) if path and Path(path).exists() else path
    return data_info(data, resolved, None)


def finalize_best(
    root: str | Path,
    genome: Any,
    data: Any,
    *,
    data_path: str | None,
    epochs: int,
    seed: int,
    say: Callable[[str], None] = lambda _line: None,
) -> dict[str, Any]:
    """Write ``RUN_DIR/best_model/`` for ``genome`` (module docstring) and return its
    ``metrics.json`` (with ``test_metrics``). Does nothing but read it when ``best_model/``
    already holds this genome."""
    from autorec.families import get_family
    from autorec.train import TrainOptions, train_genome
    from autorec.train.saving import SAVE_FORMAT, load_saved, save_trained, write_saved

    target = Path(root) / BEST_MODEL
    if best_model_key(root) == genome.key:
        return _metrics(target)
    kept = weights_dir(root, genome.key)
    info = _data_info(data, data_path)
    if get_family(genome.family).kept_weights_final and (kept / "train.json").is_file():
        from autorec.cli.evaluate import evaluate_saved

        say(f"scoring the best network ({genome.key}) on the test split: kept weights, no training")
        saved = load_saved(kept)
        scores = evaluate_saved(saved, data)
        metrics = {**dict(saved.metrics), **scores}
        train_info = {**dict(saved.info), "format": SAVE_FORMAT, "data": info}
        train_info["options"] = {"max_epochs": epochs, "seed": seed}
        write_saved(
            target,
            genome=saved.genome,
            model=saved.model,
            metrics=metrics,
            info=train_info,
            dataset=data,
        )
        return metrics
    family = get_family(genome.family)
    why = (
        "no kept weights"
        if family.kept_weights_final
        else f"{family.name} networks are fitted on the real protocol for their test score"
    )
    say(f"training the best genome ({genome.key}) once for its test metrics ({why})")
    options = TrainOptions(max_epochs=epochs, seed=seed, test=True)
    result = train_genome(genome, data, options)
    if result.model is None or result.status not in ("ok", "unsettled"):
        say(f"the best genome's training ended {result.status}; no best_model/ written")
        return {}
    save_trained(result, target, data=info, options=options, dataset=data)
    return _metrics(target)


def _metrics(folder: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        data = read_json(folder / "metrics.json")
        return dict(data) if isinstance(data, Mapping) else {}
    return {}
