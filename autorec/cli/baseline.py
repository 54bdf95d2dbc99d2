"""``autorec baseline NAME``: fit a reference recommender and print its test metrics.

Session data (the source has page views) -> session protocol (DRNN paper Sec. V): top-1 and
top-K accuracy over every test prefix sample and the path compression ratio. Purchase data ->
purchase-history protocol (soft-split paper, Appendix A): Precision@K and PCC@K over the test
customers (XY -> Z), with the catalogue size.

The shared options (``--data``, ``--split``, ``--seed``, ``--min-rating``, ``--timeout``,
``--json``) come from :mod:`autorec.cli.common`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from autorec.cli.common import (
    DataOption,
    JsonOption,
    MinRatingOption,
    SeedOption,
    SplitOption,
    TimeoutOption,
    emit_json,
    progress,
)
from autorec.errors import AutorecError

__all__ = ["baseline", "parse_params", "run_baseline"]


def parse_params(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values become bool, int, float or stay strings."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise AutorecError(
                "option --param", f"{item!r} is not KEY=VALUE", "pass e.g. --param factors=32"
            )
        value: Any = raw.strip()
        low = value.lower()
        if low in ("true", "false"):
            value = low == "true"
        else:
            for cast in (int, float):
                try:
                    value = cast(value)
                    break
                except ValueError:
                    continue
        out[key.strip().replace("-", "_")] = value
    return out


def _split_text(data: Any) -> str:
    from autorec.families import family_of

    return ",".join(x.date().isoformat() for x in family_of(data).split_dates(data))


def _load_sessions(
    path: Any, split: Any, seed: int, min_rating: float, timeout_s: int, validation: bool
) -> Any:
    from autorec.data import load_session_data

    return load_session_data(
        path, split, seed=seed, min_rating=min_rating, session_timeout_s=timeout_s
    )


def _score_sessions(model: Any, sdata: Any, k: int, part: str = "test") -> dict[str, Any]:
    from autorec.evaluation import evaluate_sessions

    ks = (1, k) if k != 1 else (1,)
    log, samples = (
        (sdata.split.valid, sdata.valid_samples)
        if part == "valid"
        else (sdata.split.test, sdata.test_samples)
    )
    metrics = evaluate_sessions(model, log, samples, ks=ks, stderr=True)
    metrics["n_samples"] = int(metrics["n_samples"])
    return metrics


def _load_customers(
    path: Any, split: Any, seed: int, min_rating: float, timeout_s: int, validation: bool
) -> Any:
    from autorec.data import load_purchase_data

    # scored on the test protocol only, the validation one may be empty (a short file)
    return load_purchase_data(
        path, split, seed=seed, min_rating=min_rating, need_validation=validation
    )


def _score_customers(model: Any, pdata: Any, k: int, part: str = "test") -> dict[str, Any]:
    from autorec.evaluation import evaluate_customers

    proto = pdata.validation if part == "valid" else pdata.protocol
    raw = evaluate_customers(model, proto.test, proto.n_items, k=k, stderr=True)
    return {
        "n_customers": int(raw["n_customers"]),
        "n_catalogue": proto.n_items,
        f"precision@{k}": raw[f"precision@{k}"],
        f"precision@{k}_se": raw[f"precision@{k}_se"],
        f"pcc@{k}": raw[f"pcc@{k}"],
        f"pcc@{k}_count": int(raw[f"pcc@{k}_count"]),
    }


#: How ``autorec baseline`` loads and scores each kind of entity a family recommends for:
#: (loader, what the test holds, scorer with standard errors).
_STEPS: dict[str, tuple[Any, str, Any]] = {
    "session": (_load_sessions, "prefixes", _score_sessions),
    "customer": (_load_customers, "customers", _score_customers),
}


def run_baseline(
    name: str,
    data_path: str | Path | None = None,
    split: str | None = None,
    *,
    k: int = 10,
    kind: str | None = None,
    seed: int = 0,
    min_rating: float = 3.5,
    session_timeout_s: int = 1800,
    params: dict[str, Any] | None = None,
    show_progress: bool = False,
    validation: bool = False,
) -> dict[str, Any]:
    """Load the data, fit baseline ``name`` and evaluate it on the test protocol.

    Returns the JSON-ready result: ``baseline``, ``params``, ``data`` (path, kind, split),
    ``metrics`` and wall times; with ``validation`` also ``validation_metrics``, the
    baseline refitted on the validation part (the family's ``fit_baseline(validation=True)``)
    and scored there with the same metrics.
    """
    from autorec.baselines import BASELINES, make_baseline
    from autorec.data import load_events
    from autorec.families import families, get_family

    if name not in BASELINES:
        raise AutorecError(
            "baseline", f"unknown baseline {name!r}", f"use one of {', '.join(BASELINES)}"
        )
    if k < 1:
        raise AutorecError("option --k", f"k must be >= 1, got {k}", "pass e.g. --k 10")
    kinds = [f.data_kind for f in families()]
    if kind is not None and kind not in kinds:
        raise AutorecError("option --kind", f"unknown kind {kind!r}", f"use {' or '.join(kinds)}")
    model = make_baseline(name, **(params or {}))
    t0 = time.perf_counter()
    events = load_events(
        data_path,
        min_rating=min_rating,
        session_timeout_s=session_timeout_s,
        kind=kind,  # type: ignore[arg-type]  # checked against the two kinds just above
        seed=seed,
    )
    family = get_family(events.kind)
    if name == "session-views" and not family.needs_pages:
        raise AutorecError(
            f"baseline session-views on {events.source}",
            "the data has no page views (purchase histories only), so there is no session to "
            "rank views from",
            "use popularity, itemknn or als on purchase data, or pass session data (views)",
        )
    result: dict[str, Any] = {"baseline": name, "params": {}}
    load, held, score = _STEPS[family.entity]
    dataset = load(data_path, split, seed, min_rating, session_timeout_s, validation)
    t_load = time.perf_counter() - t0
    with progress(f"fitting {name}", enabled=show_progress):
        model.fit(dataset)
    t_fit = time.perf_counter() - t0 - t_load
    with progress(f"evaluating {name} on the test {held}", enabled=show_progress):
        metrics = score(model, dataset, k)
    if validation:  # after the test scores: model.fit chose EASE's λ, which the refit keeps
        # the figure a search's fitness accuracy estimates for its networks, fitted as they
        # are for it (purchases: the month-shifted protocol's X/Y), so the two read side by side
        with progress(f"evaluating {name} on the validation part", enabled=show_progress):
            family.fit_baseline(model, dataset, validation=True)
            result["validation_metrics"] = score(model, dataset, k, "valid")
    result["data"] = {
        "path": _path(data_path),
        "source": dataset.source,
        "kind": family.data_kind,
        "split": _split_text(dataset),
    }
    result["protocol"] = family.data_kind
    total = time.perf_counter() - t0
    result["params"] = model.describe()
    result["metrics"] = metrics
    result["wall_s"] = {
        "load": round(t_load, 3),
        "fit": round(t_fit, 3),
        "evaluate": round(total - t_load - t_fit, 3),
        "total": round(total, 3),
    }
    return result


def _path(path: str | Path | None) -> str | None:
    return None if path is None else str(path)


def _human(result: dict[str, Any]) -> str:
    d = result["data"]
    rows = [(key, value) for key, value in result["metrics"].items()]
    rows += [(f"valid {key}", v) for key, v in result.get("validation_metrics", {}).items()]
    rows.append(("wall_s", f"{result['wall_s']['total']:.2f}"))
    width = max(18, *(len(key) + 1 for key, _ in rows))
    lines = [f"baseline {result['baseline']} on {d['source']} ({d['kind']}, split {d['split']})"]
    for key, value in rows:
        shown = f"{value:.6f}" if isinstance(value, float) else str(value)
        lines.append(f"  {key:<{width}} {shown}")
    return "\n".join(lines)


def baseline(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="popularity | itemknn | als | ease | session-views | gru | gru-copy "
            "(the last three: session data only).",
        ),
    ],
    data: DataOption = None,
    split: SplitOption = None,
    k: Annotated[int, typer.Option("--k", min=1, help="List length K (top-K, @K).")] = 10,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            metavar="sessions|purchases",
            help="Without --data: synthetic sessions (default) or purchases.",
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            metavar="KEY=VALUE",
            help="Baseline hyper-parameter (repeatable), e.g. -p factors=32 -p history=true "
            "for als, -p shrink=10 for itemknn.",
        ),
    ] = None,
    seed: SeedOption = 0,
    min_rating: MinRatingOption = 3.5,
    timeout: TimeoutOption = 1800,
    validation: Annotated[
        bool,
        typer.Option(
            "--validation",
            help="Also refit it on the validation part and print those metrics: what a "
            "search's fitness accuracy is measured on.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Fit a reference recommender and print its test metrics.

    Session data (page views): top-1 / top-K accuracy over every test prefix and the path
    compression ratio. Purchase data: test customers, catalogue size, Precision@K and PCC@K.
    """
    params = parse_params(param or [])
    if name == "als" and "seed" not in params:
        params["seed"] = seed
    result = run_baseline(
        name,
        data,
        split,
        k=k,
        kind=kind,
        seed=seed,
        min_rating=min_rating,
        session_timeout_s=timeout,
        params=params,
        show_progress=True,
        validation=validation,
    )
    if as_json:
        emit_json(result)
    else:
        typer.echo(_human(result))
