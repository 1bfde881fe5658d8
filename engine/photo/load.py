"""Reading users' photos into 8-bit RGB, with one clear line for every kind of bad file.

Rules (each has a test):

- Missing files, folders, non-images and damaged/truncated files raise :class:`FileProblem`. The whole
  image is decoded up front (``Image.load``), so truncation is found here and not halfway through an
  edit. ``ImageFile.LOAD_TRUNCATED_IMAGES`` is left as it is (False by default).
- Images above :data:`MAX_PIXELS` (120 megapixels) are refused as possible decompression bombs,
  before any pixel is decoded; Pillow's own bomb check is caught and given the same message.
- Images shorter than :data:`MIN_SIDE` pixels on their short side are refused (too small for a face).
- EXIF orientation is applied. Embedded ICC profiles (CMYK, Adobe RGB, Display P3) are converted to
  sRGB; CMYK without a profile uses Pillow's plain conversion.
- 16-bit data is scaled to 8 bits (``v * 255 / 65535``), never clipped; greyscale and palette images
  become RGB; transparency is composited over :data:`BACKGROUND` (white), the usual look of a cut-out.

Memory: a photo is decoded once at full resolution by default, which paste-back needs (50 MP RGB is
200 MB, as Pillow keeps 4 bytes a pixel; the measured peak is about 225 MB, no extra copies).
Callers that need fewer pixels (previews, landmark detection) pass ``max_pixels``: a JPEG is then
decoded at 1/2, 1/4 or 1/8 scale inside libjpeg (``Image.draft``), so the full-size bitmap is never
built, and anything still too large is reduced with Lanczos before the colour conversions.
``image.info["original_size"]`` keeps the file's (oriented) size when an image was reduced.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from engine.errors import FileProblem

#: Largest image accepted, in pixels (width * height). Larger files are refused as possible bombs.
MAX_PIXELS = 120_000_000
#: Smallest short side accepted, in pixels.
MIN_SIDE = 64
#: Colour that transparent pixels are composited over.
BACKGROUND = (255, 255, 255)

_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


def load_photo(path: str | os.PathLike, *, max_pixels: int | None = None,
               background: tuple[int, int, int] = BACKGROUND) -> Image.Image:
    """Open ``path`` as an 8-bit RGB image, oriented as the camera meant.

    ``max_pixels``: if given and the image is larger, it is reduced (keeping its aspect ratio) to at
    most that many pixels, cheaply for JPEG. Raises :class:`FileProblem` with a one-line reason.
    """
    path = Path(path)
    if not path.exists():
        raise FileProblem(path, "file not found")
    if path.is_dir():
        raise FileProblem(path, "is a folder, not an image")
    try:
        with open(path, "rb") as fh:
            return _decode(path, fh, max_pixels, background)
    except FileProblem:
        raise
    except PermissionError:
        raise FileProblem(path, "permission denied") from None
    except MemoryError:
        raise FileProblem(path, "not enough memory to decode this image") from None
    except Exception as exc:  # decoder boundary: any Pillow/codec failure is a bad file
        raise FileProblem(path, f"cannot decode image ({_describe(exc)})") from None


@dataclass
class PhotoResult:
    """One file of a batch: ``image`` when it loaded, otherwise ``error`` (the one-line reason)."""

    path: str
    image: Image.Image | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.image is not None


def load_photos(paths: Iterable[str | os.PathLike], **kwargs) -> list[PhotoResult]:
    """Load many photos; a bad file gives a :class:`PhotoResult` with ``error`` set, never an exception."""
    results = []
    for p in paths:
        try:
            results.append(PhotoResult(str(p), load_photo(p, **kwargs), None))
        except FileProblem as exc:
            results.append(PhotoResult(str(p), None, str(exc)))
    return results


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _decode(path: Path, fh, max_pixels: int | None, background) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(fh)
        except Image.DecompressionBombError:
            raise FileProblem(path, f"image is larger than the {MAX_PIXELS // 1_000_000} megapixel limit "
                              "(refused as a possible decompression bomb)") from None
        except UnidentifiedImageError:
            raise FileProblem(path, "not an image file Pillow can read") from None
        w, h = im.size
        if w * h > MAX_PIXELS:
            raise FileProblem(path, f"image is {w}x{h} = {w * h / 1e6:.0f} megapixels, above the "
                              f"{MAX_PIXELS // 1_000_000} megapixel limit (refused as a possible "
                              "decompression bomb)")
        if min(w, h) < MIN_SIDE:
            raise FileProblem(path, f"image is only {w}x{h} pixels; at least {MIN_SIDE} pixels are "
                              "needed on the short side")
        icc = im.info.get("icc_profile")
        if max_pixels and w * h > max_pixels and im.format == "JPEG":
            k = math.sqrt(w * h / max_pixels)
            im.draft(None, (max(1, int(w / k)), max(1, int(h / k))))
        try:
            im.load()
        except OSError as exc:
            raise FileProblem(path, f"image data is damaged or truncated ({_describe(exc)})") from None
        original = _oriented_size(im, (w, h))
        ImageOps.exif_transpose(im, in_place=True)  # no copy when there is nothing to rotate
        if max_pixels and im.width * im.height > max_pixels:
            im = _reduce(im, max_pixels)
        im = _to_rgb(im, icc, background)
    if im.size != original:
        im.info["original_size"] = original
    return im


def _oriented_size(im: Image.Image, size: tuple[int, int]) -> tuple[int, int]:
    orientation = im.getexif().get(0x0112, 1)
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def _reduce(im: Image.Image, max_pixels: int) -> Image.Image:
    k = math.sqrt(im.width * im.height / max_pixels)
    size = (max(1, int(im.width / k)), max(1, int(im.height / k)))
    if im.mode.startswith("I;16"):
        im = im.convert("I")  # lossless; Lanczos works on 32-bit integers
    elif im.mode not in ("1", "L", "LA", "RGB", "RGBA", "CMYK", "I", "F"):
        im = im.convert("RGBA" if im.mode in _ALPHA_MODES or "transparency" in im.info else "RGB")
    return im.resize(size, Image.LANCZOS, reducing_gap=3.0)


def _to_rgb(im: Image.Image, icc: bytes | None, background) -> Image.Image:
    mode = im.mode
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_high_depth_to_uint8(im), "L").convert("RGB")
    if mode == "P" or mode == "1":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("L", "LA") and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in _ALPHA_MODES:
        rgba = im.convert("RGBA")
        base = Image.new("RGB", rgba.size, background)
        base.paste(rgba, mask=rgba.getchannel("A"))
        return base
    if icc and im.mode in ("RGB", "CMYK"):
        converted = _icc_to_srgb(im, icc)
        if converted is not None:
            return converted
    return im if im.mode == "RGB" else im.convert("RGB")


def _high_depth_to_uint8(im: Image.Image) -> np.ndarray:
    """16/32-bit integer or float greyscale -> uint8, scaling rather than clipping.

    ``I;16*`` is 16-bit by definition. ``I`` (32-bit) usually holds 16-bit samples; it is treated as
    8-bit only when every value fits in 0..255. ``F`` in 0..1 is scaled by 255; other ranges are
    stretched to the image's own maximum.
    """
    a = np.asarray(im).astype(np.float64)
    if im.mode.startswith("I;16"):
        full = 65535.0
    elif im.mode == "F":
        top = float(np.nanmax(a)) if a.size else 1.0
        full = 1.0 if top <= 1.0 else (255.0 if top <= 255.0 else top)
    else:
        top = float(a.max()) if a.size else 0.0
        full = 255.0 if top <= 255 else (65535.0 if top <= 65535 else top)
    return np.clip(np.rint(np.nan_to_num(a) * (255.0 / full)), 0, 255).astype(np.uint8)


_SRGB = None


def _icc_to_srgb(im: Image.Image, icc: bytes) -> Image.Image | None:
    """Convert through the embedded profile; ``None`` when the profile is unusable."""
    global _SRGB
    try:
        if _SRGB is None:
            _SRGB = ImageCms.createProfile("sRGB")
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if im.mode == "RGB" and "srgb" in ImageCms.getProfileDescription(src).lower():
            return im  # already sRGB: skip a full-image pass
        return ImageCms.profileToProfile(im, src, _SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
