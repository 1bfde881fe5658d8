"""An inter-process lock on a library folder: ``<library>/.lock``, held around each read-modify-write of the
index (``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows).

Readers take no lock (the index is replaced atomically). The lock is re-entrant within a thread, so a
change that rebuilds a missing index while holding it does not wait for itself. Waiting longer than
``timeout`` seconds is a :class:`UserError` ("library ... is busy"), never a hang.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.errors import FileProblem, UserError

LOCK_NAME = ".lock"
#: Seconds to wait for another process's change (changes hold the lock only to re-read and write the index).
DEFAULT_TIMEOUT = 30.0
_POLL = 0.02
_held = threading.local()


def _held_roots() -> set[str]:
    roots = getattr(_held, "roots", None)
    if roots is None:
        roots = _held.roots = set()
    return roots


@contextmanager
def library_lock(root: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold ``root/.lock`` exclusively for the block (creates ``root``); re-entrant in one thread."""
    key = os.path.abspath(root)
    held = _held_roots()
    if key in held:
        yield
        return
    path = Path(root) / LOCK_NAME
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        raise FileProblem(path, f"cannot lock the model library ({exc.strerror or exc})") from None
    try:
        _acquire(fd, path, DEFAULT_TIMEOUT if timeout is None else timeout)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
            _release(fd)
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _try_lock(fd)
            return
        except (BlockingIOError, PermissionError):
            pass
        except OSError as exc:
            if getattr(exc, "errno", None) not in _BUSY_ERRNOS:
                raise FileProblem(path, f"cannot lock the model library ({exc.strerror or exc})") from None
        if time.monotonic() >= deadline:
            raise UserError(f"library {path.parent} is busy (another StyleDomain process is changing it; waited "
                            f"{timeout:g} s); try again")
        time.sleep(_POLL)


if os.name == "nt":  # pragma: no cover - Windows
    import errno
    import msvcrt

    _BUSY_ERRNOS = {errno.EACCES, errno.EDEADLK}

    def _try_lock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _release(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import errno
    import fcntl

    _BUSY_ERRNOS = {errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK}

    def _try_lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _release(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
