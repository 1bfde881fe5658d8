"""Which files a batch works on: files, folders (recursive, image types only, hidden entries skipped)
and ``@list.txt`` files (one path per line, relative to the list's folder; blank lines and ``#`` comments
ignored).

Paths given on the command line must exist (a usage error otherwise); a missing path inside a list is a
bad input of the run (reported and skipped), as is any file that turns out not to be an image.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.errors import FileProblem, UserError

#: Suffixes a folder scan picks up (case-insensitive).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
#: Longest ``@list`` file read, in bytes (a list of a million paths is about 100 MB).
MAX_LIST_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class InputFile:
    """One input: ``path`` as found, and ``folder`` = its sub-folder relative to the folder it was found
    in ("" for files named directly or through a list)."""

    path: Path
    folder: str = ""

    @property
    def key(self) -> str:
        """Identity in the manifest: the absolute, normalised path."""
        return os.path.abspath(self.path)


def _hidden(name: str) -> bool:
    return name.startswith(".")


def scan_folder(root: Path) -> Iterator[InputFile]:
    """Image files under ``root``, recursively, in sorted order; hidden files and folders skipped."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
        rel = os.path.relpath(dirpath, root)
        folder = "" if rel == "." else Path(rel).as_posix()
        for name in sorted(filenames):
            if not _hidden(name) and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                yield InputFile(Path(dirpath) / name, folder)


def read_list(list_path: Path) -> Iterator[InputFile]:
    """Entries of an ``@list`` file; relative entries are taken relative to the list's folder."""
    if not list_path.is_file():
        raise FileProblem(list_path, "list file not found")
    try:
        if list_path.stat().st_size > MAX_LIST_BYTES:
            raise FileProblem(list_path, f"list file is larger than {MAX_LIST_BYTES // 2**20} MB")
        text = list_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise FileProblem(list_path, "list file is not UTF-8 text") from None
    except OSError as exc:
        raise FileProblem(list_path, f"cannot read list file ({exc.strerror or exc})") from None
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        p = Path(entry).expanduser()
        yield InputFile(p if p.is_absolute() else list_path.parent / p)


def discover_inputs(specs: Iterable[str | os.PathLike]) -> list[InputFile]:
    """All inputs named by ``specs`` (files, folders, ``@list`` files), duplicates removed, order kept.

    Raises :class:`UserError` for a command-line path that does not exist.
    """
    seen: set[str] = set()
    out: list[InputFile] = []

    def add(items: Iterable[InputFile]) -> None:
        for item in items:
            if item.key not in seen:
                seen.add(item.key)
                out.append(item)

    for spec in specs:
        text = os.fspath(spec)
        if text.startswith("@") and len(text) > 1:
            for item in read_list(Path(text[1:]).expanduser()):
                add(scan_folder(item.path) if item.path.is_dir() else [item])
            continue
        p = Path(text).expanduser()
        if p.is_dir():
            add(scan_folder(p))
        elif p.exists():
            add([InputFile(p)])
        else:
            raise UserError(f"{p}: input not found")
    return out
