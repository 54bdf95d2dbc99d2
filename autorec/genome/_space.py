"""Search spaces: per-gene search bounds and mutation, loaded from YAML, and the GA operators.

YAML format (``search_spaces/drnn.yaml`` is the reference)::

    family: drnn                 # drnn | predictor (soft split is the predictor family)
    description: free text       # optional
    genes:                       # every gene of the family's schema must be listed
      width:   {kind: int, low: 1, high: 8, default: 4}
      units_1: {kind: log_int, low: 16, high: 512, default: 128,
                mutation: {type: gaussian, sigma: 0.25}}
      learning_rate: {kind: log_float, low: 1.0e-4, high: 0.3, default: 0.003}
      activation: {kind: choice, choices: [relu, tanh, elu], default: relu}
      batch_size: {kind: choice, choices: [64, 128, 256], default: 128}
      fnn: {kind: bool, default: false}
      split_mode: {fixed: predictor}   # a fixed gene is never evolved; `split_mode: predictor`
                                       # (a bare scalar) means the same

Kinds: ``int`` and ``log_int`` (integers sampled uniformly / log-uniformly in ``[low, high]``),
``float`` and ``log_float`` (same for reals; log kinds need ``low > 0``), ``choice`` (a list of
allowed values; also for integer genes such as ``batch_size``) and ``bool``. ``default`` is
optional (the schema default, or the nearest allowed value); it is the value inactive genes
are reset to. ``mutation`` is optional: ``{type: gaussian, sigma: S}`` adds N(0, S * range),
the range measured in log space for log kinds (default S = 0.2; integers always move by at
least 1), or ``{type: resample}`` draws a fresh value. ``choice`` genes mutate to a different
choice, ``bool`` genes flip. Search bounds must lie inside the schema's hard limits
(:mod:`autorec.genome._schema`).

Every problem is an :class:`~autorec.errors.AutorecError` naming the file, the gene, the bad
value or bound and the fix: an unknown gene or key (with the closest valid name), ``low >
high``, bounds outside the hard limits, an unknown kind, a choice the schema does not allow,
missing genes.

Operators (all randomness from the ``numpy.random.Generator`` passed in):

- :meth:`SearchSpace.sample` draws every gene, ``height`` within ``[low, min(high, length-1)]``;
- :meth:`SearchSpace.mutate` mutates each active, non-fixed gene with probability ``indpb``
  (at least one gene always changes, so "mutate" in Algorithm 2 always alters the chromosome);
  genes a mutation switches on (a new layer's units, the FNN genes) are drawn fresh;
- :meth:`SearchSpace.crossover` is uniform per crossover group: ``length``/``layers`` travel
  with ``height``; a layer's genes travel together and are only exchanged when the layer exists
  in both parents, otherwise a child keeps the layer of the parent its depth came from; a
  switch travels with the genes it turns on (``fnn`` + ``fnn_*``, ``output`` + ``negatives``,
  ``decay_mode`` + ``ti``, ``split_mode`` + ``to``);
- :meth:`SearchSpace.repair` makes any child valid: fixed genes set, values snapped into the
  search bounds (integers rounded, floats at 6 significant digits, the nearest choice),
  ``height <= length - 1``, inactive genes reset to their default.
"""

from __future__ import annotations

import importlib.resources
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import yaml

from autorec._yaml import strict_load, yaml_problem
from autorec.errors import AutorecError
from autorec.genome._genome import Genome, round_sig
from autorec.genome._schema import (
    FAMILIES,
    SCHEMAS,
    Family,
    GeneSchema,
    GeneValue,
    active_genes,
    check_family,
    check_value,
    depth_gene,
    layer_index,
    suggest,
)

__all__ = ["BUILTIN_SPACES", "KINDS", "Gene", "Kind", "Mutation", "SearchSpace"]

Kind = Literal["int", "log_int", "float", "log_float", "choice", "bool"]
KINDS: tuple[Kind, ...] = ("int", "log_int", "float", "log_float", "choice", "bool")
BUILTIN_SPACES = ("drnn", "predictor", "soft_split")
MUTATION_TYPES = ("gaussian", "resample")
DEFAULT_SIGMA = 0.2
_GENE_KEYS = ("kind", "low", "high", "choices", "default", "mutation", "fixed")
_TOP_KEYS = ("family", "description", "genes")


@dataclass(frozen=True)
class Mutation:
    """How a numeric gene mutates: ``gaussian`` with ``sigma`` x range, or ``resample``."""

    type: Literal["gaussian", "resample"] = "gaussian"
    sigma: float = DEFAULT_SIGMA


@dataclass(frozen=True)
class Gene:
    """One gene's search domain: kind, bounds or choices, default, mutation and group.

    ``fixed`` genes have ``choices == (value,)`` and are never sampled or mutated.
    ``group`` is the crossover group (from the schema): genes of one group travel together.
    """

    name: str
    kind: Kind
    default: GeneValue
    low: float | None = None
    high: float | None = None
    choices: tuple[GeneValue, ...] = ()
    fixed: bool = False
    mutation: Mutation = field(default_factory=Mutation)
    group: str = ""

    @property
    def is_int(self) -> bool:
        return self.kind in ("int", "log_int")

    @property
    def is_log(self) -> bool:
        return self.kind in ("log_int", "log_float")

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "log_int", "float", "log_float")

    def domain_text(self) -> str:
        """``[low, high]`` or the choices, as shown in messages."""
        if self.numeric:

            def f(x: float | None) -> str:
                return str(int(x)) if self.is_int and x is not None else _yaml_scalar(x)

            return f"[{f(self.low)}, {f(self.high)}]"
        return ", ".join(map(_yaml_scalar, self.choices))

    def bounds(self, high: float | None = None) -> tuple[float, float]:
        assert self.low is not None and self.high is not None
        hi = self.high if high is None else min(self.high, high)
        return self.low, max(self.low, hi)

    # -- operators on one value -------------------------------------------------------------
    def sample(self, rng: np.random.Generator, high: float | None = None) -> GeneValue:
        """A random value (uniform, or log-uniform for log kinds); ``high`` caps the bound."""
        if self.fixed:
            return self.default
        if self.kind == "bool":
            return bool(rng.random() < 0.5)
        if self.kind == "choice":
            return self.choices[int(rng.integers(len(self.choices)))]
        lo, hi = self.bounds(high)
        if self.kind == "int":
            return int(rng.integers(int(lo), int(hi) + 1))
        if self.kind == "log_int":
            x = math.exp(rng.uniform(math.log(lo), math.log(hi + 1)))
            return int(min(max(math.floor(x), lo), hi))
        if self.kind == "log_float":
            return self.snap(math.exp(rng.uniform(math.log(lo), math.log(hi))), high)
        return self.snap(float(rng.uniform(lo, hi)), high)

    def mutate(
        self, value: GeneValue, rng: np.random.Generator, high: float | None = None
    ) -> GeneValue:
        """A mutated value inside the bounds (see the module docstring)."""
        if self.fixed:
            return self.default
        if self.kind == "bool":
            return not bool(value)
        if self.kind == "choice":
            others = [c for c in self.choices if c != value]
            if not others:
                return value
            return others[int(rng.integers(len(others)))]
        if self.mutation.type == "resample":
            return self.sample(rng, high)
        lo, hi = self.bounds(high)
        if lo == hi:
            return self.snap(lo, high)
        x = float(cast(float, value))
        if self.is_log:
            a, b, y = math.log(lo), math.log(hi), math.log(max(x, lo))
        else:
            a, b, y = lo, hi, x
        y = y + float(rng.normal(0.0, self.mutation.sigma * (b - a)))
        # reflect once at the bounds, then clip
        if y < a:
            y = a + (a - y)
        if y > b:
            y = b - (y - b)
        y = min(max(y, a), b)
        new = math.exp(y) if self.is_log else y
        if self.is_int:
            out = int(min(max(round(new), lo), hi))
            if out == int(x):  # integers always move by at least one step
                step = 1 if rng.random() < 0.5 else -1
                if not lo <= out + step <= hi:
                    step = -step
                out += step
            return int(min(max(out, lo), hi))
        return self.snap(new, high)

    def snap(self, value: GeneValue, high: float | None = None) -> GeneValue:
        """``value`` moved into the domain: clipped, rounded, or the nearest choice."""
        if self.fixed:
            return self.default
        if self.kind == "bool":
            return bool(value)
        if self.kind == "choice":
            if value in self.choices:
                return value
            if isinstance(value, int | float) and not isinstance(value, bool):
                nums = [c for c in self.choices if isinstance(c, int | float)]
                if nums:
                    v = float(value)
                    return min(nums, key=lambda c: (abs(float(c) - v), float(c)))
            return self.default
        lo, hi = self.bounds(high)
        x = float(cast(float, value))
        x = min(max(x, lo), hi)
        if self.is_int:
            return int(min(max(round(x), math.ceil(lo)), math.floor(hi)))
        y = round_sig(x)
        return y if lo <= y <= hi else x

    def contains(self, value: GeneValue, high: float | None = None) -> bool:
        """Whether ``value`` lies in the domain (``high`` caps the upper bound)."""
        if self.kind == "bool" and not self.fixed:
            return isinstance(value, bool)
        if self.fixed or self.kind == "choice":
            return any(
                value == c and isinstance(value, bool) == isinstance(c, bool) for c in self.choices
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.is_int and not isinstance(value, int):
            return False
        lo, hi = self.bounds(high)
        return lo <= float(value) <= hi


class SearchSpace:
    """The genes of one family with search bounds and mutation; the GA operators.

    Build with :meth:`from_yaml` (``"drnn"``, ``"predictor"``, ``"soft_split"`` or a file path)
    or :meth:`from_dict`. ``genes`` is ordered like the family's schema.
    """

    def __init__(
        self,
        family: Family,
        genes: Mapping[str, Gene],
        *,
        name: str = "",
        source: str = "",
        description: str = "",
    ) -> None:
        self.family: Family = family
        self.genes: Mapping[str, Gene] = dict(genes)
        self.name = name or family
        self.source = source or self.name
        self.description = description
        self._depth = depth_gene(family)

    def __repr__(self) -> str:
        return f"SearchSpace({self.name!r}, family={self.family}, genes={len(self.genes)})"

    # -- loading -----------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path_or_name: str | Path) -> SearchSpace:
        """Load a built-in space by name (``drnn``, ``predictor``, ``soft_split``) or a file."""
        s = str(path_or_name)
        p = Path(s)
        if isinstance(path_or_name, str) and s in BUILTIN_SPACES:
            res = importlib.resources.files("search_spaces").joinpath(f"{s}.yaml")
            where = f"search_spaces/{s}.yaml"
            text = res.read_text(encoding="utf-8")
            name = s
        elif p.suffix in (".yaml", ".yml") or p.exists():
            where = str(p)
            try:
                text = p.read_text(encoding="utf-8")
            except OSError as exc:
                raise AutorecError(
                    where,
                    f"cannot read search space file ({exc.strerror or exc})",
                    f"pass an existing YAML file or one of {', '.join(BUILTIN_SPACES)}",
                ) from None
            name = p.stem
        else:
            raise AutorecError(
                "--space",
                f"unknown search space {s!r}{suggest(s, BUILTIN_SPACES)}",
                f"use one of {', '.join(BUILTIN_SPACES)} or a FILE.yaml",
            )
        try:
            data = strict_load(text)
        except yaml.YAMLError as exc:
            raise AutorecError(
                where, f"invalid YAML ({yaml_problem(exc)})", "fix the YAML syntax"
            ) from None
        return cls.from_dict(data, where=where, name=name)

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "search space", name: str = "") -> SearchSpace:
        """Validate a parsed YAML document (see the module docstring) and build the space."""
        if not isinstance(data, Mapping):
            raise AutorecError(
                where,
                "expected a mapping with 'family' and 'genes'",
                "start the file with 'family: drnn' and a 'genes:' mapping",
            )
        for k in data:
            if k not in _TOP_KEYS:
                raise AutorecError(
                    where,
                    f"unknown top-level key {k!r}{suggest(str(k), _TOP_KEYS)}",
                    f"use only {', '.join(_TOP_KEYS)}",
                )
        fam = check_family(data.get("family"), where, f"set family to one of {', '.join(FAMILIES)}")
        schema = SCHEMAS[fam]
        raw = data.get("genes")
        if not isinstance(raw, Mapping):
            raise AutorecError(
                where, "missing or invalid 'genes' mapping", "add 'genes:' with one entry per gene"
            )
        for gname in raw:
            if gname not in schema:
                raise AutorecError(
                    where,
                    f"unknown gene {gname!r} for family {fam}{suggest(str(gname), schema)}",
                    "fix the name or remove it",
                )
        missing = [g for g in schema if g not in raw]
        if missing:
            first = schema[missing[0]]
            raise AutorecError(
                where,
                f"missing gene(s) {', '.join(missing)}",
                f"list every gene of family {fam}, e.g. "
                f"'{first.name}: {{fixed: {_yaml_scalar(first.default)}}}'",
            )
        genes = {g: _parse_gene(schema[g], raw[g], where) for g in schema}
        desc = data.get("description", "")
        space = cls(
            fam,
            genes,
            name=name or fam,
            source=where,
            description=str(desc) if desc is not None else "",
        )
        space._check_cross(where)
        return space

    def _check_cross(self, where: str) -> None:
        if "height" in self.genes:
            h, ln = self.genes["height"], self.genes["length"]
            h_lo = _lowest(h)
            l_lo = _lowest(ln)
            if h_lo > l_lo - 1:
                raise AutorecError(
                    where,
                    f"gene 'height' lowest value {h_lo} exceeds length-1 "
                    f"for the smallest length {l_lo}",
                    f"lower height's low to {max(0, int(l_lo) - 1)} or raise "
                    f"length's low to {int(h_lo) + 1}",
                )
        # every default must form a valid genome
        try:
            self.default_genome()
        except AutorecError as exc:
            raise AutorecError(
                where, f"the defaults do not form a valid genome ({exc.problem})", exc.fix
            ) from None

    # -- helpers -----------------------------------------------------------------------------
    def _dyn_high(self, name: str, values: Mapping[str, GeneValue]) -> float | None:
        if name == "height" and "length" in values:
            return float(int(values["length"]) - 1)
        return None

    def _finish(self, values: dict[str, GeneValue]) -> Genome:
        return Genome(self.family, self._repair_values(values))

    def _repair_values(self, values: Mapping[str, GeneValue]) -> dict[str, GeneValue]:
        out: dict[str, GeneValue] = {}
        for name, gene in self.genes.items():
            v = values.get(name, gene.default)
            out[name] = gene.snap(v, self._dyn_high(name, out))
        act = active_genes(self.family, out)
        for name, gene in self.genes.items():
            if name not in act:
                out[name] = gene.snap(gene.default, self._dyn_high(name, out))
        return out

    def default_genome(self) -> Genome:
        """The genome of every gene's default (repaired)."""
        return self._finish({n: g.default for n, g in self.genes.items()})

    # -- operators ---------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Genome:
        """A random valid genome (every gene drawn in schema order)."""
        values: dict[str, GeneValue] = {}
        for name, gene in self.genes.items():
            values[name] = gene.sample(rng, self._dyn_high(name, values))
        return self._finish(values)

    def mutate(self, g: Genome, rng: np.random.Generator, indpb: float = 0.2) -> Genome:
        """Mutate each active, non-fixed gene with probability ``indpb`` (at least one)."""
        self._check_family(g)
        before = g.active
        values = dict(g.genes)
        cands = [n for n, gene in self.genes.items() if not gene.fixed and n in before]
        if not cands:
            return self.repair(g)
        flags = rng.random(len(cands)) < indpb
        if not flags.any():
            flags[int(rng.integers(len(cands)))] = True
        for name, flag in zip(cands, flags, strict=True):
            if flag:
                values[name] = self.genes[name].mutate(
                    values[name], rng, self._dyn_high(name, values)
                )
        after = active_genes(self.family, self._clamp_height(values))
        for name, gene in self.genes.items():
            if name in after and name not in before and not gene.fixed:
                values[name] = gene.sample(rng, self._dyn_high(name, values))
        return self._finish(values)

    def _clamp_height(self, values: dict[str, GeneValue]) -> dict[str, GeneValue]:
        if "height" in values:
            values["height"] = min(int(values["height"]), int(values["length"]) - 1)
        return values

    def crossover(self, a: Genome, b: Genome, rng: np.random.Generator) -> tuple[Genome, Genome]:
        """Structure-aware uniform crossover per group (see the module docstring)."""
        self._check_family(a)
        self._check_family(b)
        va, vb = dict(a.genes), dict(b.genes)
        c1, c2 = dict(va), dict(vb)
        groups: dict[str, list[str]] = {}
        for name, gene in self.genes.items():
            groups.setdefault(gene.group or name, []).append(name)
        depth_group = self.genes[self._depth].group or self._depth
        order = [depth_group, *[k for k in groups if k != depth_group]]
        da, db = int(va[self._depth]), int(vb[self._depth])
        depth_swapped = False
        for grp in order:
            u = float(rng.random())
            names = groups[grp]
            idx = layer_index(names[0])
            one_sided = idx is not None and not (idx <= da and idx <= db)
            swap = depth_swapped if one_sided else u < 0.5
            if grp == depth_group:
                depth_swapped = swap
            if swap:
                for n in names:
                    c1[n], c2[n] = vb[n], va[n]
        return self._finish(c1), self._finish(c2)

    def repair(self, g: Genome) -> Genome:
        """A valid genome of this space close to ``g`` (see the module docstring)."""
        self._check_family(g)
        return self._finish(dict(g.genes))

    def validate(self, g: Genome, where: str = "genome") -> None:
        """Raise :class:`AutorecError` unless every active gene lies in this space's domain."""
        self._check_family(g, where)
        for name in self.genes:
            if name not in g.active:
                continue
            gene = self.genes[name]
            v = g.genes[name]
            if not gene.contains(v, self._dyn_high(name, g.genes)):
                if gene.fixed:
                    fix = f"this space fixes it to {gene.default!r}"
                elif gene.numeric:
                    fix = f"use a value in {gene.domain_text()}"
                else:
                    fix = f"use one of {gene.domain_text()}"
                raise AutorecError(
                    where, f"gene '{name}' = {v!r} is outside search space {self.name}", fix
                )

    def is_valid(self, g: Genome) -> bool:
        try:
            self.validate(g)
        except AutorecError:
            return False
        return True

    def _check_family(self, g: Genome, where: str = "genome") -> None:
        if g.family != self.family:
            raise AutorecError(
                where,
                f"genome family {g.family} does not match search space "
                f"{self.name} (family {self.family})",
                f"use a {self.family} genome or a {g.family} search space",
            )


# -- YAML parsing of one gene -----------------------------------------------------------------
def _yaml_scalar(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _lowest(gene: Gene) -> float:
    if gene.numeric:
        assert gene.low is not None
        return gene.low
    return min(float(cast(float, c)) for c in gene.choices)


def _allowed_kinds(spec: GeneSchema) -> tuple[Kind, ...]:
    if spec.type == "int":
        return ("int", "log_int", "choice")
    if spec.type == "float":
        return ("float", "log_float", "choice")
    if spec.type == "bool":
        return ("bool",)
    return ("choice",)


def _parse_gene(spec: GeneSchema, raw: object, where: str) -> Gene:
    name = spec.name
    at = f"{where}: gene '{name}'"
    group = spec.crossover_group
    if not isinstance(raw, Mapping):
        if isinstance(raw, list | tuple) or raw is None:
            raise AutorecError(
                where,
                f"gene '{name}' has spec {raw!r}",
                "write a mapping such as {kind: int, low: 1, high: 8} or {fixed: VALUE}",
            )
        raw = {"fixed": raw}
    for k in raw:
        if k not in _GENE_KEYS:
            raise AutorecError(
                where,
                f"gene '{name}' has unknown key {k!r}{suggest(str(k), _GENE_KEYS)}",
                f"use only {', '.join(_GENE_KEYS)}",
            )
    if "fixed" in raw:
        extra = [k for k in raw if k != "fixed"]
        if extra:
            raise AutorecError(
                where,
                f"gene '{name}' is fixed but also has {', '.join(extra)}",
                "remove the other keys or remove 'fixed'",
            )
        value = check_value(spec, raw["fixed"], at)
        return Gene(
            name,
            "choice" if spec.type != "bool" else "bool",
            value,
            choices=(value,),
            fixed=True,
            group=group,
        )
    kind = raw.get("kind")
    allowed = _allowed_kinds(spec)
    if kind is None:
        raise AutorecError(
            where,
            f"gene '{name}' has no 'kind'",
            f"add kind: one of {', '.join(allowed)} (or use 'fixed: VALUE')",
        )
    if kind not in KINDS:
        raise AutorecError(
            where,
            f"gene '{name}' has unknown kind {kind!r}{suggest(str(kind), KINDS)}",
            f"use one of {', '.join(allowed)}",
        )
    if kind not in allowed:
        raise AutorecError(
            where,
            f"gene '{name}' ({spec.type} gene) cannot use kind {kind!r}",
            f"use one of {', '.join(allowed)}",
        )
    k = cast(Kind, kind)
    numeric = k in ("int", "log_int", "float", "log_float")
    for key in ("low", "high"):
        if key in raw and not numeric:
            raise AutorecError(
                where,
                f"gene '{name}' of kind {k} does not take {key!r}",
                "remove it" + (" and list 'choices'" if k == "choice" else ""),
            )
    if "choices" in raw and k != "choice":
        raise AutorecError(
            where,
            f"gene '{name}' of kind {k} does not take 'choices'",
            "remove it or use kind: choice",
        )
    mutation = _parse_mutation(name, raw.get("mutation"), where, numeric)
    low: float | None = None
    high: float | None = None
    choices: tuple[GeneValue, ...] = ()
    if numeric:
        for key in ("low", "high"):
            if key not in raw:
                raise AutorecError(
                    where,
                    f"gene '{name}' of kind {k} has no {key!r}",
                    f"add {key}: a value ({spec.limits_text()})",
                )
        bounds: dict[str, float] = {}
        for key in ("low", "high"):
            v = raw[key]
            try:
                checked = check_value(spec, v, at)
            except AutorecError as exc:
                raise AutorecError(
                    where,
                    f"gene '{name}' bound {key}={v!r} is invalid ({exc.problem})",
                    f"{key} must be {spec.limits_text()} (hard limits)",
                ) from None
            bounds[key] = float(cast(float, checked))
        low, high = bounds["low"], bounds["high"]
        if low > high:
            raise AutorecError(
                where,
                f"gene '{name}' has low {raw['low']!r} > high {raw['high']!r}",
                "swap them or fix the bounds",
            )
        if k.startswith("log_") and low <= 0:
            raise AutorecError(
                where,
                f"gene '{name}' of kind {k} has low {raw['low']!r} <= 0",
                f"log kinds need low > 0; use kind {k[4:]} to include 0",
            )
        if spec.type == "int":
            low, high = float(int(low)), float(int(high))
    elif k == "choice":
        rc = raw.get("choices")
        if not isinstance(rc, list | tuple) or not rc:
            raise AutorecError(
                where,
                f"gene '{name}' of kind choice has no 'choices' list",
                "add choices: [a, b, ...]",
            )
        out: list[GeneValue] = []
        for c in rc:
            checked = check_value(spec, c, at)
            if checked in out:
                raise AutorecError(
                    where, f"gene '{name}' lists choice {c!r} twice", "remove the duplicate"
                )
            out.append(checked)
        choices = tuple(out)
    else:
        choices = (False, True)
    dom = Gene(
        name, k, spec.default, low=low, high=high, choices=choices, mutation=mutation, group=group
    )
    if "default" in raw:
        d = check_value(spec, raw["default"], at)
        if not dom.contains(d):
            raise AutorecError(
                where,
                f"gene '{name}' default {raw['default']!r} is outside "
                f"its search domain {dom.domain_text()}",
                "pick a default inside the bounds/choices",
            )
        default: GeneValue = d
    else:
        default = dom.snap(spec.default)
    return Gene(
        name, k, default, low=low, high=high, choices=choices, mutation=mutation, group=group
    )


def _parse_mutation(name: str, raw: object, where: str, numeric: bool) -> Mutation:
    if raw is None:
        return Mutation()
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, Mapping):
        raise AutorecError(
            where,
            f"gene '{name}' has mutation {raw!r}",
            "write mutation: {type: gaussian, sigma: 0.2} or {type: resample}",
        )
    for k in raw:
        if k not in ("type", "sigma"):
            raise AutorecError(
                where,
                f"gene '{name}' mutation has unknown key {k!r}{suggest(str(k), ('type', 'sigma'))}",
                "use only type, sigma",
            )
    t = raw.get("type", "gaussian")
    if t not in MUTATION_TYPES:
        raise AutorecError(
            where,
            f"gene '{name}' has unknown mutation type {t!r}{suggest(str(t), MUTATION_TYPES)}",
            f"use one of {', '.join(MUTATION_TYPES)}",
        )
    if not numeric:
        if "sigma" in raw or t != "resample":
            raise AutorecError(
                where,
                f"gene '{name}' is a choice/bool gene and takes no gaussian mutation",
                "remove 'mutation' (choices resample)",
            )
        return Mutation("resample")
    sigma = raw.get("sigma", DEFAULT_SIGMA)
    if (
        isinstance(sigma, bool)
        or not isinstance(sigma, int | float)
        or not (0 < float(sigma) <= 10)
    ):
        raise AutorecError(
            where,
            f"gene '{name}' has mutation sigma {sigma!r}",
            "use a sigma in (0, 10] (a fraction of the range)",
        )
    return Mutation(cast(Literal["gaussian", "resample"], t), float(sigma))
