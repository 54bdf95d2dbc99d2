"""The one IO path: atomic file and folder writes, JSON, and importing generated code.

* **Files** are written to a temporary file in the same folder, flushed to disk and moved into
  place with ``os.replace``, so a reader (or a process killed mid-write, ``kill -9`` included)
  sees the old file or the new one, never half of one.
* **Folders** (a saved network, a bundle, kept weights) are built in a temporary folder beside
  the target and swapped in at once: on Linux with one ``renameat2(RENAME_EXCHANGE)`` call, else
  with two renames and a roll-back, so an existing folder is replaced only by a complete one.
* **JSON** has no NaN or infinity: :func:`json_safe` is the one clean-up (non-finite numbers
  become ``null``, numpy scalars Python numbers, tuples lists) every writer uses.
* **Generated code** is imported from bytes already in memory (:func:`import_source`): a file
  written or hash-checked and then imported by path could be swapped in between, and a
  ``__pycache__`` entry beside it could run instead of the source. The loader compiles exactly
  the bytes it is given, and writes and reads no bytecode.

This module imports only the standard library (numpy is looked at, not imported), so every
package can use it without import cycles.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as _dt
import enum
import hashlib
import importlib.abc
import importlib.util
import json
import math
import os
import shutil
import sys
import tempfile
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_dir",
    "atomic_file",
    "atomic_write_bytes",
    "atomic_write_text",
    "dump_json",
    "finite_or_none",
    "generated_name",
    "import_generated",
    "import_source",
    "json_safe",
    "read_json",
    "replace_dir",
    "utc_now",
    "write_json",
]


# --------------------------------------------------------------------------------------
# files


def _umask() -> int:
    """The process's umask (read by setting it, then putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | Path, *, private: bool = False) -> Iterator[Path]:
    """Write a file for ``path``: yields the name of an empty temporary file in the same
    folder; when the block ends normally the file is flushed to disk and moved onto ``path``
    with ``os.replace``, on an error it is removed and ``path`` is left as it was. The file
    gets the mode a plain ``open()`` would (0644 under the usual umask), or 0600 when
    ``private``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if not private:  # mkstemp makes the file 0600
            os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, *, private: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_file`) and return the path."""
    with atomic_file(path, private=private) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, *, private: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"), private=private)


# --------------------------------------------------------------------------------------
# JSON


def finite_or_none(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` (not a number, NaN or infinite)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def json_safe(value: Any) -> Any:
    """``value`` made JSON-safe, the one clean-up every writer uses: NaN/inf become ``None``,
    numpy scalars and arrays Python numbers and lists, tuples lists, mapping keys strings,
    dates ISO strings, paths strings, enums their value; anything else its ``str``."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # numpy scalar or array (numpy is not imported here)
        return json_safe(tolist())
    return str(value)


def dump_json(obj: Any, *, indent: int | None = 1, ascii: bool = True) -> str:
    """``obj`` as strict JSON text (after :func:`json_safe`; no NaN can be left)."""
    return json.dumps(json_safe(obj), indent=indent, ensure_ascii=ascii, allow_nan=False)


def write_json(path: str | Path, obj: Any, *, ascii: bool = True) -> Path:
    """Write ``obj`` as indented strict JSON (one trailing newline) to ``path`` atomically."""
    return atomic_write_text(path, dump_json(obj, ascii=ascii) + "\n")


def utc_now() -> str:
    """The time a record is stamped with: UTC, ISO 8601, whole seconds."""
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def read_json(path: str | Path) -> Any:
    """The JSON value in ``path`` (UTF-8)."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


# --------------------------------------------------------------------------------------
# folders

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths (Linux renameat2 RENAME_EXCHANGE). False when the
    platform or file system does not support it."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(rc == 0)


def replace_dir(new: str | Path, target: str | Path) -> None:
    """Put the complete folder ``new`` at ``target``; an existing ``target`` is swapped with
    it atomically and deleted afterwards (two renames with a roll-back where the platform
    cannot swap), so a reader never sees half a folder."""
    new, target = Path(new), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() and not target.is_symlink():
        os.rename(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old folder
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rmdir(old)
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)  # roll back: the old folder stays
        raise
    shutil.rmtree(old, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _settle(folder: Path) -> None:
    """Give the files of ``folder`` (and the folder) the umask's modes, not mkstemp's and
    mkdtemp's private ones, and flush them to disk before the folder is swapped in."""
    umask = _umask()
    for p in folder.iterdir():
        if p.is_file() and not p.is_symlink():
            os.chmod(p, 0o666 & ~umask)
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
    os.chmod(folder, 0o777 & ~umask)
    _fsync_dir(folder)


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Build a folder for ``target``: yields an empty temporary folder beside it; when the
    block ends normally the folder replaces ``target`` (:func:`replace_dir`), on an error it
    is removed and an existing ``target`` is left untouched."""
    out = Path(target).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
        _settle(tmp)
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(out.parent)


# --------------------------------------------------------------------------------------
# generated code


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


def import_source(name: str, path: str, data: bytes, *, register: bool = True) -> types.ModuleType:
    """Execute ``data`` as the module ``name`` (``__file__ = path``) and return it.

    ``register`` keeps it in ``sys.modules`` so its classes pickle within the process; a
    module of that name already there is returned as is (callers put a hash of ``data`` in
    ``name``: :func:`generated_name`).
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


def generated_name(stem: str, data: bytes) -> str:
    """The name generated source ``data`` is imported under: a module of the ``codegen``
    package (so its ``from . import runtime`` is :mod:`codegen.runtime`), named by ``stem``
    and the content hash (an unchanged source imports once per process)."""
    safe = "".join(c if c.isalnum() else "_" for c in stem)
    return f"codegen._generated_{safe}_{hashlib.sha1(data).hexdigest()[:12]}"


def import_generated(path: str | Path, data: bytes | None = None) -> types.ModuleType:
    """Import generated source as a module of the ``codegen`` package: ``data`` (the bytes
    this process rendered or checked), else the file at ``path`` read once; what runs is
    exactly those bytes, never a second read of the file or a cached ``.pyc``."""
    where = Path(path).resolve()
    source = where.read_bytes() if data is None else data
    return import_source(generated_name(where.stem, source), str(where), source)
