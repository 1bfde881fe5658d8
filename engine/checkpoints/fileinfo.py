"""Cheap facts about a file before any parser touches it: existence, hash, magic bytes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import ModelFileError

ZIP_MAGIC = b"PK\x03\x04"


def require_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise ModelFileError(p, "file not found")
    if not p.is_file():
        raise ModelFileError(p, "not a regular file")
    if p.stat().st_size == 0:
        raise ModelFileError(p, "file is empty")
    return p


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sniff(path: Path) -> str:
    """'zip' (torch.save), 'pickle', 'safetensors' or 'unknown', from the first bytes."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5:
        return "pickle"
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    return "unknown"
