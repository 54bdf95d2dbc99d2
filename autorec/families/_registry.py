"""The family registry: one object per family, found by name or by the data it trains on.

A family has one canonical name (the genome's ``family``: ``drnn``, ``predictor``); the data
layer's word for it (``EventLog.kind``: ``sessions``, ``purchases``) is the family's
``data_kind``, and :func:`get_family` accepts either -- the one place the two vocabularies
meet.
"""

from __future__ import annotations

from autorec.errors import AutorecError
from autorec.families._protocol import Family

__all__ = [
    "families",
    "family_names",
    "family_of",
    "find_family",
    "get_family",
    "register_family",
    "unregister_family",
]

_FAMILIES: dict[str, Family] = {}


def register_family(family: Family, *, replace: bool = False) -> Family:
    """Register ``family`` under its ``name`` (and ``data_kind``); returns it. A second
    family of the same name or data kind is an error unless ``replace``."""
    if not isinstance(family, Family):
        raise TypeError(f"{type(family).__name__} does not implement the Family protocol")
    for other in _FAMILIES.values():
        clash = {family.name, family.data_kind} & {other.name, other.data_kind}
        if clash and not (replace and other.name == family.name):
            raise ValueError(f"family {sorted(clash)[0]!r} is already registered")
    _FAMILIES[family.name] = family
    return family


def unregister_family(name: str) -> None:
    """Remove the family registered as ``name`` (nothing when there is none)."""
    _FAMILIES.pop(name, None)


def families() -> tuple[Family, ...]:
    """Every registered family, in registration order."""
    return tuple(_FAMILIES.values())


def family_names() -> tuple[str, ...]:
    """The canonical names of the registered families."""
    return tuple(_FAMILIES)


def find_family(key: object) -> Family | None:
    """The family named ``key`` (its name or data kind), the family whose data ``key`` is,
    or ``None``."""
    if isinstance(key, str):
        for family in _FAMILIES.values():
            if key in (family.name, family.data_kind):
                return family
        return None
    for family in _FAMILIES.values():
        if family.accepts(key):
            return family
    return None


def get_family(name: str) -> Family:
    """The family named ``name`` (``drnn`` or its data kind ``sessions``, ...)."""
    family = find_family(str(name))
    if family is None:
        known = ", ".join(_FAMILIES)
        raise AutorecError("family", f"unknown family {name!r}", f"use one of {known}")
    return family


def family_of(data: object) -> Family:
    """The family whose loaded data set ``data`` is."""
    family = None if isinstance(data, str) else find_family(data)
    if family is None:
        raise AutorecError(
            "data",
            f"{type(data).__name__} is no family's data set",
            "load sessions or purchase histories with autorec.data",
        )
    return family
