"""One driver per run directory: ``search`` and ``resume`` hold ``RUN_DIR/.lock``.

The lock is ``fcntl.flock`` on an open file, so it is taken atomically and released by the
kernel when the holder ends in any way (``kill -9`` included): a stale lock cannot exist.
The holder's pid is written into the file, for the message a second driver gets.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from autorec.errors import AutorecError

__all__ = ["LOCK_NAME", "run_dir_lock"]

LOCK_NAME = ".lock"


@contextlib.contextmanager
def run_dir_lock(root: Path) -> Iterator[None]:
    """Hold the run directory's lock for the block; refuse at once when another driver holds
    it, or when the folder cannot be written (nothing else is written first)."""
    path = root / LOCK_NAME
    where = f"run dir {root}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except PermissionError as err:
        raise AutorecError(
            where, f"cannot be written ({err.strerror})", "fix its permissions or copy it"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise AutorecError(
                where,
                f"is in use by another autorec search or resume (pid {holder})",
                "wait for it to end or stop it, then run `autorec resume` again",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
