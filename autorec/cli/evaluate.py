"""``autorec evaluate SAVED_DIR``: re-score a network saved by ``autorec train --save`` with
the baselines' evaluation functions (sessions: validation and test top-1 / top-10 / path
compression; purchase histories: Precision@K and PCC@K on the protocol's XY → Z)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from autorec.cli.common import JsonOption
from autorec.errors import AutorecError

__all__ = ["evaluate", "evaluate_saved"]


def evaluate_saved(
    saved: Any, dataset: Any, *, k: int = 10, batch_size: int = 1024
) -> dict[str, Any]:
    """Metrics of a :class:`autorec.train.saving.SavedModel` on ``dataset``."""
    from autorec.families import get_family

    genome, model = saved.genome, saved.model
    family = get_family(genome.family)
    where = f"saved model {saved.path}"
    if not family.accepts(dataset):
        raise AutorecError(
            where, f"a {family.name} network needs {family.data_noun}", "pass --data"
        )
    dims = dict(saved.info.get("dims") or {})
    _check_dims(where, dims, family.model_dims(dataset), family.checked_dims)
    ranker = family.model_ranker(genome, model, dataset, batch_size=batch_size)
    # sessions: top-1 and top-10 of the validation and test prefixes; purchases: the test's
    return {
        _METRICS_OF[part]: family.evaluate(ranker, dataset, k=k, part=part, ks=(1, 10))
        for part in family.evaluated_parts
    }


_METRICS_OF = {"valid": "val_metrics", "test": "test_metrics"}


def _check_dims(
    where: str, saved: dict[str, Any], got: dict[str, int], names: tuple[str, ...]
) -> None:
    for name in names:
        if name in saved and int(saved[name]) != int(got[name]):
            raise AutorecError(
                where,
                f"the network has {name}={saved[name]} but the data give {got[name]}",
                "evaluate on the data and split the model was trained on (see train.json)",
            )


def evaluate(
    saved_dir: Annotated[
        Path, typer.Argument(metavar="SAVED_DIR", help="Folder from `autorec train --save`.")
    ],
    data: Annotated[
        str | None,
        typer.Option("--data", metavar="PATH", help="Data (default: the one it was trained on)."),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            "--split", metavar="DATES", help="Split (default: the one it was trained on)."
        ),
    ] = None,
    k: Annotated[int, typer.Option("--k", help="Cut-off of precision/PCC.")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Seed of synthetic data.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Re-score a saved network on validation and test data."""
    from autorec.cli.train import print_json
    from autorec.data import load_family_data
    from autorec.train.saving import load_saved

    saved = load_saved(saved_dir)
    trained_on = dict(saved.info.get("data") or {})
    path = data if data is not None else trained_on.get("path")
    chosen_split = split if split is not None else trained_on.get("split")
    start = time.perf_counter()
    dataset = load_family_data(saved.genome.family, path, chosen_split, seed=seed)
    metrics = evaluate_saved(saved, dataset, k=k)
    out: dict[str, Any] = {
        "saved": str(saved_dir),
        "key": saved.genome.key,
        "family": saved.genome.family,
        "data": {"path": path, "split": chosen_split},
        **metrics,
        "wall_s": time.perf_counter() - start,
    }
    if as_json:
        print_json(out)
        return
    typer.echo(f"{out['key']} ({out['family']}) on {path or 'synthetic data'} [{chosen_split}]")
    for name in ("val_metrics", "test_metrics"):
        if name in out:
            items = "  ".join(f"{a} {b:.4f}" for a, b in out[name].items())
            typer.echo(f"{name.split('_')[0]}: {items}")
