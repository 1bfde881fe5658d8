"""Where domains come from: shipped files, the model library, dropped files (no Qt here).

A domain is a direction file (``styledomain.direction``) or a parameter-delta file
(``styledomain.param_delta``). :func:`load_domain_file` checks a file fully (and against the current
model's layer table when given) and returns a :class:`DomainEntry`; it raises ``UserError`` with one
line naming the file otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import FileProblem, UserError
from engine.resources import resources_dir
from engine.stylespace import StyleLayer, layout_fingerprint

DOMAIN_SUFFIXES = (".safetensors", ".pt", ".pth")


@dataclass
class DomainEntry:
    """One domain the panel can enable: ``key`` is unique (the file's resolved path or a library id)."""

    key: str
    name: str
    kind: str = "direction"  # "direction" | "param_delta"
    path: str = ""
    origin: str = "imported"  # "shipped" | "library" | "imported" | "adapted"
    license: str = ""
    fingerprint: str = ""
    payload: Any = field(default=None, repr=False, compare=False)  # the loaded Direction / ParamDelta (CPU)

    @property
    def label(self) -> str:
        return self.name or Path(self.path).stem


def _param_delta_entry(path: Path, origin: str) -> DomainEntry:
    from engine.domains.param_delta import load_param_delta

    delta = load_param_delta(path)
    return DomainEntry(str(path.resolve()), delta.name or path.stem, "param_delta", str(path), origin,
                       delta.license, delta.layout_fingerprint, delta)


def load_domain_file(path: str | os.PathLike, layout: list[StyleLayer] | None = None,
                     origin: str = "imported") -> DomainEntry:
    """A direction or parameter-delta file as an entry; raises ``UserError`` when unusable."""
    from engine.domains.direction import check_fits, load_direction
    from engine.fileio import read_safetensors_metadata

    p = Path(path)
    if p.is_dir():
        raise FileProblem(p, "is a folder, not a direction file")
    if p.suffix.lower() not in DOMAIN_SUFFIXES:
        raise FileProblem(p, "not a direction file (expected .safetensors, or a StyleDomain .pt)")
    if p.suffix.lower() == ".safetensors" and p.is_file():
        meta = read_safetensors_metadata(p)
        if meta.get("format") == "styledomain.param_delta":
            entry = _param_delta_entry(p, origin)
            if layout is not None and entry.fingerprint and entry.fingerprint != layout_fingerprint(layout):
                raise FileProblem(p, f"parameter delta {entry.name!r} was made for another model's layer table")
            return entry
    direction = load_direction(p)
    if layout is not None:
        check_fits(direction, layout, p)
    return DomainEntry(str(p.resolve()), direction.name or p.stem, "direction", str(p), origin,
                       direction.license, direction.fingerprint, direction)


def shipped_domain_files() -> list[Path]:
    """``resources/domains/*.safetensors`` (empty when the folder is absent)."""
    folder = resources_dir() / "domains"
    return sorted(folder.glob("*.safetensors")) if folder.is_dir() else []


def library_domain_entries() -> list[DomainEntry]:
    """Direction and parameter-delta entries of the user's model library (built-ins are the shipped files)."""
    try:
        from engine.library import Library
    except ImportError:  # the library is optional for this panel
        return []
    out = []
    for kind, ours in (("direction", "direction"), ("param-delta", "param_delta")):
        try:
            items = [e for e in Library().entries(kind) if not e.read_only]
        except (UserError, OSError):
            return out
        for e in items:
            out.append(DomainEntry(str(Path(e.path).resolve()), e.name, ours, str(e.path), "library", e.licence,
                                   e.fingerprint))
    return out


def known_domains(layout: list[StyleLayer] | None = None) -> tuple[list[DomainEntry], list[str]]:
    """Shipped and library domains (those that fit ``layout`` when given) and one line per file skipped."""
    entries: list[DomainEntry] = []
    problems: list[str] = []
    for path in shipped_domain_files():
        try:
            entries.append(load_domain_file(path, layout, origin="shipped"))
        except UserError as exc:
            problems.append(str(exc))
    fp = layout_fingerprint(layout) if layout is not None else None
    seen = {e.key for e in entries}
    for e in library_domain_entries():
        if e.key not in seen and (fp is None or not e.fingerprint or e.fingerprint == fp):
            entries.append(e)
    return entries, problems
