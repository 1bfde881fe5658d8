"""Finding library entries by name or by a sha256 prefix, and the words of the messages about them."""

from __future__ import annotations

import dataclasses
import difflib
import re

from engine.errors import UserError

from .builtins import cached_sha256
from .index import LibraryEntry
from .kinds import check_kind

#: A library name: what ``models import --name`` accepts.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
#: A sha256 prefix the library accepts in place of a name.
SHA_PREFIX = re.compile(r"^[0-9A-Fa-f]{8,64}$")


def is_library_text(text: str) -> bool:
    """True when ``text`` could be a library name or a sha256 prefix (no folder, no odd characters)."""
    return bool(NAME.match(text) or SHA_PREFIX.match(text))


def kind_tuple(kinds: str | tuple[str, ...]) -> tuple[str, ...]:
    """One kind or several as a tuple, each checked (:func:`check_kind`)."""
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    for kind in kinds:
        check_kind(kind)
    if not kinds:
        raise UserError("no kind given")
    return kinds


def by_sha_prefix(entries: list[LibraryEntry], text: str, kinds: tuple[str, ...]) -> list[LibraryEntry]:
    """Entries of ``kinds`` whose sha256 (or original's sha256) starts with ``text`` (8 to 64 hex digits).
    Built-in files are hashed only here, once per process, and only those of ``kinds``."""
    if not SHA_PREFIX.match(text):
        return []
    low = text.lower()
    found = []
    for e in entries:
        if e.kind not in kinds:
            continue
        sha = e.sha256 or (cached_sha256(e.path) if e.read_only and e.path.is_file() else "")
        if sha.startswith(low) or (e.source_sha256 and e.source_sha256.startswith(low)):
            found.append(e if e.sha256 else dataclasses.replace(e, sha256=sha))
    return found


def by_name(entries: list[LibraryEntry], name: str, kind: str | None = None) -> LibraryEntry | None:
    """The first entry called ``name`` (case-insensitive), of ``kind`` when given."""
    low = name.lower()
    for e in entries:
        if e.name.lower() == low and (kind is None or e.kind == kind):
            return e
    return None


def close_names(name: str, entries: list[LibraryEntry]) -> str:
    """``"; close names: ..."`` for a message about ``name``, or where to see the library."""
    names = sorted({e.name for e in entries})
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    if close:
        return f"; close names: {', '.join(close)}"
    return "; `styledomain models list` shows the library"


def article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
