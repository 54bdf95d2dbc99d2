"""``export_bundle``: a search run directory or an ``autorec train --save`` folder → bundle.

Sources
    * a search run directory (``config.yaml`` + ``best_genome.yaml``, written by
      ``autorec search``): trials do not keep their weights, so the best genome is retrained
      with :func:`autorec.train.train_genome` on the run's data, split, seed and epoch limit
      R (the same early-stopped fitness run, so the same network a trial trained; for
      purchase data the returned network is the one retrained on the real protocol, whose
      catalogue the bundle's item map holds). A run directory that holds a saved network in
      ``best_model/`` (an ``autorec train --save`` folder) is exported from it instead.
    * an ``autorec train --save DIR`` folder (``train.json``): its weights are exported as
      they are (no training).

``retrain_all=True`` retrains the genome on all data up to the last date first:
    * purchases: the protocol X' → Y' with dx' = dx, dyz' = the day after the last purchase,
      Y' as long as the original Y, Z' (as long as the original Z) after the data. The early
      stopping / fitness run is the original *real* protocol (trained on X → Y, scored on
      XY → Z); the network is then retrained from scratch on X' → Y' for as many epochs
      (the trainer's "retrain on the real protocol" step), so nothing is tuned on data the
      final network did not see in training. Its test metrics are those of the original
      protocol's XY → Z (reported as ``holdout_metrics``).
    * sessions: the early-stopped run on the original split fixes the epoch count E; the
      network is retrained from scratch for exactly E epochs on every session (train +
      validation + test periods).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from autorec._io import json_safe, read_json, utc_now
from autorec.data import load_family_data
from autorec.errors import AutorecError
from autorec.export._bundle import BundleContents, gather_state_dict, load_bundle, write_bundle
from autorec.families import get_family

__all__ = ["NO_DATA_IDS", "bundle_contents", "export_bundle", "export_plan"]

#: The data card's ``item_ids`` of a network saved without its data set.
NO_DATA_IDS = "output indices: saved without its data set, so no raw item ids"


def _train(genome: Any, data: Any, options: Any, what: str) -> Any:
    from autorec.train import train_genome

    result = train_genome(genome, data, options)
    if result.model is None or result.status in ("error", "diverged"):
        raise AutorecError(
            what,
            f"training genome {genome.key} ended {result.status}: "
            f"{(result.error or '').strip().splitlines()[-1:] or ''}",
            "check the genome with `autorec train GENOME.yaml` on the same data",
        )
    if result.retrain_status not in (None, "ok"):
        raise AutorecError(
            what,
            f"retraining genome {genome.key} on the real protocol ended {result.retrain_status}",
            "lower learning_rate or dropout in the genome and export again",
        )
    return result


def _holds_best(saved: Path, best_genome: Path) -> bool:
    """Whether ``saved`` (a search's ``best_model/``) holds the run's best genome now (a
    resumed search may have found a better one since)."""
    from autorec.genome import load_genome

    info = saved / "train.json"
    if not info.is_file():
        return False
    try:
        key = read_json(info).get("genome_key")
    except (OSError, ValueError):
        return False
    return bool(key) and key == load_genome(best_genome).key


def export_plan(source: str | Path, *, retrain: bool = False, retrain_all: bool = False) -> str:
    """One line saying what :func:`export_bundle` will do with ``source`` (printed before
    it starts, since a retrain takes minutes where a copy takes seconds)."""
    if not Path(source).is_dir():
        return f"{source} is not a folder"
    info = _source_info(Path(source))
    if retrain_all:
        return "retraining the best genome on all data (--retrain-all), then writing the bundle"
    if info["saved"] is not None and not retrain:
        return f"copying the trained network in {info['saved']} (no training)"
    if retrain:
        return "retraining the best genome on the run's data and split (--retrain)"
    return (
        "retraining the best genome on the run's data and split: the run kept no trained "
        "network for it (best_model/)"
    )


def _source_info(source: Path) -> dict[str, Any]:
    """What the source folder is: its genome, data, options and (maybe) saved network."""
    if (source / "train.json").is_file():
        info = read_json(source / "train.json")
        opts = info.get("options") or {}
        dat = info.get("data") or {}
        return {
            "kind": "train",
            "saved": source,
            "genome_file": source / "genome.yaml",
            "data": dat.get("path"),
            "split": dat.get("split"),
            "seed": int(opts.get("seed", 0)),
            "epochs": int(opts.get("max_epochs", 30)),
            "options": opts,
        }
    if (source / "config.yaml").is_file():
        config = yaml.safe_load((source / "config.yaml").read_text(encoding="utf-8")) or {}
        if not (source / "best_genome.yaml").is_file():
            raise AutorecError(
                f"run dir {source}",
                "has no best_genome.yaml yet",
                "wait for the search's first generation to finish, or resume it",
            )
        saved = source / "best_model"
        return {
            "kind": "search",
            "saved": saved if _holds_best(saved, source / "best_genome.yaml") else None,
            "genome_file": source / "best_genome.yaml",
            "data": config.get("data"),
            "split": config.get("split"),
            "seed": int(config.get("seed", 0)),
            "epochs": int(config.get("epochs", 30)),
            "options": {},
            "baselines": config.get("baselines"),
        }
    if (source / "manifest.json").is_file():
        raise AutorecError(
            str(source),
            "is already a bundle",
            "pass the search run dir or the `autorec train --save` folder",
        )
    raise AutorecError(
        str(source),
        "is neither a search run dir (config.yaml + best_genome.yaml) nor an "
        "`autorec train --save` folder (train.json)",
        "pass the folder `autorec search` or `autorec train --save` wrote",
    )


def export_bundle(
    source: str | Path,
    out: str | Path,
    *,
    retrain_all: bool = False,
    data: str | None = None,
    split: str | None = None,
    devices: tuple[str, ...] = ("cpu",),
    threads: int | None = None,
    progress: bool = False,
    card_extra: Mapping[str, Any] | None = None,
    retrain: bool = False,
) -> dict[str, Any]:
    """Export ``source`` (module docstring) to the bundle folder ``out`` and return a
    summary (the manifest plus the metrics). ``data`` / ``split`` override the source's
    (e.g. the same data at another path); ``card_extra`` is merged into the data card
    (``autorec retrain`` records the parent bundle there). The written bundle is loaded
    back and its scores compared with the in-memory network before this returns. A search
    run dir's kept network (``best_model/``) is copied unless ``retrain`` (or
    ``retrain_all``).

    The summary's ``comparison`` holds the network's test metrics beside the best
    baseline's on the same split (:func:`autorec.baselines.compare`; cached in a search run
    dir); the data card keeps it too."""
    from autorec.genome import load_genome
    from autorec.train import TrainOptions

    src = Path(source)
    if not src.is_dir():
        raise AutorecError(
            str(source),
            "no such folder",
            "pass a search run dir or an `autorec train --save` folder",
        )
    info = _source_info(src)
    from autorec.train import primary_device

    # a bad --devices fails before any training
    primary_device(TrainOptions(devices=tuple(devices)))
    genome = load_genome(info["genome_file"])
    data_path = data if data is not None else info["data"]
    split = split if split is not None else info["split"]
    seed = int(info["seed"])
    family = get_family(genome.family)
    dataset = load_family_data(genome.family, data_path, split, seed=seed)
    options = TrainOptions(
        max_epochs=info["epochs"], seed=seed, devices=devices, threads=threads, progress=progress
    )
    metrics: dict[str, Any]
    end: datetime | None = None
    how: str
    if info["saved"] is not None and not retrain_all and not retrain:
        from autorec.train.saving import load_saved

        saved = load_saved(info["saved"])
        model, dims = saved.model, dict(saved.info.get("dims") or {})
        metrics = dict(saved.metrics)
        how = f"copied the trained network {info['saved']} (no training)"
    else:
        if retrain_all:
            dataset, result, metrics, how, end = family.retrain_all(
                genome, dataset, options, _train, f"export {source}"
            )
        else:
            result = _train(genome, dataset, options, f"export {source}")
            metrics = result.summary()
            how = "retrained the best genome on the run's data and split"
        model, dims = result.model, dict(result.dims)
        metrics.pop("history", None)
    from autorec.sharding import is_sharded

    # a sharded network (--devices d0,d1,..) keeps its shards where they are (its weights are
    # gathered into the bundle); an unsharded one is scored on the CPU
    model = model.eval() if is_sharded(model) else model.cpu().eval()

    # retrained on all data, the network has no held-out test split left to compare on
    comparison = None if retrain_all else _comparison(metrics, dataset, genome.key, src, info)
    extra = {
        "retrain_all": bool(retrain_all),
        "exported_from": str(src.resolve()),
        "how": how,
        "comparison": comparison,
        "created": utc_now(),
        **dict(card_extra or {}),
    }
    contents = bundle_contents(
        genome, model, dims, metrics, dataset,
        data_path=data_path, seed=seed, end=end, card_extra=extra, where=f"export {source}",
    )  # fmt: skip
    card = dict(contents.data_card)
    manifest = write_bundle(contents, out)
    _verify(out, model, genome, dataset)
    return {
        "bundle": str(Path(out)),
        "manifest": manifest,
        "metrics": contents.metrics,
        "data_card": card,
        "comparison": comparison,
    }


def bundle_contents(
    genome: Any,
    model: torch.nn.Module,
    dims: Mapping[str, int],
    metrics: Mapping[str, Any],
    dataset: Any | None,
    *,
    data_path: str | None,
    seed: int,
    card_extra: Mapping[str, Any],
    where: str,
    end: datetime | None = None,
    extra_json: Mapping[str, Any] | None = None,
) -> BundleContents:
    """Everything the bundle of ``model`` (trained on ``dataset``) holds: what ``autorec
    export`` and ``autorec train --save`` write. ``card_extra`` follows the data's fields in
    the data card; ``extra_json`` adds files (``train.json``). Without a data set
    (``dataset=None``) the item ids are the network's output indices."""
    from autorec.train import batching

    if dataset is None:  # no data set: the output indices are the ids, and the card says so
        catalogue: dict[str, Any] = {"item_ids": [str(j) for j in range(int(dims["n_items"]))]}
        catalogue.update(page_ids=None, page_item=None, inputs={})
        card = {"data": _resolvable(data_path), "item_ids": NO_DATA_IDS}
    else:
        catalogue, card = _data_card(genome, dataset, dims, data_path, seed, end, where)
    card.update(json_safe(dict(card_extra)))
    item_ids, page_ids, page_item = (catalogue[k] for k in ("item_ids", "page_ids", "page_item"))
    return BundleContents(
        family=genome.family,
        genome=genome.to_dict(),
        genome_key=genome.key,
        model_source=batching.model_source(genome, dims),
        state_dict=gather_state_dict(model),
        net_kwargs=batching.net_kwargs(model),
        dims=dict(dims),
        item_ids=[str(i) for i in item_ids],
        metrics=json_safe(metrics),
        data_card=card,
        page_ids=None if page_ids is None else [str(p) for p in page_ids],
        page_item=None if page_item is None else [int(i) for i in page_item],
        extra_manifest={"inputs": catalogue["inputs"]},
        extra_json=dict(extra_json or {}),
    )


def _data_card(
    genome: Any,
    dataset: Any,
    dims: Mapping[str, int],
    data_path: str | None,
    seed: int,
    end: datetime | None,
    where: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The family's catalogue of ``dataset`` (checked against the network's ``n_items``) and
    the data card's fields about the data."""
    family = get_family(genome.family)
    catalogue = family.bundle_catalogue(genome, dataset)
    n_items = len(catalogue["item_ids"])
    if int(dims.get("n_items", n_items)) != n_items:
        raise AutorecError(
            where,
            f"the network scores {dims.get('n_items')} items but the data's catalogue has "
            f"{n_items}",
            "pass the --data and --split the network was trained on",
        )
    card = {
        "data": _resolvable(data_path),
        "source": str(dataset.source),
        "protocol": family.data_kind,
        "split": family.split_string(dataset),
        "dates": family.dates_card(dataset, end),
        "loader_args": {"seed": seed},
        "catalogue_size": n_items,
        "counts": family.counts(dataset),
    }
    return dict(catalogue), card


def _resolvable(path: str | None) -> str | None:
    """The data path as the card stores it: absolute when it names an existing file or
    folder, so ``autorec recommend BUNDLE`` works from any folder."""
    if path is None:
        return None
    p = Path(path).expanduser()
    return str(p.resolve()) if p.exists() else str(path)


def _comparison(
    metrics: dict[str, Any], dataset: Any, key: str, src: Path, info: dict[str, Any]
) -> dict[str, Any] | None:
    """The exported network's test metrics beside the best baseline's (cached in a search
    run dir, which computed them once already)."""
    from autorec.baselines import QUICK_BASELINES, compare

    test = metrics.get("test_metrics")
    # a search run dir has its baselines cached; elsewhere only those fitted in seconds
    search = info["kind"] == "search"
    names = info.get("baselines") if search else ",".join(QUICK_BASELINES)
    try:
        return compare(
            test, dataset, genome_key=key, cache=src if search else None, baselines=names
        )
    except AutorecError:
        return None


def _verify(out: str | Path, model: torch.nn.Module, genome: Any, data: Any) -> None:
    """Load the written bundle and check it scores a batch exactly as ``model`` does."""
    from autorec.families import get_family

    bundle = load_bundle(out)
    batch = get_family(genome.family).sample_batch(genome, data, np.arange(0, 8, dtype=np.int64))
    from autorec.sharding import gather_logits, item_sharded_children

    layers = item_sharded_children(model)
    if layers:  # trained sharded (--devices cpu,cpu): batch to the first device, gather
        primary = getattr(layers[0][1], "primary", torch.device("cpu"))
        batch = {k: v.to(primary) for k, v in batch.items()}
    with torch.no_grad():
        want = gather_logits(model(batch)).cpu()
        batch = {k: v.cpu() for k, v in batch.items()}
    got = bundle.score(batch)
    if not torch.allclose(want, got, atol=1e-6, rtol=0):
        raise AutorecError(
            f"bundle {out}",
            "scores differ from the trained network after loading",
            "report this as a bug",
        )
