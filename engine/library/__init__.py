"""The per-user model library (see :mod:`engine.library.library`).

Front-ends use :class:`Library`; the one-call helpers below serve the places that accept a file or a
library name (``resolve``), and recipes that look files up by content (``find_by_sha256``).
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import UserError

from .index import LibraryEntry
from .kinds import KIND_HELP, KINDS, Detected, check_kind, detect
from .library import Library, VerifyResult
from .location import HOME_VARIABLE, default_library_dir


def resolve(text: str | os.PathLike, kind: str | tuple[str, ...]) -> Path:
    """An existing file path, else the default library's ``kind`` entry called ``text``, or whose sha256
    starts with ``text`` (see :meth:`Library.resolve`); neither is a :class:`UserError`."""
    return Library().resolve(text, kind)


def find_by_sha256(sha256: str, kind: str | None = None) -> Path | None:
    """The default library's file with this sha256, or None (also when the library cannot be read)."""
    try:
        return Library().find_by_sha256(sha256, kind)
    except (UserError, OSError):
        return None


__all__ = [
    "HOME_VARIABLE", "KINDS", "KIND_HELP", "Detected", "Library", "LibraryEntry", "VerifyResult", "check_kind",
    "default_library_dir", "detect", "find_by_sha256", "resolve",
]
