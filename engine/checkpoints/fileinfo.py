"""Moved to :mod:`engine.fileio` (kept for one release of imports)."""

from engine.fileio import ZIP_MAGIC, require_file, sha256_of, sniff

__all__ = ["ZIP_MAGIC", "require_file", "sha256_of", "sniff"]
