"""A result next to what it must beat: the best network's **test** metrics beside the best
baseline's, on the same data and split.

:func:`baseline_scores` fits every baseline of the registry
(:data:`autorec.baselines.BASELINES`) that applies to the data and scores it with the same
evaluation functions as the networks. A search computes them once and caches them in
``RUN_DIR/baselines.json`` (keyed by the data's source and split); :func:`compare` turns
them and the winner's test metrics into ``RUN_DIR/comparison.json``, which the summary,
``report.html`` and the export card show, saying plainly when the network loses.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from autorec._io import read_json, write_json
from autorec.errors import AutorecError
from autorec.families import family_of, get_family

__all__ = [
    "BASELINES_FILE",
    "COMPARISON_FILE",
    "QUICK_BASELINES",
    "baseline_names",
    "baseline_scores",
    "compare",
    "comparison_lines",
    "primary_metrics",
    "read_comparison",
]

logger = logging.getLogger(__name__)

BASELINES_FILE = "baselines.json"
#: Baselines fitted in seconds (no training loop): what ``export`` compares an
#: ``autorec train --save`` folder with, where no search cached the full set.
QUICK_BASELINES = ("popularity", "itemknn", "als", "session-views")
COMPARISON_FILE = "comparison.json"


def primary_metrics(kind: str, k: int = 10) -> tuple[str, ...]:
    """The test metrics compared, the deciding one first (:meth:`Family.primary_metrics`:
    sessions top-1 then top-K, the DRNN paper's accuracy; purchases precision@K then
    PCC@K, the soft-split paper's). ``kind``: a family's name or data kind."""
    return get_family(kind).primary_metrics(k)


def _kind(data: Any) -> str:
    return family_of(data).data_kind


def _data_key(data: Any) -> dict[str, str]:
    return {"source": str(getattr(data, "source", "")), "split": family_of(data).split_string(data)}


def _score_one(name: str, data: Any, k: int) -> dict[str, float]:
    from autorec.baselines import make_baseline

    model = make_baseline(name).fit(data)
    out = family_of(data).evaluate(model, data, k=k)
    return {str(a): float(b) for a, b in dict(out).items()}


def _applies(name: str, kind: str) -> bool:
    from autorec.baselines import BASELINES

    cls = BASELINES[name]
    # a baseline says which data kinds it fits (supports_sessions, ...); unknown: none
    return bool(getattr(cls, f"supports_{get_family(kind).data_kind}", False))


def baseline_names(names: str | Sequence[str] | None, kind: str | None = None) -> list[str]:
    """The baselines to compare with: ``names`` (comma-separated or a list; ``None``: every
    baseline of the registry), keeping those that apply to ``kind`` when given. An unknown
    name is an error naming the option."""
    from autorec.baselines import BASELINES

    if names is None:
        wanted = list(BASELINES)
    else:
        parts = names.split(",") if isinstance(names, str) else list(names)
        wanted = [n.strip() for n in parts if n.strip()]
    for name in wanted:
        if name not in BASELINES:
            raise AutorecError(
                "option --baselines",
                f"unknown baseline {name!r}",
                f"use some of {', '.join(BASELINES)}",
            )
    return [n for n in wanted if kind is None or _applies(n, kind)]


def baseline_scores(
    data: Any,
    *,
    k: int = 10,
    cache: str | Path | None = None,
    names: str | Sequence[str] | None = None,
) -> dict[str, dict[str, float]]:
    """``{name: test metrics}`` of the baselines ``names`` (default: every baseline of the
    registry) that apply to ``data``; one that fails to fit (e.g. a missing optional
    library) is left out with a warning. With ``cache`` (a run dir), scores already in its
    ``baselines.json`` for the same data and split are read, not computed again, and the
    new ones are added to it."""
    key = _data_key(data)
    wanted = baseline_names(names, _kind(data))
    path = Path(cache) / BASELINES_FILE if cache is not None else None
    stored: dict[str, Any] = {"data": key, "k": k, "scores": {}, "wall_s": {}}
    if path is not None and path.is_file():
        try:
            old = read_json(path)
            if old.get("data") == key and old.get("k") == k:
                stored = {**stored, **old}
        except (OSError, ValueError, TypeError):
            pass
    scores: dict[str, dict[str, float]] = dict(stored.get("scores") or {})
    wall: dict[str, float] = dict(stored.get("wall_s") or {})
    missing = [n for n in wanted if n not in scores]
    for name in missing:
        start = time.perf_counter()
        try:
            scores[name] = _score_one(name, data, k)
        except Exception as exc:  # a baseline that cannot run must not stop the comparison
            logger.warning("baseline %s left out of the comparison: %s", name, exc)
            continue
        wall[name] = round(time.perf_counter() - start, 3)
    if path is not None and missing:
        write_json(path, {"data": key, "k": k, "scores": scores, "wall_s": wall})
    return {n: dict(scores[n]) for n in wanted if n in scores}


def _best(scores: Mapping[str, Mapping[str, float]], metric: str) -> str | None:
    def value(name: str) -> float:
        x = scores[name].get(metric)
        return float(x) if x is not None and math.isfinite(float(x)) else -math.inf

    return max(scores, key=value) if scores else None


def compare(
    test_metrics: Mapping[str, float] | None,
    data: Any,
    *,
    genome_key: str | None = None,
    k: int = 10,
    cache: str | Path | None = None,
    baselines: str | Sequence[str] | None = None,
) -> dict[str, Any]:
    """The comparison of a network's ``test_metrics`` with the best baseline on ``data``:
    ``{"kind", "metrics", "network", "baselines", "best_baseline", "verdict", "lines"}``.
    ``verdict`` is ``beats``, ``ties``, ``loses`` (on the deciding metric) or ``unknown``
    (no test metrics). Written to ``comparison.json`` in ``cache`` (a run dir) when given."""
    kind = _kind(data)
    names = primary_metrics(kind, k)
    scores = baseline_scores(data, k=k, cache=cache, names=baselines)
    best = _best(scores, names[0])
    network = {n: float(v) for n, v in dict(test_metrics or {}).items() if n in names}
    verdict = "unknown"
    if best is not None and names[0] in network:
        mine, theirs = network[names[0]], float(scores[best].get(names[0], math.nan))
        verdict = "beats" if mine > theirs else "ties" if mine == theirs else "loses"
    out: dict[str, Any] = {
        "kind": kind,
        "data": _data_key(data),
        "metrics": list(names),
        "genome_key": genome_key,
        "network": network,
        "baselines": scores,
        "best_baseline": best,
        "verdict": verdict,
    }
    out["lines"] = comparison_lines(out)
    if cache is not None:
        write_json(Path(cache) / COMPARISON_FILE, out)
    return out


def _nums(metrics: Mapping[str, Any], names: list[str]) -> str:
    vals = [metrics.get(n) for n in names]
    return " / ".join("-" if v is None else f"{float(v):.4f}" for v in vals)


def comparison_lines(comp: Mapping[str, Any]) -> list[str]:
    """Two or three plain lines: the network's and the best baseline's test metrics, and
    the verdict (said plainly when the network loses)."""
    names = list(comp.get("metrics") or [])
    label = " / ".join(names)
    best = comp.get("best_baseline")
    network = dict(comp.get("network") or {})
    lines = [f"test {label} (same split): network {_nums(network, names) if network else '-'}"]
    if best is None:
        lines.append("no baseline could be scored on these data")
        return lines
    lines.append(f"  best baseline {best}: {_nums(dict(comp['baselines'][best]), names)}")
    verdict = comp.get("verdict")
    if verdict == "loses":
        lines.append(
            f"the network LOSES to {best} on test {names[0]}; use {best}, or search longer "
            "(more --generations / --population / --epochs)"
        )
    elif verdict == "beats":
        lines.append(f"the network beats {best} on test {names[0]}")
    elif verdict == "ties":
        lines.append(f"the network ties with {best} on test {names[0]}")
    else:
        lines.append("the network has no test metrics yet (see autorec export / train)")
    return lines


def read_comparison(root: str | Path) -> dict[str, Any] | None:
    """``RUN_DIR/comparison.json`` (``None`` when the run has none yet)."""
    path = Path(root) / COMPARISON_FILE
    if not path.is_file():
        return None
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return None
    return dict(data) if isinstance(data, dict) else None
