"""Layer selections ("masks") for directions.

A selection is a comma-separated union of terms, evaluated on a StyleSpace layer table:

* ``all`` - every layer (the default);
* ``coarse`` - layers at 4 and 8 px; ``middle`` - 16 and 32 px; ``fine`` - 64 px and up;
* ``A-B`` or ``A`` with plain integers - StyleSpace indices, 0-based, inclusive, in StyleSpace order
  (NVIDIA/StyleCLIP: ``b4.conv1`` = 0, ``b4.torgb`` = 1, ``b8.conv0`` = 2, ... 25 = ``b1024.torgb``);
* ``Apx-Bpx`` or ``Rpx`` (``px`` on either end makes both ends resolutions) - every layer whose
  resolution lies in [A, B], e.g. ``16px-64px``, ``16-64px``, ``128px``.

Layers that a direction does not cover (toRGB for conv-only directions) stay untouched whatever
the selection. A selection that picks no layer of the model is an error.
"""

from __future__ import annotations

import re

import torch

from engine.errors import UserError
from engine.stylespace import StyleLayer, total_channels

PRESETS = {"coarse": (4, 8), "middle": (16, 32), "fine": (64, 1 << 30)}
_RANGE = re.compile(r"^(\d+)(px)?(?:-(\d+)(px)?)?$")
HELP = ("coarse (4-8 px), middle (16-32 px), fine (64 px+), all, a StyleSpace index range A-B "
        "(0-based, inclusive), or a resolution range like 16px-64px; comma-separate to combine")


def _term_layers(term: str, layout: list[StyleLayer]) -> set[int]:
    if term == "all":
        return {lay.index for lay in layout}
    if term in PRESETS:
        lo, hi = PRESETS[term]
        return {lay.index for lay in layout if lo <= lay.resolution <= hi}
    m = _RANGE.match(term)
    if not m:
        raise UserError(f"unknown layer selection {term!r}: use {HELP}")
    a, a_px, b, b_px = m.groups()
    lo, hi = int(a), int(b) if b is not None else int(a)
    if lo > hi:
        raise UserError(f"layer range {term!r} is reversed (write the smaller end first)")
    if a_px or b_px:
        return {lay.index for lay in layout if lo <= lay.resolution <= hi}
    if hi >= len(layout):
        raise UserError(f"layer range {term!r} is out of range: this model has StyleSpace layers 0-{len(layout) - 1}")
    return set(range(lo, hi + 1))


def selected_layers(spec: str, layout: list[StyleLayer]) -> list[bool]:
    """One flag per layout layer."""
    spec = (spec or "all").strip().lower()
    chosen: set[int] = set()
    for term in spec.split(","):
        chosen |= _term_layers(term.strip(), layout)
    if not chosen:
        top = max(lay.resolution for lay in layout)
        raise UserError(f"layer selection {spec!r} selects no layer of this {top} px model")
    return [lay.index in chosen for lay in layout]


def mask_vector(spec: str, layout: list[StyleLayer]) -> torch.Tensor:
    """Float 0/1 mask over the flat StyleSpace vector."""
    mask = torch.zeros(total_channels(layout))
    for lay, on in zip(layout, selected_layers(spec, layout), strict=True):
        if on:
            mask[lay.offset : lay.offset + lay.channels] = 1.0
    return mask


def validate_spec(spec: str) -> str:
    """Syntax check without a layout (for argument parsing); returns the normalised spec."""
    spec = (spec or "all").strip().lower()
    for term in spec.split(","):
        term = term.strip()
        if term not in PRESETS and term != "all" and not _RANGE.match(term):
            raise UserError(f"unknown layer selection {term!r}: use {HELP}")
    return spec
