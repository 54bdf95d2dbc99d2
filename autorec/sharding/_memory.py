"""Training-memory estimate of a genome's network (DESIGN "The tuner": the planner).

The estimate follows the structure the code generator emits (``codegen/_drnn.py``,
``codegen/_predictor.py``), counted in float32 bytes:

* **parameters** -- exact counts of every table, matrix and bias of the generated ``Net``;
* **gradients** -- one dense copy of the parameters (the item tables get dense gradients);
* **optimiser state** -- Adam keeps two moments (2x), SGD / Nesterov with momentum one
  velocity (1x), plain SGD (momentum 0) nothing;
* **activations** -- what one training step keeps alive for the backward pass, in two parts:
  ``saved`` (tensors autograd saves: hidden activations ``batch x units`` per state and
  layer, the integer index tensors of the sparse inputs, and the item-sized tensors of the
  output and loss, ``[B, states, n_items]`` for the DRNN, whose loss covers every state of the
  shortened-path sample) and ``transient`` (not saved, but alive at the peak: the logits
  themselves and their gradient, ``2 x [B, states, n_items]``, plus the dense target
  matrices of the loss).

Item-sized parts (the tables and output layers over the catalogue and their activations,
the DRNN's page table too, since ``make_item_input`` builds it) are reported separately as
``item_bytes``: model-parallel sharding splits exactly these over ``k`` devices, the rest
stays on the primary device.

Where the paper leaves a choice, the reading of the generated code is used: the DRNN output
layer is shared by every state and scores ``width`` states (DRNN paper Sec. III.E), the FNN
branch has an item input table and its own item output layer (Sec. III.D), the predictor's
first layer is an item table ``n_items x units_1`` and its last an output layer over the
catalogue (soft-split paper eq. 3).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autorec.errors import AutorecError

#: Mirrors autorec.models.STATE_SAMPLING_FACTOR (not imported: no torch here).
STATE_SAMPLING_FACTOR = 8
#: Bytes the runtime's bag losses keep per listed (row, item) target entry (measured), and
#: the mean number of target items a row is assumed to list.
LOSS_ENTRY_BYTES = 40
TARGETS_PER_ROW = 2

__all__ = ["FLOAT_BYTES", "INDEX_BYTES", "MemoryEstimate", "estimate_memory", "gene"]

FLOAT_BYTES = 4
INDEX_BYTES = 8
#: Mean number of entries per sparse bag assumed for the index tensors (history pages,
#: purchase histories, viewed items): they are small next to the float activations.
DEFAULT_BAG = 16


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes one training step of a genome needs (see the module docstring).

    ``item_bytes`` is the part that sharding splits across devices (item-sized parameters,
    their gradients and optimiser state, item-sized activations); everything else is
    ``other_bytes`` and stays on the primary device.
    """

    family: str
    n_params: int
    n_item_params: int
    params: int
    grads: int
    optimizer: int
    activations_saved: int
    activations_transient: int
    item_bytes: int
    batch_size: int

    @property
    def activations(self) -> int:
        return self.activations_saved + self.activations_transient

    @property
    def total(self) -> int:
        return self.params + self.grads + self.optimizer + self.activations

    @property
    def other_bytes(self) -> int:
        return self.total - self.item_bytes

    def per_device(self, k: int) -> int:
        """Bytes on the busiest device (the primary) when sharded over ``k`` devices."""
        return self.other_bytes + -(-self.item_bytes // k)

    def as_dict(self) -> dict[str, int | str]:
        return {
            "family": self.family,
            "n_params": self.n_params,
            "n_item_params": self.n_item_params,
            "params": self.params,
            "grads": self.grads,
            "optimizer": self.optimizer,
            "activations_saved": self.activations_saved,
            "activations_transient": self.activations_transient,
            "activations": self.activations,
            "item_bytes": self.item_bytes,
            "total": self.total,
            "batch_size": self.batch_size,
        }


def _genes(genome: Any) -> tuple[str, Mapping[str, Any]]:
    """``(family, genes)`` of a :class:`autorec.genome.Genome`, a ``{"family":..,
    "genes": {..}}`` mapping or a flat ``{"family": .., gene: value}`` mapping."""
    if hasattr(genome, "family") and hasattr(genome, "genes"):
        return str(genome.family), genome.genes
    if isinstance(genome, Mapping) and "family" in genome:
        inner = genome.get("genes")
        return str(genome["family"]), inner if isinstance(inner, Mapping) else genome
    raise AutorecError(
        "genome",
        f"cannot read a family and genes from {type(genome).__name__}",
        "pass an autorec.genome.Genome or a mapping with 'family' and the genes",
    )


def gene(genes: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """A gene's value; ``default`` when absent (``None`` default: the gene is required)."""
    if name in genes:
        return genes[name]
    if default is None:
        raise AutorecError("genome", f"gene '{name}' is missing", f"add {name} to the genome")
    return default


def _dim(dims: Any, name: str, default: int | None = None) -> int:
    value = dims.get(name) if isinstance(dims, Mapping) else getattr(dims, name, None)
    if value is None:
        if default is None:
            raise AutorecError("dims", f"no {name} given", f"pass dims with {name}")
        return default
    return int(value)


def _optimizer_copies(genes: Mapping[str, Any]) -> int:
    opt = str(gene(genes, "optimizer", "sgd"))
    if opt == "adam":
        return 2
    return 1 if float(gene(genes, "momentum", 0.0)) > 0.0 or opt == "nesterov" else 0


def _units(genes: Mapping[str, Any], depth_gene: str) -> list[int]:
    depth = int(gene(genes, depth_gene))
    return [int(gene(genes, f"units_{i}")) for i in range(1, depth + 1)]


def _bag_index_bytes(n_indices: int, n_bags: int) -> int:
    """Index tensors ``embedding_bag`` saves: indices, offset-to-bag map, bag sizes, offsets."""
    return INDEX_BYTES * (2 * n_indices + 2 * n_bags)


def _drnn(genes: Mapping[str, Any], dims: Any, batch: int, bag: int) -> tuple[int, ...]:
    n_items, n_pages = _dim(dims, "n_items"), _dim(dims, "n_pages")
    w = int(gene(genes, "width"))
    units = _units(genes, "length")
    h = int(gene(genes, "height", 0))
    fnn = bool(gene(genes, "fnn", False))
    f_layers, f_units = int(gene(genes, "fnn_layers", 1)), int(gene(genes, "fnn_units", 1))
    dropout = float(gene(genes, "dropout", 0.0)) > 0.0
    # parameters (codegen/_drnn.py): page table, dwell gain, bias, recurrences, layer links
    item = (n_pages + 1) * units[0]  # make_item_input builds the page table: sharded too
    other = 2 * units[0] + units[0] * units[0]
    for below, u in itertools.pairwise(units):
        other += below * u + u + u * u
    heads = units[-1] + sum(units[:h])  # top (with bias) and shortcut heads (no bias)
    item += heads * n_items + n_items
    if fnn:
        item += n_items * f_units + f_units * n_items  # item input table, item output layer
        other += f_units + (f_layers - 1) * (f_units * f_units + f_units)
    if bool(gene(genes, "view_path", False)):
        other += n_items + 1
    # activations saved for backward
    states = w + 1  # the window plus the history state
    # per layer and state: the activation and the previous state, plus the layer's states
    # stacked into one tensor (the next layer's and the heads' input, read as views)
    hidden = states * sum(3 * u for u in units)
    if dropout:
        hidden += states * sum(units) + w * heads  # dropout outputs (masks are 1 byte: below)
    saved = FLOAT_BYTES * batch * hidden + batch * (states * sum(units) if dropout else 0)
    saved += _bag_index_bytes(batch * w, batch * w) + _bag_index_bytes(batch * bag, batch)
    if fnn:  # run for the last state and again for the earlier ones (their own columns)
        calls = 2 if w > 1 else 1
        saved += calls * FLOAT_BYTES * batch * f_units * (2 * f_layers + 1)
        saved += calls * _bag_index_bytes(batch * bag, batch)
    # item-sized: the runtime's loss saves one tensor per scored state and item (the exp of
    # the softmax's log-sum-exp / the BCE's softplus input); the logits and their gradient are
    # alive besides. Scored: every item at every state, or -- a sampled output, or the earlier
    # states of a big catalogue (autorec.models.STATE_SAMPLING_FACTOR) -- the candidates only
    # (about batch + negatives items).
    negatives = int(gene(genes, "negatives", 128))
    cand = min(n_items, batch + negatives)
    if str(gene(genes, "output", "full")) == "sampled":
        cells = w * cand
    elif w > 1 and n_items >= STATE_SAMPLING_FACTOR * negatives:
        cells = n_items + (w - 1) * cand
    else:
        cells = w * n_items
    item_saved = FLOAT_BYTES * batch * cells
    transient = 2 * item_saved
    return item, other, saved + item_saved, transient, item_saved + transient


def _predictor(genes: Mapping[str, Any], dims: Any, batch: int, bag: int) -> tuple[int, ...]:
    n_items = _dim(dims, "n_items")
    units = _units(genes, "layers")
    dropout = float(gene(genes, "dropout", 0.0)) > 0.0
    item = n_items * units[0] + units[-1] * n_items + n_items  # input table, output layer
    other = units[0] + sum(a * b + b for a, b in itertools.pairwise(units))
    if gene(genes, "decay_mode", "none") == "learnt":
        other += 33  # one weight per age bin plus a bias (eq. 4)
    hidden = sum(units) * (2 if dropout else 1)
    saved = FLOAT_BYTES * batch * hidden + (batch * sum(units) if dropout else 0)
    saved += _bag_index_bytes(batch * bag, batch) + FLOAT_BYTES * batch * bag
    # item-sized loss tensors (codegen/runtime.py): each softmax term saves the exp of its
    # log-sum-exp, the BCE's negative terms the softplus input -- one [B, N] plane each (the
    # candidates only with a sampled output); the logits and their gradient are alive besides.
    split = str(gene(genes, "split_mode", "predictor"))
    if str(gene(genes, "loss", "bce")) == "softmax":
        planes = 1 if split == "predictor" else 1 + int(float(gene(genes, "wa1", 1.0)) > 0)
    elif split == "predictor":
        planes = int(float(gene(genes, "w0", 1.0)) > 0)
    else:
        planes = int(float(gene(genes, "wa0", 1.0)) > 0 or float(gene(genes, "wp0", 0.0)) > 0)
    cols = n_items
    if str(gene(genes, "output", "full")) == "sampled":
        cols = min(n_items, batch * 2 + int(gene(genes, "negatives", 128)))
    plane = FLOAT_BYTES * batch * cols
    # the sparse terms: per listed (row, item) entry of each target list, its logit, weights
    # and indices (LOSS_ENTRY_BYTES); X lists hold ~mean_bag entries a row, Y ~TARGETS_PER_ROW
    x_lists, y_lists = (0, 2) if split == "predictor" else (2, 3)
    entries = batch * (x_lists * bag + y_lists * TARGETS_PER_ROW)
    item_saved = planes * plane + LOSS_ENTRY_BYTES * entries
    transient = 2 * plane  # logits and their gradient
    return item, other, saved + item_saved, transient, item_saved + transient


def estimate_memory(
    genome: Any,
    dims: Any,
    *,
    batch_size: int | None = None,
    mean_bag: int = DEFAULT_BAG,
) -> MemoryEstimate:
    """Estimate the training memory of ``genome`` on a catalogue ``dims`` (an object or
    mapping with ``n_items`` and, for the DRNN, ``n_pages``).

    ``batch_size`` defaults to the genome's ``batch_size`` gene; ``mean_bag`` is the mean
    length of the sparse input lists.
    """
    family, genes = _genes(genome)
    batch = int(batch_size if batch_size is not None else gene(genes, "batch_size"))
    if family == "drnn":
        item, other, saved, transient, item_act = _drnn(genes, dims, batch, mean_bag)
    elif family == "predictor":
        item, other, saved, transient, item_act = _predictor(genes, dims, batch, mean_bag)
    else:
        raise AutorecError("genome", f"unknown family {family!r}", "use drnn or predictor")
    n_params = item + other
    opt = _optimizer_copies(genes)
    params = FLOAT_BYTES * n_params
    return MemoryEstimate(
        family=family,
        n_params=n_params,
        n_item_params=item,
        params=params,
        grads=params,
        optimizer=opt * params,
        activations_saved=saved,
        activations_transient=transient,
        item_bytes=FLOAT_BYTES * item * (2 + opt) + item_act,
        batch_size=batch,
    )
