"""``autorec search --config FILE.yaml``: a search's options from a YAML file.

The file maps option names to values, written as in ``config.yaml`` of a run dir
(``population: 8``, ``p_c: 0.7``) or as the flags are spelled (``p-c: 0.7``). A run dir's
own ``config.yaml`` is accepted as it is: its bookkeeping (``versions``, ``created``,
``sessions``, ``data_fingerprint``) and its ``run_dir`` are left out, so the same search
runs again in a new run dir. Options given on the command line win over the file's.
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Any

import yaml

from autorec.errors import AutorecError

__all__ = ["read_search_config"]

#: Keys of a run dir's config.yaml that are not search options.
_BOOKKEEPING = frozenset({"versions", "created", "sessions", "data_fingerprint"})


def _type_ok(annotation: str, value: Any) -> bool:
    """Whether ``value`` fits a field annotated ``annotation`` (``int``, ``float | None``,
    ``str``, ``bool``; ``from __future__`` keeps them as strings)."""
    kinds = {part.strip() for part in annotation.split("|")}
    if value is None:
        return "None" in kinds
    if isinstance(value, bool):
        return "bool" in kinds
    if isinstance(value, int):
        return bool(kinds & {"int", "float"})
    if isinstance(value, float):
        return "float" in kinds
    if isinstance(value, str):
        return "str" in kinds
    return False


def read_search_config(path: str | Path, fields: type) -> dict[str, Any]:
    """``{option: value}`` from the YAML file ``path`` for the dataclass ``fields``
    (:class:`autorec.tune.SearchOptions`). Unknown keys and values of the wrong type are
    errors naming the file and the key."""
    p = Path(path)
    where = f"--config {p}"
    if not p.is_file():
        raise AutorecError(where, "no such file", "pass a YAML file of search options")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise AutorecError(where, f"not valid YAML ({err})", "fix the file") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise AutorecError(where, "is not a mapping of option: value", "write e.g. population: 8")
    known = {f.name: f for f in dataclasses.fields(fields)}
    is_run_config = bool(_BOOKKEEPING & set(raw))
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = str(key).replace("-", "_").lstrip("_")
        if name in _BOOKKEEPING or (is_run_config and name == "run_dir"):
            continue
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(known)}"
            raise AutorecError(f"{where}: {key}", "is not a search option", hint)
        if not _type_ok(str(known[name].type), value):
            raise AutorecError(
                f"{where}: {key}",
                f"{value!r} is not a {known[name].type}",
                "fix the value (see autorec search --help)",
            )
        out[name] = value
    return out
