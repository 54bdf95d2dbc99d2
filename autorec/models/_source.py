"""Writing and importing the generated source of a spec of one's own (``autorec codegen
--out``, benchmarks, tests); :func:`autorec.models.build_model` does both for a genome."""

from __future__ import annotations

import types
from pathlib import Path

import codegen
from autorec._io import atomic_write_text, import_generated

__all__ = ["load_module", "write_source"]


def write_source(spec: codegen.NetworkSpec, path: str | Path) -> Path:
    """Render ``spec`` into ``path`` atomically (a temporary file in the same folder, then
    ``os.replace``), so concurrent writers and readers never see a half-written file."""
    return atomic_write_text(path, codegen.render(spec))


def load_module(source_path: str | Path) -> types.ModuleType:
    """Import a generated file as a module of the ``codegen`` package (its relative import of
    the runtime is :mod:`codegen.runtime`), from the bytes read once: named by the file's
    stem and content hash, so re-loading an unchanged file returns the same module."""
    return import_generated(source_path)
