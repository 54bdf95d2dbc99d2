"""Training-memory estimate of a genome's network (docs/design.md#resource-planner).

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


def dim(dims: Any, name: str, default: int | None = None) -> int:
    """Size ``name`` of ``dims`` (an object or a mapping); ``default`` when absent."""
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


def layer_units(genes: Mapping[str, Any], depth_gene: str) -> list[int]:
    """Units of each hidden layer up to the depth ``genes[depth_gene]``."""
    depth = int(gene(genes, depth_gene))
    return [int(gene(genes, f"units_{i}")) for i in range(1, depth + 1)]


def bag_index_bytes(n_indices: int, n_bags: int) -> int:
    """Index tensors ``embedding_bag`` saves: indices, offset-to-bag map, bag sizes, offsets."""
    return INDEX_BYTES * (2 * n_indices + 2 * n_bags)


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
    from autorec.families import get_family

    terms = get_family(family).memory_terms(genes, dims, batch, mean_bag)
    item, other, saved, transient, item_act = terms
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
