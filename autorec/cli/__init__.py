"""The ``autorec`` command line (typer), one module per command."""

from autorec._env import set_torch_env

# Before torch is imported: huge pages for torch's large blocks (autorec/_env.py); a value
# already in the environment wins.
set_torch_env()
