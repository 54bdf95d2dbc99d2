"""Network specs: the validated, frozen description a network's source is rendered from.

A spec holds only ints, finite floats, bools and strings from fixed allow-lists. Every field
is checked in ``__post_init__``, so nothing un-validated can reach the generated source: the
renderer writes numbers with ``repr()`` of validated ints/floats and picks code snippets
from tables keyed by allow-listed names (a name is never pasted into the source as code).

This package never imports ``autorec``; errors are :class:`SpecError` (a ``ValueError``),
which ``autorec.models`` turns into user-facing errors naming the gene.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import ClassVar

__all__ = [
    "ACTIVATIONS",
    "DECAY_MODES",
    "DRNN_LOSSES",
    "OUTPUTS",
    "PREDICTOR_LOSSES",
    "SPLIT_MODES",
    "DrnnSpec",
    "NetworkSpec",
    "PredictorSpec",
    "SpecError",
]

#: Hidden-layer activations a spec may name.
ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "leaky_relu")
#: DRNN output losses: softmax cross-entropy against the bought set, or per-item BCE.
DRNN_LOSSES = ("softmax", "bce")
#: Predictor input time decay: none, parametric Td (soft-split eq. 5), learnt bins (eq. 4).
DECAY_MODES = ("none", "parametric", "learnt")
#: Predictor cost: predictor (eq. 3), equally weighted or soft split (eq. 7-9).
SPLIT_MODES = ("predictor", "equal", "soft")
#: Predictor likelihood: per-item weighted BCE (eq. 3 / 7-9) or a multinomial one (softmax over
#: the products against the per-customer normalised targets; Mult-DAE, Liang et al. 2018).
PREDICTOR_LOSSES = ("bce", "softmax")
#: Output side in training: every item's logit, or the batch's positives plus sampled items.
OUTPUTS = ("full", "sampled")
#: Fields every spec ends with (how the network is trained and placed, not its structure);
#: :meth:`NetworkSpec.items` lists them only when they differ from these defaults.
EXECUTION_DEFAULTS: dict[str, object] = {
    "output": "full",
    "negatives": None,
    "devices": ("cpu",),
    "state_negatives": None,
}
#: Device names a spec may place layers on: ``cpu``, ``cuda``, ``cuda:N``, ``mps``, ``xpu:N``.
DEVICE_PATTERN = re.compile(r"(cpu|cuda|mps|xpu)(:[0-9]{1,3})?")
#: Later predictor fields, listed in the header only when they differ from these defaults (the
#: defaults are the behaviour before the fields existed, so earlier sources are unchanged).
OPTIONAL_DEFAULTS: dict[str, object] = {"loss": "bce", "input_dropout": 0.0, "input_norm": False}


class SpecError(ValueError):
    """A spec field holds a value the generator cannot accept (names the field and value)."""

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{field}={value!r}: expected {expected}")


def _int(name: str, value: object, *, low: int = 1, high: int | None = None) -> int:
    if type(value) is not int:  # bools and numpy ints are rejected: exact ints only
        raise SpecError(name, value, "an int")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise SpecError(name, value, f"an int {bound}")
    return value


def _float(
    name: str,
    value: object,
    *,
    low: float = 0.0,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    if isinstance(value, bool) or type(value) not in (int, float):
        raise SpecError(name, value, "a float")
    out = float(value)  # type: ignore[arg-type]
    if not math.isfinite(out):
        raise SpecError(name, value, "a finite float")
    bad_low = out <= low if low_open else out < low
    bad_high = high is not None and (out >= high if high_open else out > high)
    if bad_low or bad_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise SpecError(
            name, value, f"a float in {lo}{low}, {high if high is not None else 'inf'}{hi}"
        )
    return out


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    if type(value) is not str or value not in allowed:
        raise SpecError(name, value, f"one of {', '.join(allowed)}")
    return value


def _bool(name: str, value: object) -> bool:
    if type(value) is not bool:
        raise SpecError(name, value, "a bool")
    return value


def _units(name: str, value: object) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not value:
        raise SpecError(name, value, "a non-empty tuple of ints >= 1")
    return tuple(_int(f"{name}[{i}]", v) for i, v in enumerate(value))


class NetworkSpec:
    """Base of the family specs (``DrnnSpec``, ``PredictorSpec``)."""

    family: ClassVar[str]
    #: Fields left out of the header while they hold these values (added to a family
    #: after its first files were generated, so those files stay byte-identical).
    omitted_defaults: ClassVar[dict[str, object]] = {}

    output: str
    negatives: int | None
    devices: tuple[str, ...]

    @property
    def sharded(self) -> bool:
        """Whether the item layers are split over several devices."""
        return len(self.devices) > 1

    def items(self) -> list[tuple[str, object]]:
        """``(field, value)`` pairs in declaration order (the generated header lists them);
        the execution fields (``output``, ``negatives``, ``devices``) only where they differ
        from their defaults."""
        pairs = [(f.name, getattr(self, f.name)) for f in fields(self)]  # type: ignore[arg-type]
        omit = {**EXECUTION_DEFAULTS, **self.omitted_defaults}
        return [(name, value) for name, value in pairs if name not in omit or value != omit[name]]

    def _check_execution(self) -> None:
        """``output`` full (``negatives`` None) or sampled (``negatives`` >= 1 items drawn per
        batch); ``devices``: where ``Net`` puts its layers by default (``devices[0]`` the
        primary; the item layers split over all of them when there are several)."""
        _choice("output", self.output, OUTPUTS)
        if self.output == "full":
            if self.negatives is not None:
                raise SpecError("negatives", self.negatives, "None when output is full")
        else:
            _int("negatives", self.negatives)
        if not isinstance(self.devices, tuple) or not self.devices:
            raise SpecError("devices", self.devices, "a non-empty tuple of device names")
        for i, name in enumerate(self.devices):
            if type(name) is not str or DEVICE_PATTERN.fullmatch(name) is None:
                raise SpecError(f"devices[{i}]", name, "cpu, cuda, cuda:N, mps or xpu:N")


@dataclass(frozen=True)
class DrnnSpec(NetworkSpec):
    """A deep recurrent network (DRNN paper, Section III and Algorithm 1).

    ``units[i]`` is the width of hidden layer ``i+1`` (so ``length == len(units)``);
    ``height`` lowest hidden layers get a shortcut link to the output (loss) layer;
    ``fnn_layers``/``fnn_units`` are ``None`` when the FNN branch (Sec. III.D) is off.
    ``state_negatives``: with a full output, the states before the last are trained over the
    batch's targets plus this many sampled items (``None``: over every item); the last state
    and evaluation always score the whole catalogue.
    """

    family: ClassVar[str] = "drnn"

    width: int
    units: tuple[int, ...]
    height: int
    activation: str
    dropout: float
    loss: str
    l2: float
    fnn_layers: int | None
    fnn_units: int | None
    view_path: bool
    n_pages: int
    n_items: int
    n_users: int
    output: str = "full"
    negatives: int | None = None
    devices: tuple[str, ...] = ("cpu",)
    state_negatives: int | None = None

    def __post_init__(self) -> None:
        _int("width", self.width)
        _units("units", self.units)
        _int("height", self.height, low=0, high=len(self.units) - 1)
        _choice("activation", self.activation, ACTIVATIONS)
        object.__setattr__(
            self, "dropout", _float("dropout", self.dropout, high=1.0, high_open=True)
        )
        _choice("loss", self.loss, DRNN_LOSSES)
        object.__setattr__(self, "l2", _float("l2", self.l2))
        if (self.fnn_layers is None) != (self.fnn_units is None):
            raise SpecError("fnn_layers", self.fnn_layers, "None together with fnn_units")
        if self.fnn_layers is not None:
            _int("fnn_layers", self.fnn_layers)
            _int("fnn_units", self.fnn_units)
        _bool("view_path", self.view_path)
        _int("n_pages", self.n_pages)
        _int("n_items", self.n_items)
        _int("n_users", self.n_users, low=0)
        self._check_execution()
        if self.state_negatives is not None:
            if self.output != "full" or self.width == 1:
                raise SpecError(
                    "state_negatives",
                    self.state_negatives,
                    "None unless output is full and width > 1",
                )
            _int("state_negatives", self.state_negatives)

    @property
    def length(self) -> int:
        return len(self.units)

    @property
    def fnn(self) -> bool:
        return self.fnn_layers is not None


@dataclass(frozen=True)
class PredictorSpec(NetworkSpec):
    """A predictor / auto-encoder (soft-split paper, eq. 3-9).

    ``units[j]`` is the width of hidden layer ``j+1``. ``decay_mode``: input weights 1,
    ``Td(age, ti)`` (eq. 5) or a learnt weight per age bin (eq. 4). ``split_mode``:
    ``predictor`` (eq. 3 with ``w1``/``w0``), ``equal`` (eq. 7-9 with ``Td(., to) = 1``) or
    ``soft`` (eq. 7-9). Weights of the other modes are kept but unused by the renderer.
    ``loss``: ``bce`` (eq. 3 / 7-9) or ``softmax`` (multinomial likelihood, Mult-DAE; the
    negative weights are unused). ``input_dropout``: probability of dropping each input
    purchase in training (denoising auto-encoder input corruption, Mult-DAE). ``input_norm``:
    divide each customer's input weights by their L2 norm (Mult-DAE's normalised input).
    """

    family: ClassVar[str] = "predictor"
    omitted_defaults: ClassVar[dict[str, object]] = OPTIONAL_DEFAULTS

    units: tuple[int, ...]
    activation: str
    noise: float
    dropout: float
    decay_mode: str
    ti: float
    w1: float
    w0: float
    l2: float
    beta: float
    rho: float
    split_mode: str
    to: float
    wa1: float
    wa0: float
    wp1: float
    wp0: float
    n_items: int
    output: str = "full"
    negatives: int | None = None
    devices: tuple[str, ...] = ("cpu",)
    loss: str = "bce"
    input_dropout: float = 0.0
    input_norm: bool = False

    def __post_init__(self) -> None:
        _units("units", self.units)
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("loss", self.loss, PREDICTOR_LOSSES)
        _bool("input_norm", self.input_norm)
        object.__setattr__(
            self,
            "input_dropout",
            _float("input_dropout", self.input_dropout, high=1.0, high_open=True),
        )
        _choice("decay_mode", self.decay_mode, DECAY_MODES)
        _choice("split_mode", self.split_mode, SPLIT_MODES)
        set_ = object.__setattr__
        set_(self, "noise", _float("noise", self.noise))
        set_(self, "dropout", _float("dropout", self.dropout, high=1.0, high_open=True))
        set_(self, "ti", _float("ti", self.ti, low_open=True))
        set_(self, "to", _float("to", self.to, low_open=True))
        set_(self, "rho", _float("rho", self.rho, high=1.0, low_open=True, high_open=True))
        for name in ("w1", "w0", "l2", "beta", "wa1", "wa0", "wp1", "wp0"):
            set_(self, name, _float(name, getattr(self, name)))
        _int("n_items", self.n_items)
        self._check_execution()

    @property
    def layers(self) -> int:
        return len(self.units)
