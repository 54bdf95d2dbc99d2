"""Code generator: network spec -> readable Python source of a torch module -> imported module.

This is the only way a network is built: ``autorec.models.build_model`` renders a spec, writes
the file atomically, imports it and instantiates ``Net`` (``autorec.models.write_source`` and
``load_module`` write and import the file of a spec of one's own); export copies the same file
next to a copy of :mod:`codegen.runtime`. The generated source imports only torch and that runtime
(``from . import runtime as rt``). This package never imports ``autorec``.
"""

from codegen._render import RUNTIME_PATH, render
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
    "RUNTIME_PATH",
    "SPLIT_MODES",
    "DrnnSpec",
    "NetworkSpec",
    "PredictorSpec",
    "SpecError",
    "render",
]
