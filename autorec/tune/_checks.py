"""Checks of a run directory read back, of the data it was made on, and of a search's
options -- all done before the run directory is changed or Ray is started.

- :func:`checked_config` / :func:`check_records`: the schema of ``config.yaml`` and
  ``fitness_cache.json``; a bad file ends in one :class:`AutorecError` naming the file and
  the field, never in a traceback or in defaults silently put in its place.
- :func:`data_fingerprint` / :func:`check_fingerprint`: the data path, each file's size and
  a sha256 of its first and last MiB, and the split, saved in ``config.yaml`` when the search
  starts; resuming on other data or another split is refused.
- :func:`check_objectives`: ``--objectives`` names before Ray starts.
- :func:`status_counts` / :func:`all_failed_line`: when every trial failed, say so.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import types
import typing
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from autorec._yaml import strict_load, yaml_problem
from autorec.errors import AutorecError

__all__ = [
    "REQUIRED_CONFIG",
    "all_failed_line",
    "check_fingerprint",
    "check_objectives",
    "check_records",
    "checked_config",
    "data_fingerprint",
    "note_refusal",
    "parse_config",
    "status_counts",
    "trial_error",
]

#: Keys every search's config.yaml has had since the first version.
REQUIRED_CONFIG = ("space", "population", "generations", "seed", "algorithm", "epochs")
_NEW = "start a new search with another --run-dir (the old records stay as they are)"
_CHUNK = 1 << 20


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_config(path: Path) -> dict[str, Any]:
    """``config.yaml`` as a mapping; a file YAML cannot read or that is no mapping is an
    :class:`AutorecError` naming it."""
    where = f"run dir file {path}"
    try:
        data = strict_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise AutorecError(where, "is not UTF-8 text", f"restore it, or {_NEW}") from None
    except yaml.YAMLError as err:
        raise AutorecError(
            where, f"is not valid YAML ({yaml_problem(err)})", f"restore it, or {_NEW}"
        ) from None
    if not isinstance(data, dict):
        raise AutorecError(
            where,
            f"holds {'nothing' if data is None else type(data).__name__}, not the search's options",
            f"restore it, or {_NEW}",
        )
    return data


def _type_ok(value: Any, hint: Any) -> bool:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    return True  # other annotations are checked by the option's own validate()


def checked_config(path: Path, options_cls: type[Any]) -> dict[str, Any]:
    """The config read back with every option of ``options_cls`` (a dataclass) of the right
    type and the original keys present, so a cut file is never resumed with defaults."""
    config = parse_config(path)
    where = f"run dir file {path}"
    missing = [k for k in REQUIRED_CONFIG if k not in config]
    if missing:
        raise AutorecError(
            where,
            f"lacks {', '.join(missing)} (cut or edited?)",
            f"restore it, or {_NEW}",
        )
    hints = typing.get_type_hints(options_cls)
    for f in dataclasses.fields(options_cls):
        if f.name in config and not _type_ok(config[f.name], hints.get(f.name)):
            raise AutorecError(
                f"{where}, field {f.name}",
                f"{_short(config[f.name])} is not a {_type_name(hints.get(f.name))}",
                f"put back the value the search started with, or {_NEW}",
            )
    if not isinstance(config.get("sessions", []) or [], list):
        raise AutorecError(f"{where}, field sessions", "is not a list", f"restore it, or {_NEW}")
    return config


def _type_name(hint: Any) -> str:
    names = [getattr(a, "__name__", str(a)) for a in typing.get_args(hint)] or [
        getattr(hint, "__name__", str(hint))
    ]
    return " or ".join("null" if n == "NoneType" else n for n in names)


_NUMBER_FIELDS = ("fitness", "wall_s", "n_params", "loss", "finished_at")
_INT_FIELDS = ("generation", "session", "epochs")
_STR_FIELDS = ("genome_key", "trial_id", "trial_name", "family", "status", "error", "traceback")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_records(path: Path, text: str) -> list[dict[str, Any]]:
    """The records of ``fitness_cache.json`` (``{"version": 1, "records": [...]}``), each
    field of the right type; anything else is an :class:`AutorecError` naming the field."""
    where = f"run dir file {path}"
    fix = f"restore it from a backup, or {_NEW}"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise AutorecError(where, f"is not valid JSON ({err.msg} at char {err.pos})", fix) from None
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise AutorecError(where, 'is not {"version": 1, "records": [...]}', fix)
    out = []
    for i, rec in enumerate(data["records"]):
        at = f"{where}, record {i}"
        if not isinstance(rec, dict):
            raise AutorecError(at, f"{_short(rec)} is not an object", fix)
        if not isinstance(rec.get("genome_key"), str) or not rec["genome_key"]:
            raise AutorecError(at, "has no genome_key", fix)
        for name in _STR_FIELDS:
            if name in rec and not isinstance(rec[name], str):
                raise AutorecError(f"{at}, field {name}", f"{_short(rec[name])} is not text", fix)
        for name in _NUMBER_FIELDS:
            if rec.get(name) is not None and not _is_number(rec[name]):
                raise AutorecError(
                    f"{at}, field {name}", f"{_short(rec[name])} is not a number", fix
                )
        for name in _INT_FIELDS:
            value = rec.get(name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise AutorecError(f"{at}, field {name}", f"{_short(value)} is not an integer", fix)
        metrics = rec.get("metrics") or {}
        if not isinstance(metrics, dict) or not all(
            v is None or _is_number(v) for v in metrics.values()
        ):
            raise AutorecError(f"{at}, field metrics", "is not a map of numbers", fix)
        objectives = rec.get("objectives") or []
        if not isinstance(objectives, list) or not all(_is_number(v) for v in objectives):
            raise AutorecError(f"{at}, field objectives", "is not a list of numbers", fix)
        if not isinstance(rec.get("genome") or {}, dict):
            raise AutorecError(f"{at}, field genome", "is not a map", fix)
        out.append(dict(rec))
    return out


# data fingerprint ---------------------------------------------------------------------
def _file_print(path: Path) -> dict[str, Any]:
    st = path.stat()
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        h.update(fh.read(_CHUNK))
        if st.st_size > 2 * _CHUNK:
            fh.seek(-_CHUNK, 2)
        h.update(fh.read())
    return {
        "name": path.name,
        "size": st.st_size,
        "mtime": int(st.st_mtime),
        "sha256": h.hexdigest(),
    }


def data_fingerprint(data: str | None, split: str | None) -> dict[str, Any]:
    """What identifies the data a search trains on: the resolved path, each file's name, size,
    mtime and sha256 of its first and last MiB (a folder: its files), and the split."""
    if not data:
        return {"data": None, "split": split, "files": []}
    root = Path(data).resolve()
    files = (
        [root]
        if root.is_file()
        else sorted(p for p in root.iterdir() if p.is_file())
        if (root.is_dir())
        else []
    )
    return {"data": str(root), "split": split, "files": [_file_print(p) for p in files]}


def check_fingerprint(config_path: Path, saved: Any, now: Mapping[str, Any]) -> None:
    """Refuse to resume when the data or the split differ from those the search started on
    (the mtime alone may differ: a copy with the same bytes is the same data)."""
    if not isinstance(saved, dict):
        return  # a run dir from before fingerprints: nothing to compare
    where = f"run dir file {config_path}"
    fix = f"put the original data and split back in config.yaml, or {_NEW}"
    for name in ("data", "split"):
        if saved.get(name) != now.get(name):
            raise AutorecError(
                f"{where}, field {name}",
                f"is {_short(now.get(name), 300)}, but the search started on "
                f"{_short(saved.get(name), 300)}",
                fix,
            )
    old = {str(f.get("name")): f for f in saved.get("files") or [] if isinstance(f, dict)}
    new = {str(f["name"]): f for f in now.get("files") or []}
    for file in sorted(set(old) | set(new)):
        a, b = old.get(file), new.get(file)
        if a is None or b is None or (a.get("size"), a.get("sha256")) != (b["size"], b["sha256"]):
            state = "is new" if a is None else "is gone" if b is None else "has changed"
            raise AutorecError(
                f"{where}, field data_fingerprint",
                f"data file {file} {state} since the search started",
                fix,
            )


# options ------------------------------------------------------------------------------
_OBJECTIVE = re.compile(
    r"^-?(fitness|n_params|loss|val_loss|train_loss|epochs|wall_s|"
    r"(val|test)_[a-z][a-z0-9_]*(@[0-9]+)?(_count)?)$"
)


def check_objectives(objectives: Sequence[str]) -> None:
    """``--objectives`` names: ``fitness``, ``n_params``, ``loss``, a ``val_``/``test_``
    metric (``val_top10``, ``val_pcc@10``), each maybe ``-``-prefixed (minimised)."""
    for name in objectives:
        if not _OBJECTIVE.match(name):
            raise AutorecError(
                "option --objectives",
                f"unknown objective {_short(name)}",
                "use fitness, n_params, loss or a val_/test_ metric such as val_pcc@10, "
                "each maybe with '-' to minimise",
            )


# planner refusals --------------------------------------------------------------------
#: genome key -> why the resource planner refused it (the driver's resources function and
#: the searcher both run in the driver process).
_REFUSALS: dict[str, str] = {}


def note_refusal(key: str, message: str) -> None:
    _REFUSALS[key] = message


def trial_error(key: str, message: str, failed: bool) -> str:
    """The error a trial record keeps: the planner's refusal first (a refused genome then
    fails in training), then the trial's own message, else "trial failed" for a failure."""
    refusal = _REFUSALS.get(key) if failed else None
    parts = [f"planner refused: {refusal}" if refusal else "", message]
    text = "; then ".join(p for p in parts if p)
    return text or ("trial failed" if failed else "")


# outcome ------------------------------------------------------------------------------
def status_counts(records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many trials ended in each status (``ok``, ``diverged``, ``error``, ...)."""
    return dict(sorted(Counter(str(r.get("status", "error")) for r in records).items()))


def all_failed_line(records: Sequence[Mapping[str, Any]], run_dir: str) -> str | None:
    """One line when every trial failed (None otherwise, or when there is no trial)."""
    counts = status_counts(records)
    if not records or set(counts) != {"error"}:
        return None
    first = next((str(r.get("error")) for r in records if r.get("error")), "no message")
    first = first.splitlines()[0] if first else "no message"
    return (
        f"all {len(records)} trials failed (error: {counts['error']}); first error: "
        f"{first[:200]}; see {run_dir}/trials.csv"
    )
