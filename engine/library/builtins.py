"""Read-only entries for files that ship with the program: the demo model and its encoder, the directions
and deltas under ``resources/domains/`` (when that folder exists), and the dlib landmark predictor of the
``face_recognition_models`` package (when installed)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from engine.errors import UserError
from engine.fileio import sha256_of
from engine.resources import resources_dir

from .index import LibraryEntry
from .kinds import detect

_HASHES: dict[tuple[str, int, int], str] = {}
_LOCK = threading.Lock()


def cached_sha256(path: Path) -> str:
    """sha256 of ``path``, computed once per process for the same size and modification time."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _LOCK:
        found = _HASHES.get(key)
    if found is None:
        found = sha256_of(path)
        with _LOCK:
            _HASHES[key] = found
    return found


def builtin_files() -> list[Path]:
    """Shipped model files, in a stable order (absent ones skipped); the landmark predictor last."""
    res = resources_dir()
    files = [res / "models" / "demo-faces-64.safetensors", res / "models" / "demo-faces-64-encoder.safetensors"]
    domains = res / "domains"
    if domains.is_dir():
        files += sorted(p for p in domains.glob("*.safetensors") if not p.name.startswith("."))
    return [p for p in files if p.is_file()]


def builtin_entries(with_hashes: bool = True) -> list[LibraryEntry]:
    """One read-only entry per shipped file the library recognises (unrecognised files are skipped).

    ``with_hashes=False`` leaves ``sha256`` empty (for look-ups by name, which need not read the files)."""
    out = []
    for path in builtin_files():
        try:
            found = detect(path)
        except UserError:
            continue
        if found is not None:
            out.append(_entry(path, found.kind, found.source_format, found.fingerprint, found.licence, ("built-in",),
                              with_hashes))
    from engine.alignment.models import DLIB_68_LANDMARKS, packaged_predictor_path

    predictor = packaged_predictor_path()  # known by where it is; dlib's parser is too slow for every listing
    if predictor is not None:
        out.append(_entry(predictor, "landmarks", "dlib", "", DLIB_68_LANDMARKS.licence,
                          ("installed with face_recognition_models", DLIB_68_LANDMARKS.source), with_hashes))
    return out


def _entry(path: Path, kind: str, source_format: str, fingerprint: str, licence: str,
           notes: tuple[str, ...], with_hashes: bool) -> LibraryEntry:
    st = path.stat()
    imported = datetime.fromtimestamp(st.st_mtime, UTC).isoformat(timespec="seconds")
    sha = cached_sha256(path) if with_hashes else ""
    return LibraryEntry(path.stem, kind, path, sha, st.st_size, path.name, "", source_format,
                        fingerprint, licence, imported, True, notes)
