"""The ``autorec`` command line (typer), one module per command."""

import os as _os

# Before torch is imported: idle OpenMP threads sleep instead of spinning (thread policy,
# autorec/train/_threads.py); a value already in the environment wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
