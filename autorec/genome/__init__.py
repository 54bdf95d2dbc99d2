"""Genomes (chromosomes), the gene schema, search spaces and the GA operators.

See :mod:`autorec.genome._schema` (gene names, hard limits, activity rules),
:mod:`autorec.genome._genome` (the frozen :class:`Genome`, its canonical key, YAML files) and
:mod:`autorec.genome._space` (the search-space YAML format and sample / mutate / crossover /
repair).
"""

from autorec.genome._genome import Genome, canonical_value, load_genome, round_sig
from autorec.genome._schema import (
    ACTIVATIONS,
    FAMILIES,
    MAX_LAYERS,
    SCHEMAS,
    Family,
    GeneSchema,
    GeneValue,
    active_genes,
    depth_gene,
    layer_index,
    suggest,
)
from autorec.genome._space import BUILTIN_SPACES, KINDS, Gene, Kind, Mutation, SearchSpace

__all__ = [
    "ACTIVATIONS",
    "BUILTIN_SPACES",
    "FAMILIES",
    "KINDS",
    "MAX_LAYERS",
    "SCHEMAS",
    "Family",
    "Gene",
    "GeneSchema",
    "GeneValue",
    "Genome",
    "Kind",
    "Mutation",
    "SearchSpace",
    "active_genes",
    "canonical_value",
    "depth_gene",
    "layer_index",
    "load_genome",
    "round_sig",
    "suggest",
]
