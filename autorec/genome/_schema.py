"""The gene schema: every gene a genome of each family holds, its value type and hard limits.

Hard limits are what a network can be built from (``width >= 1``, ``dropout in [0, 1)``, an
activation the code generator knows). A value outside them is an error, never clamped. Search
bounds (``search_spaces/*.yaml``) are a second, narrower layer that lives inside these limits.

Activity rules (which genes a genome actually uses, DRNN paper Sec. IV.B: "a_i (l < i) is
actually not used") are defined here too, so that the canonical key, ``repair`` and the
operators agree:

- ``units_i`` is inactive for ``i > length`` (DRNN) / ``i > layers`` (predictor);
- ``fnn_layers``, ``fnn_units`` are inactive when ``fnn`` is false;
- ``negatives`` is inactive when ``output`` is ``full``;
- predictor family: ``ti`` is inactive unless ``decay_mode`` is ``parametric`` (eq. 5 applied to
  the input, eq. 6); with ``split_mode: predictor`` the soft-split genes ``to, wa1, wa0, wp1,
  wp0`` are inactive (eq. 3 uses ``w1, w0``); with ``split_mode`` ``soft`` or ``equal`` the eq. 3
  weights ``w1, w0`` are inactive (eq. 7-9 use ``wa*``/``wp*``), and with ``equal`` (the paper's
  "equally weighted" model, ``to`` = 10^6, i.e. no output decay) ``to`` is inactive too;
  with ``loss: softmax`` (a multinomial likelihood, Mult-DAE: Liang et al. 2018, "Variational
  Autoencoders for Collaborative Filtering", eq. 2) there are no negative terms, so the
  negative weights ``w0``, ``wa0``, ``wp0`` are inactive, and in ``split_mode: predictor`` so
  is ``w1`` (the single normalised term has no weight).

Genes added after keys were first published (the predictor family's ``loss``,
``input_dropout`` and ``input_norm``: :data:`KEY_OMITTED_DEFAULTS`) are left out of the key
while they hold their default, so the keys of earlier genomes (and caches, run dirs) stay valid.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from autorec.errors import AutorecError, shown

__all__ = [
    "ACTIVATIONS",
    "FAMILIES",
    "KEY_OMITTED_DEFAULTS",
    "MAX_LAYERS",
    "SCHEMAS",
    "Family",
    "GeneSchema",
    "GeneValue",
    "active_genes",
    "check_value",
    "depth_gene",
    "layer_index",
    "suggest",
]

Family = Literal["drnn", "predictor"]
GeneValue = int | float | str | bool
ValueType = Literal["int", "float", "str", "bool"]

FAMILIES: tuple[Family, ...] = ("drnn", "predictor")
MAX_LAYERS = 4
ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "leaky_relu")
OPTIMIZERS = ("sgd", "nesterov", "adam")


@dataclass(frozen=True)
class GeneSchema:
    """What a gene may hold, independent of any search space.

    ``low``/``high`` are hard limits (``None``: unbounded); ``low_open``/``high_open`` make them
    strict. ``choices`` lists the allowed values of a ``str`` gene. ``group`` names the crossover
    group: genes of one group travel together (a layer's genes, a switch and the genes it turns on).
    """

    name: str
    type: ValueType
    default: GeneValue
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    group: str = ""
    doc: str = ""

    @property
    def crossover_group(self) -> str:
        return self.group or self.name

    def limits_text(self) -> str:
        if self.type == "bool":
            return "true or false"
        if self.type == "str":
            return "one of " + ", ".join(self.choices)
        lo = "-inf" if self.low is None else _fmt(self.low)
        hi = "inf" if self.high is None else _fmt(self.high)
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        what = "an integer" if self.type == "int" else "a number"
        if self.name == "height":
            return "an integer in [0, length-1]"
        return f"{what} in {left}{lo}, {hi}{right}"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _int(
    name: str,
    default: int,
    low: int | None = 1,
    high: int | None = None,
    group: str = "",
    doc: str = "",
) -> GeneSchema:
    return GeneSchema(name, "int", default, low=low, high=high, group=group, doc=doc)


def _float(
    name: str,
    default: float,
    low: float | None = 0.0,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    group: str = "",
    doc: str = "",
) -> GeneSchema:
    return GeneSchema(
        name,
        "float",
        default,
        low=low,
        high=high,
        low_open=low_open,
        high_open=high_open,
        group=group,
        doc=doc,
    )


def _choice(
    name: str, default: str, choices: tuple[str, ...], group: str = "", doc: str = ""
) -> GeneSchema:
    return GeneSchema(name, "str", default, choices=choices, group=group, doc=doc)


def _bool(name: str, default: bool, group: str = "", doc: str = "") -> GeneSchema:
    return GeneSchema(name, "bool", default, group=group, doc=doc)


_UNITS_DEFAULT = (128, 128, 64, 64)


def _units(defaults: tuple[int, ...] = _UNITS_DEFAULT) -> list[GeneSchema]:
    return [
        _int(
            f"units_{i}",
            defaults[i - 1],
            group=f"layer_{i}",
            doc=f"units of hidden layer {i} (inactive above the depth)",
        )
        for i in range(1, MAX_LAYERS + 1)
    ]


def _training_genes() -> list[GeneSchema]:
    return [
        _choice("optimizer", "adam", OPTIMIZERS, doc="sgd, nesterov (SGD + Nesterov), adam"),
        _float("learning_rate", 0.003, 0.0, low_open=True, doc="initial learning rate"),
        _float("momentum", 0.9, 0.0, 1.0, high_open=True, doc="SGD momentum"),
        _int("batch_size", 128, doc="training batch size"),
        _int("lr_step", 100, doc="epochs between learning-rate divisions (paper: 100)"),
        _float("lr_factor", 5.0, 1.0, doc="learning-rate divisor every lr_step epochs (paper: 5)"),
        _choice(
            "output",
            "full",
            ("full", "sampled"),
            group="output",
            doc="full softmax/sigmoid over all items, or sampled negatives",
        ),
        _int("negatives", 128, group="output", doc="sampled negatives (output: sampled)"),
    ]


def _drnn() -> list[GeneSchema]:
    t = _training_genes()
    return [
        _int("width", 4, doc="states kept, w (DRNN Sec. III.B, Fig. 7)"),
        _int("length", 2, 1, MAX_LAYERS, group="depth", doc="hidden layers, l"),
        _int(
            "height",
            0,
            0,
            MAX_LAYERS - 1,
            group="depth",
            doc="lowest hidden layers with a shortcut to the loss, h <= l-1 (Alg. 1, 19-24)",
        ),
        *_units(),
        _bool("fnn", False, group="fnn", doc="FNN branch over the purchase history"),
        _int("fnn_layers", 1, group="fnn", doc="hidden layers of the FNN branch"),
        _int("fnn_units", 64, group="fnn", doc="units per FNN hidden layer"),
        _bool("view_path", True, doc="learnt path from the session's viewed items to their scores"),
        _choice("activation", "relu", ACTIVATIONS),
        _choice("loss", "softmax", ("softmax", "bce")),
        _bool(
            "item_prior",
            False,
            doc="start the output bias at the items' training log-odds (else at 0)",
        ),
        _float("dropout", 0.0, 0.0, 1.0, high_open=True),
        *t[:4],
        _float("l2", 0.0, 0.0, doc="L2 weight penalty"),
        *t[4:],
    ]


def _predictor() -> list[GeneSchema]:
    t = _training_genes()
    return [
        _int("layers", 1, 1, MAX_LAYERS, group="depth", doc="hidden layers, L-1 (eq. 3)"),
        *_units((256, 256, 256, 256)),
        _choice(
            "decay_mode",
            "none",
            ("none", "parametric", "learnt"),
            group="decay",
            doc="input time decay: none, parametric Td (eq. 5), learnt over 32 bins (eq. 4)",
        ),
        _float(
            "ti",
            40.0,
            0.0,
            low_open=True,
            group="decay",
            doc="input decay days (eq. 5/6; decay_mode: parametric)",
        ),
        _choice("activation", "relu", ACTIVATIONS),
        _float("noise", 0.0, 0.0, doc="input noise xi (eq. 3)"),
        _float(
            "input_dropout",
            0.0,
            0.0,
            1.0,
            high_open=True,
            doc="denoising: drop each input purchase with this probability in training "
            "(survivors scaled 1/(1-p); Mult-DAE, Liang et al. 2018)",
        ),
        _bool(
            "input_norm",
            False,
            doc="divide each customer's input weights by their L2 norm (Mult-DAE's "
            "normalised input, Liang et al. 2018)",
        ),
        _float("dropout", 0.0, 0.0, 1.0, high_open=True),
        _choice(
            "loss",
            "bce",
            ("bce", "softmax"),
            group="split",
            doc="bce: weighted cross-entropy (eq. 3 / 7-9); softmax: multinomial "
            "likelihood over the products, targets normalised per customer (Mult-DAE)",
        ),
        _float("w1", 1.0, 0.0, doc="cost weight of purchased products (eq. 3)"),
        _float("w0", 1.0, 0.0, doc="cost weight of non-purchased products (eq. 3)"),
        _float("l2", 0.0, 0.0, doc="L2 penalty lambda (eq. 3)"),
        _float("beta", 0.0, 0.0, doc="KL sparsity weight (eq. 3)"),
        _float(
            "rho", 0.05, 0.0, 1.0, low_open=True, high_open=True, doc="KL sparsity target (eq. 3)"
        ),
        _choice(
            "split_mode",
            "predictor",
            ("predictor", "soft", "equal"),
            group="split",
            doc="predictor (eq. 3), soft split or equally weighted (eq. 6-9)",
        ),
        _float(
            "to",
            4.0,
            0.0,
            low_open=True,
            group="split",
            doc="output decay days of the auto-encoder cost (eq. 8; split_mode: soft)",
        ),
        _float("wa1", 1.0, 0.0, doc="auto-encoder weight, purchased (eq. 8)"),
        _float("wa0", 1.0, 0.0, doc="auto-encoder weight, not purchased (eq. 8)"),
        _float("wp1", 1.0, 0.0, doc="predictor weight, purchased (eq. 9)"),
        _float("wp0", 0.0, 0.0, doc="predictor weight, not purchased (eq. 9)"),
        *t,
    ]


def _index(genes: list[GeneSchema]) -> dict[str, GeneSchema]:
    out: dict[str, GeneSchema] = {}
    for g in genes:
        assert g.name not in out, g.name
        out[g.name] = g
    return out


#: Genes left out of the canonical key while they hold this value (added after keys were
#: published; their default keeps the earlier behaviour, so earlier keys stay valid).
KEY_OMITTED_DEFAULTS: Mapping[Family, Mapping[str, GeneValue]] = {
    "drnn": {},
    "predictor": {"loss": "bce", "input_dropout": 0.0, "input_norm": False},
}

SCHEMAS: Mapping[Family, Mapping[str, GeneSchema]] = {
    "drnn": _index(_drnn()),
    "predictor": _index(_predictor()),
}


def depth_gene(family: str) -> str:
    """The gene holding the number of hidden layers: ``length`` (DRNN) or ``layers``."""
    from autorec.families import get_family

    return get_family(family).depth_gene


def layer_index(name: str) -> int | None:
    """``units_3`` -> 3; ``None`` for genes that are not per-layer."""
    if name.startswith("units_"):
        try:
            return int(name[len("units_") :])
        except ValueError:
            return None
    return None


def active_genes(family: str, values: Mapping[str, GeneValue]) -> frozenset[str]:
    """Names of the genes a genome with these values actually uses (see the module docstring)."""
    schema = SCHEMAS[family]  # type: ignore[index]
    depth = int(values[depth_gene(family)])
    inactive: set[str] = set()
    for name in schema:
        i = layer_index(name)
        if i is not None and i > depth:
            inactive.add(name)
    if values.get("output") == "full":
        inactive.add("negatives")
    from autorec.families import get_family

    inactive |= get_family(family).inactive_genes(values)
    return frozenset(n for n in schema if n not in inactive)


def suggest(word: str, options: object) -> str:
    """`` (did you mean 'x'?)`` for the closest option, or an empty string."""
    opts = [str(o) for o in options]  # type: ignore[attr-defined]
    close = difflib.get_close_matches(str(word), opts, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_family(family: object, where: str, fix: str) -> Family:
    """``family`` as a :data:`Family`, or an error naming ``where`` (missing or unknown, with
    the closest name) and ``fix``."""
    if family in FAMILIES:
        return family
    got = "missing 'family'" if family is None else f"unknown family {shown(family)}"
    raise AutorecError(where, got + suggest(str(family), FAMILIES), fix)


def check_value(
    spec: GeneSchema, value: object, where: str, values: Mapping[str, GeneValue] | None = None
) -> GeneValue:
    """Validate one value against the gene's hard limits and return it with its canonical type.

    Integral floats are accepted for int genes (``2.0`` -> 2) and numeric strings such as
    ``"1e-4"`` (PyYAML reads exponents without a dot as strings) for float genes. Anything else
    outside the type or the limits raises :class:`AutorecError`; nothing is clamped.
    ``values`` (the other genes) enables the cross-gene limit ``height <= length - 1``.
    """
    name = spec.name
    got = shown(value)
    fix_range = f"use {spec.limits_text()}"
    if spec.type == "bool":
        if isinstance(value, bool):
            return value
        raise AutorecError(
            where, f"gene '{name}' must be true or false, got {got}", "write true or false"
        )
    if spec.type == "str":
        if isinstance(value, str) and value in spec.choices:
            return value
        hint = suggest(str(value), spec.choices) if isinstance(value, str) else ""
        raise AutorecError(
            where,
            f"gene '{name}' has unknown value {got}{hint}",
            f"use one of {', '.join(spec.choices)}",
        )
    number: float | int
    if isinstance(value, bool):
        raise AutorecError(where, f"gene '{name}' must be a number, got {got}", fix_range)
    if spec.type == "int":
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        else:
            raise AutorecError(where, f"gene '{name}' must be an integer, got {got}", fix_range)
    else:
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise AutorecError(
                    where, f"gene '{name}' must be a number, got {got}", fix_range
                ) from None
        else:
            raise AutorecError(where, f"gene '{name}' must be a number, got {got}", fix_range)
        if not math.isfinite(number):
            raise AutorecError(where, f"gene '{name}' must be finite, got {got}", fix_range)
    bad = False
    if spec.low is not None and (number < spec.low or (spec.low_open and number == spec.low)):
        bad = True
    if spec.high is not None and (number > spec.high or (spec.high_open and number == spec.high)):
        bad = True
    if bad:
        raise AutorecError(where, f"gene '{name}' = {got} is outside its hard limits", fix_range)
    _check_soft_limit(name, number, value, where)
    if name == "height" and values is not None and "length" in values:
        length = int(values["length"])
        if number > length - 1:
            raise AutorecError(
                where,
                f"gene 'height' = {number} must be at most length-1 = {length - 1}",
                f"use a height in [0, {length - 1}] or a larger length",
            )
    return number


#: Soft upper limits: far above any network that trains in reasonable memory, they catch a
#: typo (``units_1: 10**29``) before it reaches the code generator or the allocator. Set
#: ``AUTOREC_NO_SOFT_LIMITS=1`` to go beyond them on purpose.
SOFT_LIMITS: dict[str, int] = {
    **{f"units_{i}": 65_536 for i in range(1, 5)},
    "fnn_units": 65_536,
    "batch_size": 1 << 20,
    "negatives": 1 << 20,
}
SOFT_LIMITS_ENV = "AUTOREC_NO_SOFT_LIMITS"


def _check_soft_limit(name: str, number: float, value: object, where: str) -> None:
    limit = SOFT_LIMITS.get(name)
    if limit is None or number <= limit or os.environ.get(SOFT_LIMITS_ENV) == "1":
        return
    raise AutorecError(
        where,
        f"gene '{name}' = {shown(value)} is above its soft limit {limit:,}",
        f"use at most {limit:,}, or set {SOFT_LIMITS_ENV}=1 to allow it on purpose",
    )
