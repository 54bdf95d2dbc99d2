"""Import Python source from bytes already in memory, never from a file read a second time.

A file that is written (or hash-checked) and then imported by path can be swapped in between,
and a ``__pycache__`` entry beside it can be run instead of the source. Both loaders here
compile exactly the bytes they are given, write no bytecode and read none.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import types

__all__ = ["import_bytes"]


class _BytesLoader(importlib.abc.SourceLoader):
    """A source loader whose only source is ``data``; ``path`` names it in tracebacks."""

    def __init__(self, path: str, data: bytes) -> None:
        self._path = path
        self._data = data

    def get_filename(self, fullname: str) -> str:
        return self._path

    def get_data(self, path: str) -> bytes:
        if path != self._path:  # e.g. a cached .pyc: never read one
            raise OSError(f"no data for {path}")
        return self._data


def import_bytes(name: str, path: str, data: bytes, *, register: bool = True) -> types.ModuleType:
    """Execute ``data`` as the module ``name`` (``__file__ = path``) and return it.

    ``register`` keeps it in ``sys.modules`` so its classes pickle within the process; a
    module of that name already there is returned as is (callers put a hash of ``data`` in
    ``name``).
    """
    if register and name in sys.modules:
        return sys.modules[name]
    loader = _BytesLoader(path, data)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    if spec is None:  # pragma: no cover - spec_from_file_location with a loader never fails
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = module
    try:
        loader.exec_module(module)
    except BaseException:
        if register:
            del sys.modules[name]
        raise
    return module
