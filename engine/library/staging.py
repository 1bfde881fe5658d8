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

from engine.fileio import keep_created_mode, new_empty_file


@dataclass(frozen=True)
class Staged:
    """The temporary ``path`` for ``target`` and the mode it was created with."""

    path: Path
    target: Path
    mode: int

    def commit(self) -> None:
        """Move ``path`` over ``target`` (atomically), with the mode it was created with."""
        keep_created_mode(self.path, self.mode)
        os.replace(self.path, self.target)


@contextmanager
def staging_path(target: Path) -> Iterator[Staged]:
    """A new empty temporary file beside ``target``, removed at the end unless committed. An ``OSError``
    about the temporary file comes out naming ``target``."""
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
        try:
            mode = new_empty_file(tmp)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(target)) from None
    try:
        yield Staged(tmp, target, mode)
    except OSError as exc:
        if exc.filename is not None and os.fsdecode(exc.filename).startswith(str(tmp)):
            raise OSError(exc.errno, exc.strerror, str(target)) from exc
        raise
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
