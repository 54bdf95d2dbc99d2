"""Genome -> network spec -> generated source file -> ``Net`` instance.

``build_model`` is the only way the project builds a network: it renders the genome's spec
(:func:`codegen.render`), writes ``<cache>/<genome.key>.py`` atomically, imports the bytes it
just rendered (from memory, never by reading the file back) and instantiates its ``Net``.
Trials therefore run exactly the source that ``autorec codegen`` prints and that export copies.

The cache is private to the user (mode 0700, owned by them, not a symlink): the file there is
for reading and tracebacks only, so nobody who can write to it can change what runs.
"""

from __future__ import annotations

import itertools
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

import codegen
from autorec._io import atomic_write_bytes, import_generated
from autorec.errors import AutorecError

if TYPE_CHECKING:
    from autorec.genome import Genome

__all__ = [
    "Dims",
    "build_model",
    "default_cache_dir",
    "drnn_param_count",
    "drnn_spec",
    "n_params",
    "param_count",
    "predictor_param_count",
    "predictor_spec",
    "spec_for",
]

#: Genes each family's spec reads (training genes such as optimizer are the trainer's).
DRNN_GENES = (
    "width", "length", "height", "units_1", "units_2", "units_3", "units_4", "fnn",
    "fnn_layers", "fnn_units", "view_path", "activation", "loss", "dropout", "l2", "output",
    "negatives",
)  # fmt: skip
PREDICTOR_GENES = (
    "layers", "units_1", "units_2", "units_3", "units_4", "decay_mode", "ti", "activation",
    "noise", "dropout", "w1", "w0", "l2", "beta", "rho", "split_mode", "to", "wa1", "wa0",
    "wp1", "wp0", "output", "negatives", "loss", "input_dropout", "input_norm",
)  # fmt: skip


@dataclass(frozen=True)
class Dims:
    """Sizes of the data a network is built for (``n_pages`` is unused by the predictor)."""

    n_pages: int
    n_items: int
    n_users: int = 0


def default_cache_dir() -> Path:
    """``$AUTOREC_CODEGEN_CACHE`` or ``<tmp>/autorec-codegen-<uid>``: where generated files
    live (one private folder per user, see :func:`private_cache_dir`)."""
    env = os.environ.get("AUTOREC_CODEGEN_CACHE")
    if env:
        return Path(env)
    return Path(tempfile.gettempdir()) / f"autorec-codegen-{os.geteuid()}"


def private_cache_dir(root: Path, *, tighten: bool) -> Path:
    """Create ``root`` (mode 0700) or check it: a real folder owned by this user that no one
    else can write. ``tighten`` (the default cache) sets a looser mode of one's own folder to
    0700; a folder the user named is refused instead of changed."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    where = f"codegen cache {root}"
    fix = "remove it, or set AUTOREC_CODEGEN_CACHE to a folder of your own (mode 0700)"
    st = os.lstat(root)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise AutorecError(where, "is a symlink or not a folder", fix)
    if st.st_uid != os.geteuid():
        raise AutorecError(where, f"is owned by uid {st.st_uid}, not by you", fix)
    loose = st.st_mode & (0o077 if tighten else 0o022)
    if loose and tighten:
        os.chmod(root, 0o700)
    elif loose:
        raise AutorecError(where, f"is writable by others (mode {st.st_mode & 0o777:o})", fix)
    return root


def _genes(genome: Genome, names: tuple[str, ...]) -> dict[str, Any]:
    """The genes ``names`` with inactive ones replaced by their schema default.

    The genome's key ignores inactive genes (e.g. ``ti`` without parametric decay), so two
    genomes with one key must render the same file: inactive genes are normalised here.
    """
    from autorec.genome import SCHEMAS

    schema = SCHEMAS[genome.family]
    active = genome.active
    out: dict[str, Any] = {}
    for name in names:
        if name not in schema:
            raise AutorecError("genome", f"schema has no gene '{name}'", "update autorec.models")
        out[name] = genome.genes[name] if name in active else schema[name].default
    return out


#: A full-output DRNN trains the states before the last over sampled items (the gene
#: ``negatives`` of them plus the batch's targets) once the catalogue holds at least this many
#: times as many items: there the per-state full logits dominate a step (``width`` x the cost of
#: one output layer) while the last state -- the prediction -- stays exact (docs/drnn-training.md).
STATE_SAMPLING_FACTOR = 8


def _execution(g: dict[str, Any], devices: tuple[str, ...]) -> dict[str, Any]:
    """The spec's execution fields: output side, sampled negatives, devices."""
    sampled = g["output"] == "sampled"
    return {
        "output": str(g["output"]),
        "negatives": int(g["negatives"]) if sampled else None,
        "devices": tuple(str(d) for d in devices),
    }


def _state_negatives(g: dict[str, Any], n_items: int) -> int | None:
    """Items sampled for the DRNN's earlier states (see :data:`STATE_SAMPLING_FACTOR`)."""
    negatives = int(g["negatives"])
    full = g["output"] == "full" and int(g["width"]) > 1
    return negatives if full and n_items >= STATE_SAMPLING_FACTOR * negatives else None


def spec_for(
    genome: Genome, dims: Dims, *, devices: tuple[str, ...] = ("cpu",)
) -> codegen.NetworkSpec:
    """The network spec of ``genome`` for data of size ``dims``.

    DRNN: ``units = (units_1..units_length)``, FNN sizes ``None`` when ``fnn`` is off; with a
    full output, ``state_negatives`` (:data:`STATE_SAMPLING_FACTOR`). Predictor:
    ``units = (units_1..units_layers)``. Both: ``output`` (full or sampled, with ``negatives``
    items drawn per training batch; ``None`` when full) and ``devices`` (the file's default
    placement: the item layers split over them when there are several). A value the generator
    refuses raises :class:`AutorecError` naming the gene.
    """
    from autorec.families import get_family

    family = get_family(genome.family)
    try:
        spec: codegen.NetworkSpec = family.spec(genome, dims, tuple(devices))
        return spec
    except codegen.SpecError as err:
        field = "length/units" if err.field.startswith("units") else err.field
        raise AutorecError(
            f"genome {genome.key} ({genome.family})",
            f"cannot build a network from {err.field}={err.value!r}",
            f"give {field} {err.expected}",
        ) from None


def drnn_spec(genome: Genome, dims: Dims, devices: tuple[str, ...]) -> codegen.DrnnSpec:
    """The DRNN spec of ``genome`` (:func:`spec_for`; a refused value raises
    ``codegen.SpecError``)."""
    g = _genes(genome, DRNN_GENES)
    return codegen.DrnnSpec(
        width=int(g["width"]),
        units=tuple(int(g[f"units_{i}"]) for i in range(1, int(g["length"]) + 1)),
        height=int(g["height"]),
        activation=str(g["activation"]),
        dropout=float(g["dropout"]),
        loss=str(g["loss"]),
        l2=float(g["l2"]),
        fnn_layers=int(g["fnn_layers"]) if g["fnn"] else None,
        fnn_units=int(g["fnn_units"]) if g["fnn"] else None,
        view_path=bool(g["view_path"]),
        n_pages=int(dims.n_pages),
        n_items=int(dims.n_items),
        n_users=int(dims.n_users),
        **_execution(g, devices),
        state_negatives=_state_negatives(g, int(dims.n_items)),
    )


def predictor_spec(genome: Genome, dims: Dims, devices: tuple[str, ...]) -> codegen.PredictorSpec:
    """The predictor spec of ``genome`` (:func:`spec_for`; a refused value raises
    ``codegen.SpecError``)."""
    g = _genes(genome, PREDICTOR_GENES)
    return codegen.PredictorSpec(
        units=tuple(int(g[f"units_{i}"]) for i in range(1, int(g["layers"]) + 1)),
        activation=str(g["activation"]),
        noise=float(g["noise"]),
        dropout=float(g["dropout"]),
        decay_mode=str(g["decay_mode"]),
        ti=float(g["ti"]),
        w1=float(g["w1"]),
        w0=float(g["w0"]),
        l2=float(g["l2"]),
        beta=float(g["beta"]),
        rho=float(g["rho"]),
        split_mode=str(g["split_mode"]),
        to=float(g["to"]),
        wa1=float(g["wa1"]),
        wa0=float(g["wa0"]),
        wp1=float(g["wp1"]),
        wp0=float(g["wp0"]),
        n_items=int(dims.n_items),
        **_execution(g, devices),
        loss=str(g["loss"]),
        input_dropout=float(g["input_dropout"]),
        input_norm=bool(g["input_norm"]),
    )


def build_model(
    genome: Genome,
    dims: Dims,
    *,
    devices: tuple[str, ...] = ("cpu",),
    cache_dir: str | Path | None = None,
) -> torch.nn.Module:
    """Render the genome's network, write ``<cache_dir>/<genome.key>.py`` atomically, import it
    and return ``Net(devices=devices)`` (parameters initialised from torch's global RNG: seed it
    with ``torch.manual_seed`` first). ``model.source_path`` is the generated file.

    With ``k = len(devices) > 1`` the runtime's item layers (``codegen/runtime.py``) split the
    item input tables row-wise and the output layers column-wise over the devices
    (``devices[0]`` primary), the forward pass returns ``ShardedLogits`` and the losses combine
    the shards; the file differs from the one-device file only in its ``DEVICES`` line.
    Initialisation builds each item layer whole on the CPU and then splits it, so one seed
    gives the same numbers for every ``k``.

    The key does not include ``dims``, so the file is ``<key>_p<n_pages>_i<n_items>_u<n_users>.py``
    (one file per source), with ``_k<k>`` appended when sharded. The module is made from the
    rendered bytes in memory; the file is rewritten each time so that it shows what ran.
    """
    devices = tuple(devices)
    if not devices:
        raise AutorecError("devices", "no device given", "pass e.g. devices=('cpu',)")
    k = len(devices)
    spec = spec_for(genome, dims, devices=devices)
    named = cache_dir is not None or bool(os.environ.get("AUTOREC_CODEGEN_CACHE"))
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    private_cache_dir(root, tighten=not named)
    tag = f"{genome.key}_p{dims.n_pages}_i{dims.n_items}_u{dims.n_users}"
    if k > 1:
        tag += f"_k{k}"
    path = root / f"{tag}.py"
    data = codegen.render(spec).encode("utf-8")
    atomic_write_bytes(path, data, private=True)
    # the rendered bytes, not the file: nobody who can write the cache changes what runs
    module = import_generated(path, data)
    model: torch.nn.Module = module.Net(devices=devices)
    model.source_path = str(path)  # type: ignore[assignment]
    return model


def n_params(model: torch.nn.Module) -> int:
    """Number of scalar parameters of ``model`` (shared weights counted once)."""
    return sum(p.numel() for p in model.parameters())


def drnn_param_count(spec: codegen.DrnnSpec) -> int:
    """Parameters of a generated DRNN, by formula (N = n_items, u_i = units):

    page table (n_pages + 1) u_1 + dwell gain u_1 + bias u_1; per layer i: recurrent W_i
    u_i^2, and for i > 1 Z_i u_{i-1} u_i + b_i u_i; output u_l N + N; shortcuts sum_{i<=h} u_i N;
    FNN N f + f + (L_f - 1)(f^2 + f) + f N; view path N + 1.
    """
    u, n = spec.units, spec.n_items
    total = (spec.n_pages + 1) * u[0] + 2 * u[0]
    total += sum(x * x for x in u)
    total += sum(a * b + b for a, b in itertools.pairwise(u))
    total += u[-1] * n + n
    total += sum(u[: spec.height]) * n
    if spec.fnn_layers is not None and spec.fnn_units is not None:
        f = spec.fnn_units
        total += n * f + f + (spec.fnn_layers - 1) * (f * f + f) + f * n
    if spec.view_path:
        total += n + 1
    return total


def predictor_param_count(spec: codegen.PredictorSpec) -> int:
    """Parameters of a generated predictor, by formula (P = n_items, u_j = units):

    input table P u_1 + bias u_1; hidden u_{j-1} u_j + u_j; output u_L P + P; learnt decay 32 + 1.
    """
    u, p = spec.units, spec.n_items
    total = p * u[0] + u[0]
    total += sum(a * b + b for a, b in itertools.pairwise(u))
    total += u[-1] * p + p
    if spec.decay_mode == "learnt":
        total += 32 + 1
    return total


def param_count(spec: codegen.NetworkSpec) -> int:
    """Parameter count of the network ``spec`` renders (either family)."""
    if isinstance(spec, codegen.DrnnSpec):
        return drnn_param_count(spec)
    if isinstance(spec, codegen.PredictorSpec):
        return predictor_param_count(spec)
    raise TypeError(type(spec).__name__)
