"""Exclusive, non-blocking file locks that the OS releases when the holder dies."""
from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def exclusive_lock(path: Path, busy: Exception) -> Iterator[None]:
    """Hold `path` locked for the block, or raise `busy` at once if another process holds it.

    The holder's pid is written into the file, for a person looking at a stuck lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)
