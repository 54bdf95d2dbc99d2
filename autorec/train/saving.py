"""Saving a trained network (``autorec train --save DIR``) and loading it back
(``autorec evaluate DIR``, ``autorec export DIR``).

A saved folder is a production bundle (format 2, :mod:`autorec.export`: ``manifest.json``
with the sha256 of every file, ``model.py``, ``runtime.py``, ``weights.safetensors``,
``genome.yaml``, ``item_map.json``, ``page_map.json`` for sessions, ``metrics.json``,
``data_card.json``, ``load.py``) plus one more listed file::

    train.json           format, genome key, family, dims, Net kwargs, data source and split,
                         training options

so :func:`autorec.export.load_bundle` and the bundle's own ``load.py`` load it as they load an
export. ``model.py`` is always the unsharded source and ``weights.safetensors`` the unsharded
state dict (a network trained sharded, ``--devices cpu,cpu``, is gathered), so the folder loads
on one device whatever the training used. ``metrics.json`` is the TrainResult summary. The item
map holds the raw ids of the data set the network was trained on; a network saved without its
data set (``dataset=None``) gets its output indices as ids, and its data card says so.

It is written into a temporary folder beside ``DIR`` and swapped into place, replacing an older
save only once the new one is complete, so a reader never sees half a save. Folders saved by
an older autorec (``train.json`` format ``autorec-trained-v1``, no manifest) still load.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from autorec._io import import_generated, read_json, utc_now
from autorec.errors import AutorecError
from autorec.genome import Genome, load_genome
from autorec.train import _batching
from autorec.train._types import TrainOptions, TrainResult

__all__ = ["SAVE_FORMAT", "SavedModel", "load_saved", "save_trained", "write_saved"]

#: ``train.json``'s format: v2 is a bundle with train.json; v1 (an older autorec) had no
#: manifest and is still read.
SAVE_FORMAT = "autorec-trained-v2"
SAVE_FORMAT_V1 = "autorec-trained-v1"
MODEL, WEIGHTS, GENOME, METRICS, INFO = (
    "model.py",
    "weights.safetensors",
    "genome.yaml",
    "metrics.json",
    "train.json",
)


def save_trained(
    result: TrainResult,
    out_dir: str | Path,
    *,
    data: Mapping[str, Any] | None = None,
    options: TrainOptions | None = None,
    dataset: Any = None,
) -> Path:
    """Write ``result``'s model to ``out_dir`` atomically (see the module docstring):
    ``data`` describes the data (``train.json``), ``dataset`` is the data set itself (its raw
    item ids go into the item map)."""
    if result.model is None:
        raise AutorecError(
            "option --save", f"training ended {result.status} with no network", "fix the run"
        )
    if result.retrain_status not in (None, "ok"):
        raise AutorecError(
            "option --save",
            f"the retraining on the real protocol ended {result.retrain_status}, so there is "
            "no network for the test protocol (the validation run's network does not fit it)",
            "lower learning_rate or dropout in the genome, or train without --save",
        )
    info = {
        "format": SAVE_FORMAT,
        "genome_key": result.key,
        "family": result.genome.family,
        "dims": dict(result.dims),
        "net_kwargs": _batching.net_kwargs(result.model),
        "data": dict(data or {}),
        "options": dataclasses.asdict(options) if options is not None else {},
    }
    return write_saved(
        out_dir,
        genome=result.genome,
        model=result.model,
        metrics=result.summary(),
        info=info,
        dataset=dataset,
    )


def write_saved(
    out_dir: str | Path,
    *,
    genome: Genome,
    model: torch.nn.Module,
    metrics: Mapping[str, Any],
    info: Mapping[str, Any],
    dataset: Any = None,
) -> Path:
    """Write the saved-network bundle of ``model`` (module docstring) to ``out_dir``
    atomically; ``info`` is ``train.json`` (its ``dims`` size the network)."""
    from autorec.export import bundle_contents, write_bundle

    out = Path(out_dir)
    dims = {k: int(v) for k, v in dict(info["dims"]).items()}
    data = dict(info.get("data") or {})
    seed = int(dict(info.get("options") or {}).get("seed", 0))
    card = {"how": "autorec train --save (trained, not exported)", "created": utc_now()}
    contents = bundle_contents(
        genome, model, dims, metrics, dataset,
        data_path=data.get("path"), seed=seed, card_extra=card, where=f"saving to {out}",
        extra_json={INFO: info},
    )  # fmt: skip
    write_bundle(contents, out)
    return out


@dataclasses.dataclass(frozen=True)
class SavedModel:
    """A saved network loaded back: the model in eval mode, its genome and ``train.json``."""

    model: torch.nn.Module
    genome: Genome
    info: Mapping[str, Any]
    metrics: Mapping[str, Any]
    path: Path


def load_saved(path: str | Path) -> SavedModel:
    """Load a folder written by :func:`save_trained` (a bundle with ``train.json``, checked
    and imported by :func:`autorec.export.load_bundle`; or an older autorec's folder)."""
    root = Path(path)
    where = f"saved model {root}"
    if not (root / "manifest.json").is_file():
        return _load_v1(root, where)
    from autorec.export import load_bundle

    bundle = load_bundle(root)
    if INFO not in bundle.manifest["files"]:
        raise AutorecError(
            where,
            "is a bundle without train.json",
            "pass a folder written by `autorec train --save`",
        )
    info = read_json(root / INFO)
    if info.get("format") != SAVE_FORMAT:
        raise AutorecError(
            where, f"unknown format {info.get('format')!r}", f"expected {SAVE_FORMAT}"
        )
    genome = load_genome(root / GENOME)
    return SavedModel(bundle.model, genome, info, bundle.metrics, root)


def _load_v1(root: Path, where: str) -> SavedModel:
    """A folder an older autorec saved: no manifest; its ``model.py`` is read once and run."""
    from safetensors.torch import load_file

    for name in (MODEL, WEIGHTS, GENOME, INFO):
        if not (root / name).is_file():
            raise AutorecError(
                where, f"{name} is missing", "pass a folder written by `autorec train --save`"
            )
    info = read_json(root / INFO)
    if info.get("format") != SAVE_FORMAT_V1:
        raise AutorecError(
            where, f"unknown format {info.get('format')!r}", f"expected {SAVE_FORMAT}"
        )
    genome = load_genome(root / GENOME)
    try:
        module = import_generated(root / MODEL)
    except Exception as err:
        raise AutorecError(where, f"cannot import model.py ({err})", "re-save the model") from None
    model: torch.nn.Module = module.Net(**dict(info.get("net_kwargs") or {}))
    try:
        model.load_state_dict(load_file(str(root / WEIGHTS)))
    except RuntimeError as err:
        raise AutorecError(
            where,
            f"weights do not fit model.py ({str(err).splitlines()[0]})",
            "re-save the model",
        ) from None
    metrics: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        metrics = read_json(root / METRICS)
    return SavedModel(model.eval(), genome, info, metrics, root)
