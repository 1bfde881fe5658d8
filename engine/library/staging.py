"""A library copy is written to a unique temporary file beside its place and moved in later, under the lock.

``.NAME.XXXXXXXX.partial`` (unique per call, so two processes importing never share one); created with the
usual mode of a new file (0666 under the umask) and given that mode back if the writer replaced it, as
:func:`engine.fileio.atomic_path` does. Kind folders skip dot-files, so a leftover is never an entry.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Staged:
    """The temporary ``path`` for ``target`` and the mode it was created with."""

    path: Path
    target: Path
    mode: int

    def commit(self) -> None:
        """Move ``path`` over ``target`` (atomically), with the mode it was created with."""
        with contextlib.suppress(OSError):
            if self.path.stat().st_mode != self.mode:
                os.chmod(self.path, self.mode & 0o7777)
        os.replace(self.path, self.target)


@contextmanager
def staging_path(target: Path) -> Iterator[Staged]:
    """A new empty temporary file beside ``target``, removed at the end unless committed. An ``OSError``
    about the temporary file comes out naming ``target``."""
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0)
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(target)) from None
    try:
        mode = os.fstat(fd).st_mode
    finally:
        os.close(fd)
    try:
        yield Staged(tmp, target, mode)
    except OSError as exc:
        if exc.filename is not None and os.fsdecode(exc.filename).startswith(str(tmp)):
            raise OSError(exc.errno, exc.strerror, str(target)) from exc
        raise
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
