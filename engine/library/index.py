"""The library's entries and its JSON index file (``index.json`` in the library folder).

Index format::

    {"format": "styledomain.library", "version": 1,
     "entries": [{"name", "kind", "file" (relative to the folder, POSIX), "sha256", "size", "source_name",
                  "source_sha256", "source_format", "fingerprint", "licence", "imported" (ISO 8601 UTC)}]}

Written atomically; an unreadable index raises :class:`IndexUnreadable` (the library moves it aside).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from engine.fileio import atomic_path

INDEX_NAME = "index.json"
INDEX_FORMAT = "styledomain.library"
INDEX_VERSION = 1
_TEXT_FIELDS = ("source_name", "source_sha256", "source_format", "fingerprint", "licence", "imported")


def format_size(n: float) -> str:
    """A file size for people: ``512 B``, ``1.5 MB`` (decimal units, up to GB), as the library lists show it."""
    for unit in ("B", "KB", "MB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


class IndexUnreadable(Exception):
    """The index file exists but is not a library index we can read (reason in ``str()``)."""


@dataclass(frozen=True)
class LibraryEntry:
    """One file in the library.

    ``path`` is absolute. ``sha256``/``size`` are of the stored file (for a converted generator, the
    safetensors file; ``source_sha256`` is then the original's). ``fingerprint`` is the StyleSpace layout
    fingerprint: of the generator itself, or of the generator a direction / delta / encoder fits.
    ``read_only`` marks built-in entries (shipped with the program; cannot be removed or replaced).
    """

    name: str
    kind: str
    path: Path
    sha256: str
    size: int
    source_name: str = ""
    source_sha256: str = ""
    source_format: str = ""
    fingerprint: str = ""
    licence: str = ""
    imported: str = ""
    read_only: bool = False
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict:
        """Plain JSON for ``--json`` output and front-ends (``path`` as a string)."""
        d = asdict(self)
        d["path"] = str(self.path)
        d["notes"] = list(self.notes)
        return d


def read_index(root: Path) -> list[LibraryEntry] | None:
    """Entries of ``root/index.json``; None when there is no index file; :class:`IndexUnreadable` if damaged."""
    path = root / INDEX_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexUnreadable(f"cannot read it ({exc.__class__.__name__})") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise IndexUnreadable("not valid JSON") from None
    if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT or not isinstance(data.get("entries"), list):
        raise IndexUnreadable("not a model library index")
    if not isinstance(data.get("version"), int) or data["version"] > INDEX_VERSION:
        raise IndexUnreadable(f"index version {data.get('version')!r} is not one this program reads")
    return [_entry_from_json(root, d) for d in data["entries"]]


def _entry_from_json(root: Path, d: object) -> LibraryEntry:
    if not isinstance(d, dict):
        raise IndexUnreadable("an entry is not an object")
    try:
        name, kind, file, sha, size = d["name"], d["kind"], d["file"], d["sha256"], d["size"]
    except KeyError as exc:
        raise IndexUnreadable(f"an entry lacks {exc.args[0]!r}") from None
    if not all(isinstance(v, str) and v for v in (name, kind, file, sha)) or not isinstance(size, int):
        raise IndexUnreadable(f"entry {name!r} has fields of the wrong type")
    rel = PurePosixPath(file)
    if rel.is_absolute() or ".." in rel.parts:
        raise IndexUnreadable(f"entry {name!r} points outside the library folder")
    extra = {k: str(d.get(k, "") or "") for k in _TEXT_FIELDS}
    return LibraryEntry(name, kind, root.joinpath(*rel.parts), sha, size, **extra)


def write_index(root: Path, entries: list[LibraryEntry]) -> Path:
    """Write the user entries (not the built-ins) of ``root`` atomically; creates ``root`` if needed."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for e in entries:
        if e.read_only:
            continue
        row = {"name": e.name, "kind": e.kind, "file": e.path.relative_to(root).as_posix(), "sha256": e.sha256,
               "size": e.size}
        row.update({k: getattr(e, k) for k in _TEXT_FIELDS})
        rows.append(row)
    text = json.dumps({"format": INDEX_FORMAT, "version": INDEX_VERSION, "entries": rows}, indent=1)
    path = root / INDEX_NAME
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
    return path
