"""The ``autorec`` command line (typer), one module per command."""
