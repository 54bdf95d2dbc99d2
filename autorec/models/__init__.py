"""Genome -> network: specs for the code generator, ``build_model``, and batch builders.

``build_model(genome, dims)`` renders the genome's network with :mod:`codegen`, writes the
source file atomically, imports it and returns its ``Net``; :mod:`autorec.models.batches`
turns the data contract's arrays into the batch dicts the generated networks read.
"""

from autorec.models import batches
from autorec.models._build import (
    Dims,
    build_model,
    default_cache_dir,
    drnn_param_count,
    drnn_spec,
    n_params,
    param_count,
    predictor_param_count,
    predictor_spec,
    spec_for,
)
from autorec.models._source import load_module, write_source
from autorec.models.batches import purchase_batch, session_batch, user_histories

__all__ = [
    "Dims",
    "batches",
    "build_model",
    "default_cache_dir",
    "drnn_param_count",
    "drnn_spec",
    "load_module",
    "n_params",
    "param_count",
    "predictor_param_count",
    "predictor_spec",
    "purchase_batch",
    "session_batch",
    "spec_for",
    "user_histories",
    "write_source",
]
