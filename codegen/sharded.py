"""Former home of the sharded item layers: now :mod:`codegen.runtime` (re-exported here)."""

from codegen.runtime import *  # noqa: F403
from codegen.runtime import __all__ as __all__
