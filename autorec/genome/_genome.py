"""The genome (chromosome, DRNN paper Sec. IV.B): a frozen, validated set of gene values.

A genome file is YAML with ``family:`` (``drnn`` or ``predictor``) and one key per gene::

    family: drnn
    width: 4
    length: 2
    units_1: 256
    activation: relu

Genes missing from the file take the schema defaults; an unknown key is an error naming the
file and the closest gene name. Values outside the hard limits are errors, never clamped.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from autorec._yaml import strict_load, yaml_problem
from autorec.errors import AutorecError
from autorec.genome._schema import (
    FAMILIES,
    KEY_OMITTED_DEFAULTS,
    SCHEMAS,
    Family,
    GeneValue,
    active_genes,
    check_family,
    check_value,
    suggest,
)

__all__ = ["Genome", "canonical_value", "load_genome", "round_sig"]


def round_sig(x: float, digits: int = 6) -> float:
    """``x`` rounded to ``digits`` significant digits (the canonical float form)."""
    if x == 0.0 or not math.isfinite(x):
        return 0.0 if x == 0.0 else x
    return float(f"{x:.{digits}g}")


def canonical_value(value: GeneValue) -> GeneValue:
    if isinstance(value, float):
        return round_sig(value)
    return value


@dataclass(frozen=True, eq=False)
class Genome:
    """A validated chromosome: ``family`` plus every gene of that family's schema.

    Construct with :meth:`from_dict` (fills defaults, validates) or directly with a complete
    mapping (validated too). ``genome["width"]`` reads a gene. Equality compares every value;
    :attr:`key` identifies behaviour (inactive genes ignored) and is what caches use.
    """

    family: Family
    genes: Mapping[str, GeneValue]
    _key: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise AutorecError(
                "genome",
                f"unknown family {self.family!r}{suggest(str(self.family), FAMILIES)}",
                f"use one of {', '.join(FAMILIES)}",
            )
        schema = SCHEMAS[self.family]
        unknown = [k for k in self.genes if k not in schema]
        if unknown:
            raise AutorecError(
                "genome",
                f"unknown gene '{unknown[0]}' for family "
                f"{self.family}{suggest(unknown[0], schema)}",
                "remove it or fix its name",
            )
        missing = [k for k in schema if k not in self.genes]
        if missing:
            raise AutorecError(
                "genome",
                f"missing gene(s) {', '.join(missing)}",
                "use Genome.from_dict to fill schema defaults",
            )
        values: dict[str, GeneValue] = {}
        for name, spec in schema.items():
            values[name] = canonical_value(check_value(spec, self.genes[name], "genome"))
        if "height" in schema:
            check_value(schema["height"], values["height"], "genome", values)
        object.__setattr__(self, "genes", MappingProxyType(values))
        object.__setattr__(self, "_key", _make_key(self.family, values))

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str = "genome") -> Genome:
        """Build from ``{"family": ..., gene: value, ...}``; missing genes take schema defaults."""
        if not isinstance(d, Mapping):
            raise AutorecError(
                where,
                f"expected a mapping of genes, got {type(d).__name__}",
                "write 'family: drnn' and one 'gene: value' line per gene",
            )
        fam = check_family(d.get("family"), where, f"add 'family: {' or '.join(FAMILIES)}'")
        schema = SCHEMAS[fam]
        values: dict[str, GeneValue] = {}
        for k, v in d.items():
            if k == "family":
                continue
            if k not in schema:
                raise AutorecError(
                    where,
                    f"unknown gene '{k}' for family {fam}{suggest(str(k), schema)}",
                    f"remove it or use one of: {', '.join(schema)}",
                )
            values[str(k)] = check_value(schema[str(k)], v, where)
        for name, spec in schema.items():
            values.setdefault(name, spec.default)
        if "height" in schema:
            check_value(schema["height"], values["height"], where, values)
        return cls(fam, values)

    def replace(self, **changes: GeneValue) -> Genome:
        """A copy with some genes changed (validated)."""
        values = dict(self.genes)
        values.update(changes)
        return Genome.from_dict({"family": self.family, **values})

    # -- views -----------------------------------------------------------------------------
    @property
    def key(self) -> str:
        """Canonical identity: sha1[:12] of family + active genes, floats at 6 significant digits.

        Behaviourally identical genomes (differing only in inactive genes, e.g. ``units_4`` when
        ``length`` is 2) share a key, so they are trained once.
        """
        return self._key

    @property
    def active(self) -> frozenset[str]:
        """Names of the genes this genome uses."""
        return active_genes(self.family, self.genes)

    def __getitem__(self, name: str) -> GeneValue:
        try:
            return self.genes[name]
        except KeyError:
            raise AutorecError(
                "genome",
                f"no gene '{name}' in family {self.family}{suggest(name, self.genes)}",
                "use a schema gene name",
            ) from None

    # typed accessors (mypy-friendly for code building networks from genes)
    def get_int(self, name: str) -> int:
        """Gene ``name`` as an ``int`` (int genes, e.g. ``width``, ``units_1``)."""
        v = self[name]
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"gene {name!r} is not an integer gene")
        return v

    def get_float(self, name: str) -> float:
        """Gene ``name`` as a ``float`` (float genes, e.g. ``learning_rate``)."""
        v = self[name]
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise TypeError(f"gene {name!r} is not a numeric gene")
        return float(v)

    def get_str(self, name: str) -> str:
        """Gene ``name`` as a ``str`` (choice genes, e.g. ``activation``)."""
        v = self[name]
        if not isinstance(v, str):
            raise TypeError(f"gene {name!r} is not a choice gene")
        return v

    def get_bool(self, name: str) -> bool:
        """Gene ``name`` as a ``bool`` (``fnn``, ``view_path``)."""
        v = self[name]
        if not isinstance(v, bool):
            raise TypeError(f"gene {name!r} is not a boolean gene")
        return v

    def __iter__(self) -> Iterator[str]:
        return iter(self.genes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Genome):
            return NotImplemented
        return self.family == other.family and dict(self.genes) == dict(other.genes)

    def __hash__(self) -> int:
        return hash((self.family, tuple(self.genes.items())))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.genes.items() if k in self.active)
        return f"Genome({self.family}, key={self.key}, {inner})"

    def to_dict(self) -> dict[str, GeneValue]:
        """``{"family": ..., gene: value, ...}`` in schema order (all genes)."""
        return {"family": self.family, **self.genes}

    def to_yaml(self, path: str | Path | None = None) -> str:
        """The genome as YAML text; also written (atomically) to ``path`` when given."""
        text: str = yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=False)
        if path is not None:
            p = Path(path)
            tmp = p.with_name(p.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(p)
        return text


def _make_key(family: str, values: Mapping[str, GeneValue]) -> str:
    act = active_genes(family, values)
    omitted = KEY_OMITTED_DEFAULTS.get(family, {})  # type: ignore[call-overload]
    payload = {
        "family": family,
        **{
            k: canonical_value(v)
            for k, v in values.items()
            if k in act and not (k in omitted and v == omitted[k])
        },
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def load_genome(path: str | Path) -> Genome:
    """Read and validate a genome YAML file; errors name the file, the gene and the fix."""
    p = Path(path)
    where = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise AutorecError(
            where,
            f"cannot read genome file ({exc.strerror or exc})",
            "pass an existing genome YAML file",
        ) from None
    try:
        data = strict_load(text)
    except yaml.YAMLError as exc:
        raise AutorecError(
            where, f"invalid YAML ({yaml_problem(exc)})", "fix the YAML syntax"
        ) from None
    return Genome.from_dict(data if data is not None else {}, where=where)
