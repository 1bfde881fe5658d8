"""Encoding batch outputs (PNG with the recipe, JPEG, WebP) and writing them atomically.

PNGs go through :func:`engine.pipeline.png_metadata.encode_png` as ``apply`` does: the effective
recipe (iTXt) and the XMP disclosure (DigitalSourceType trainedAlgorithmicMedia), unless ``strip``.
JPEG and WebP carry the same XMP packet (no recipe: there is no standard place for it) unless ``strip``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from engine.errors import FileProblem, UserError
from engine.fileio import atomic_path
from engine.pipeline.png_metadata import TRAINED_ALGORITHMIC_MEDIA, XMP_TEMPLATE, encode_png

FORMATS = ("png", "jpg", "webp")
#: Quality used when ``--quality`` is not given.
DEFAULT_QUALITY = {"jpg": 92, "webp": 90}


def check_quality(fmt: str, quality: int | None) -> int | None:
    """The quality to use for ``fmt``; :class:`UserError` when out of 1..100 (PNG ignores quality)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    if quality is None:
        return DEFAULT_QUALITY.get(fmt)
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise UserError(f"--quality must be an integer from 1 to 100, got {quality!r}")
    return quality


def encode_image(img: Image.Image, fmt: str, quality: int | None = None, recipe_text: str | None = None,
                 strip: bool = False) -> bytes:
    """The bytes of one output file."""
    if fmt == "png":
        return encode_png(img, recipe_text, strip=strip)
    rgb = Image.fromarray(np.asarray(img.convert("RGB")))  # no inherited metadata
    buf = io.BytesIO()
    q = quality if quality is not None else DEFAULT_QUALITY[fmt]
    extra = {} if strip else {"xmp": XMP_TEMPLATE.format(source_type=TRAINED_ALGORITHMIC_MEDIA).encode("utf-8")}
    if fmt == "jpg":
        rgb.save(buf, format="JPEG", quality=q, optimize=True, **extra)
    elif fmt == "webp":
        rgb.save(buf, format="WEBP", quality=q, method=4, **extra)
    else:
        raise UserError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    return buf.getvalue()


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` (temporary file beside it, then rename); parents are created."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)  # a killed process loses nothing written; no fsync (power loss is not covered)
    except OSError as exc:
        raise FileProblem(path, f"cannot write ({exc.strerror or exc})") from None
    return path
