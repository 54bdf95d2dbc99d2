"""Model-parallel sharding and per-trial resource planning
(docs/design.md#model-parallel-sharding, docs/design.md#resource-planner).

* :func:`estimate_memory` / :class:`MemoryEstimate` -- parameter, gradient, optimiser-state
  and activation bytes of a genome's network for a catalogue size and batch (each family's
  share comes from its :meth:`Family.memory_terms`, written with :func:`gene`, :func:`dim`,
  :func:`layer_units`, :func:`bag_index_bytes` and the byte constants);
* :func:`plan_resources` / :class:`Plan` / :class:`Cluster` -- CPU only (a fraction of a CPU
  for tiny trials), a fraction of a GPU, one GPU or ``k`` GPUs with the item layers sharded;
  :func:`resources_for` / :func:`make_resources_fn` give Tune the plain resource dict;
* the sharded layers themselves live in ``codegen/runtime.py`` (torch only, imported by
  generated model files and shipped in bundles); :func:`gathered_state_dict` /
  :func:`split_state_dict` convert between a sharded network's state and the unsharded
  names and shapes (export uses the gather), :func:`gather_logits` / :func:`sharded_topk`
  read sharded logits;
  :func:`build_sharded_model` is an alias of ``autorec.models.build_model(..., devices=...)``,
  whose generated network shards by itself.

No Ray import here: the tune layer converts the plain dicts.
"""

from autorec.sharding._build import build_sharded_model
from autorec.sharding._memory import (
    FLOAT_BYTES,
    LOSS_ENTRY_BYTES,
    STATE_SAMPLING_FACTOR,
    TARGETS_PER_ROW,
    MemoryEstimate,
    bag_index_bytes,
    dim,
    estimate_memory,
    gene,
    layer_units,
)
from autorec.sharding._plan import (
    GIB,
    Cluster,
    Plan,
    make_resources_fn,
    plan_resources,
    resources_for,
)
from codegen.runtime import (
    ShardedEmbeddingBag,
    ShardedLinear,
    ShardedLogits,
    gather_logits,
    gathered_state_dict,
    item_sharded_children,
    shard_starts,
    sharded_topk,
    split_state_dict,
)

__all__ = [
    "FLOAT_BYTES",
    "GIB",
    "LOSS_ENTRY_BYTES",
    "STATE_SAMPLING_FACTOR",
    "TARGETS_PER_ROW",
    "Cluster",
    "MemoryEstimate",
    "Plan",
    "ShardedEmbeddingBag",
    "ShardedLinear",
    "ShardedLogits",
    "bag_index_bytes",
    "build_sharded_model",
    "dim",
    "estimate_memory",
    "gather_logits",
    "gathered_state_dict",
    "gene",
    "is_sharded",
    "item_sharded_children",
    "layer_units",
    "make_resources_fn",
    "plan_resources",
    "resources_for",
    "shard_starts",
    "sharded_topk",
    "split_state_dict",
]


def is_sharded(model: object) -> bool:
    """Whether ``model`` (any ``nn.Module``) holds a sharded item layer."""
    import torch

    return isinstance(model, torch.nn.Module) and bool(item_sharded_children(model))
