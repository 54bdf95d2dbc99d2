"""Code generator: network spec -> readable Python source of a torch module -> imported module.

This is the only way a network is built: ``autorec.models.build_model`` renders a spec, writes
the file atomically, imports it and instantiates ``Net``; export copies the same file. The
generated source imports only torch. This package never imports ``autorec``.
"""

from codegen._io import load_module, render, write_source
from codegen.spec import (
    ACTIVATIONS,
    DECAY_MODES,
    DRNN_LOSSES,
    OUTPUTS,
    SPLIT_MODES,
    DrnnSpec,
    NetworkSpec,
    PredictorSpec,
    SpecError,
)

__all__ = [
    "ACTIVATIONS",
    "DECAY_MODES",
    "DRNN_LOSSES",
    "OUTPUTS",
    "SPLIT_MODES",
    "DrnnSpec",
    "NetworkSpec",
    "PredictorSpec",
    "SpecError",
    "load_module",
    "render",
    "write_source",
]
