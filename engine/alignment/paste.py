"""Paste-back: an edited aligned face goes back into the full-resolution photo.

The aligned crop samples a parallelogram (``AlignedFace.quad``) of the photo, so crop -> photo is an
affine map; paste-back warps the edited crop with the exact inverse of that map (PIL ``AFFINE``,
bicubic), only over the quad's bounding box, and blends it in with a soft weight. When the crop has more
pixels than the face covers in the photo it is first reduced with Lanczos, so nothing aliases.

The weight is computed per photo pixel from where that pixel falls in the crop (no resampled mask). For
an FFHQ-aligned face it covers the face (:data:`FACE_ELLIPSE`, fading out smoothly), not the whole square:
the crop's corners hold the generator's own background (the demo model paints flat colour fields there),
and pasting the square showed them as a rectangle around the face. A centred-square crop (no face was
found) is pasted as the feathered square. Pixels where the weight is 0 are the photo's, bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from engine.errors import UserError

from .ffhq import AlignedFace

#: Export choices offered to users: the edited aligned crop alone, or the photo with the edit pasted in.
EXPORT_CHOICES = ("aligned", "full")

#: What of the crop is pasted: ``"face"`` (the face ellipse) or ``"square"`` (the whole feathered crop).
REGIONS = ("face", "square")

#: The face (with the forehead and some hair) in an FFHQ-aligned crop: centre x, centre y, semi-axes x, y
#: as fractions of the crop side. FFHQ alignment puts the eyes near (0.375 | 0.625, 0.47) and the mouth near
#: y 0.70 for every face; on the NASA astronaut sample the jaw spans x 0.23-0.77 and the chin is at y 0.91.
FACE_ELLIPSE = (0.5, 0.53, 0.30, 0.40)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def square_weight(u: np.ndarray, v: np.ndarray, feather: float) -> np.ndarray:
    """Blend weight of the feathered square at crop fractions ``u``, ``v`` (0..1 across the crop):
    1 inside, easing to 0 over ``feather`` of the side at every edge, 0 outside the crop."""
    def ramp(t: np.ndarray) -> np.ndarray:
        dist = np.minimum(t, 1.0 - t)
        if feather <= 0:
            return (dist >= 0).astype(np.float32)
        return _smoothstep(dist / feather) * (dist >= 0)

    return (ramp(u) * ramp(v)).astype(np.float32)


def face_weight(u: np.ndarray, v: np.ndarray, feather: float) -> np.ndarray:
    """Blend weight of the face region at crop fractions ``u``, ``v``: 1 inside :data:`FACE_ELLIPSE`
    shrunk by ``2 feather``, easing to 0 at the ellipse grown by ``feather`` (in units of its radius), times
    the feathered square so that the crop's edge is never pasted hard."""
    cx, cy, ax, ay = FACE_ELLIPSE
    r = np.hypot((u - cx) / ax, (v - cy) / ay)
    if feather <= 0:
        inside = (r <= 1.0).astype(np.float32)
    else:
        inside = 1.0 - _smoothstep((r - (1.0 - 2.0 * feather)) / (3.0 * feather))
    return (inside * square_weight(u, v, feather)).astype(np.float32)


def _sample_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    centres = (np.arange(size, dtype=np.float32) + 0.5) / size
    return np.meshgrid(centres, centres)


def feather_mask(size: int, feather: float) -> Image.Image:
    """``size`` square ``L`` mask: 255 inside, easing to 0 over ``feather * size`` px at every edge."""
    u, v = _sample_grid(size)
    return Image.fromarray(np.uint8(np.rint(square_weight(u, v, feather) * 255)), "L")


def face_mask(size: int, feather: float = 0.1) -> Image.Image:
    """``size`` square ``L`` mask of the face region paste-back uses for an FFHQ-aligned crop."""
    u, v = _sample_grid(size)
    return Image.fromarray(np.uint8(np.rint(face_weight(u, v, feather) * 255)), "L")


def paste_back(original: Image.Image, edited_aligned: Image.Image, aligned_face: AlignedFace,
               feather: float = 0.1, *, mask: Image.Image | None = None, region: str | None = None) -> Image.Image:
    """``original`` with ``edited_aligned`` warped back where the aligned crop came from.

    ``edited_aligned``: any square size (e.g. the generator's resolution). ``feather``: softness of the
    edge as a fraction of the crop side (0 = hard edge). ``region``: ``"face"`` (default for FFHQ
    alignment) or ``"square"`` (default for the centred square crop); see :data:`REGIONS`. ``mask``:
    optional ``L`` mask in crop space (e.g. a face region), multiplied into the weight. ``original`` may
    also be a resized copy of the photo the face was aligned in (a preview); the quad is scaled to it.
    """
    if edited_aligned.width != edited_aligned.height:
        raise UserError(f"the edited face must be square, got {edited_aligned.width}x{edited_aligned.height}")
    region = region or ("face" if aligned_face.method == "ffhq" else "square")
    if region not in REGIONS:
        raise UserError(f"unknown paste-back region {region!r}; use one of {', '.join(REGIONS)}")
    photo = original if original.mode == "RGB" else original.convert("RGB")
    edited = edited_aligned if edited_aligned.mode == "RGB" else edited_aligned.convert("RGB")
    sx = photo.width / aligned_face.source_size[0]
    sy = photo.height / aligned_face.source_size[1]
    to_photo = np.diag([sx, sy, 1.0]) @ aligned_face.aligned_to_photo(edited.width)

    step = min(np.hypot(*to_photo[:2, 0]), np.hypot(*to_photo[:2, 1]))  # photo px per crop px
    user = None if mask is None else mask.convert("L").resize(edited.size, Image.BILINEAR)
    if step < 1.0:
        n = max(1, round(edited.width * step))
        edited = edited.resize((n, n), Image.LANCZOS)
        user = None if user is None else user.resize((n, n), Image.LANCZOS)
        to_photo = to_photo @ np.diag([edited_aligned.width / n, edited_aligned.width / n, 1.0])

    side = edited.width
    corners = to_photo @ np.array([[0, 0, 1], [0, side, 1], [side, side, 1], [side, 0, 1]], dtype=np.float64).T
    x0 = max(0, math.floor(corners[0].min()))
    y0 = max(0, math.floor(corners[1].min()))
    x1 = min(photo.width, math.ceil(corners[0].max()))
    y1 = min(photo.height, math.ceil(corners[1].max()))
    if x1 <= x0 or y1 <= y0:
        return photo.copy()
    box_to_crop = np.linalg.inv(to_photo) @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], dtype=np.float64)
    coeffs = tuple(box_to_crop[:2].flatten())
    size = (x1 - x0, y1 - y0)

    # where each box pixel's centre falls in the crop (PIL's AFFINE samples at the same points)
    px, py = np.meshgrid(np.arange(size[0], dtype=np.float64) + 0.5, np.arange(size[1], dtype=np.float64) + 0.5)
    u = ((box_to_crop[0, 0] * px + box_to_crop[0, 1] * py + box_to_crop[0, 2]) / side).astype(np.float32)
    v = ((box_to_crop[1, 0] * px + box_to_crop[1, 1] * py + box_to_crop[1, 2]) / side).astype(np.float32)
    del px, py
    weight = (face_weight if region == "face" else square_weight)(u, v, feather)
    del u, v
    if user is not None:
        warped_user = user.transform(size, Image.AFFINE, coeffs, Image.BILINEAR, fillcolor=0)
        weight *= np.asarray(warped_user, np.float32) / 255.0
    warped = np.asarray(edited.transform(size, Image.AFFINE, coeffs, Image.BICUBIC), np.float32)
    base = np.asarray(photo.crop((x0, y0, x1, y1)), np.float32)
    blended = np.clip(np.rint(base + (warped - base) * weight[..., None]), 0, 255).astype(np.uint8)
    out = photo.copy()
    out.paste(Image.fromarray(blended, "RGB"), (x0, y0))
    return out


def export_edit(original: Image.Image, edited_aligned: Image.Image, aligned_face: AlignedFace,
                choice: str = "full", feather: float = 0.1) -> Image.Image:
    """The image to save for an export ``choice``: ``"aligned"`` crop or ``"full"`` photo."""
    if choice == "aligned":
        return edited_aligned.convert("RGB")
    if choice == "full":
        return paste_back(original, edited_aligned, aligned_face, feather)
    raise UserError(f"unknown export choice {choice!r}; use one of {', '.join(EXPORT_CHOICES)}")


def extract_aligned(image: Image.Image, aligned_face: AlignedFace, size: int | None = None) -> Image.Image:
    """Resample ``image`` (same size as the aligned photo) through the stored quad: the crop again,
    without detection or padding. Supersamples then Lanczos-reduces when the quad is larger than ``size``."""
    size = size or aligned_face.output_size
    img = image if image.mode == "RGB" else image.convert("RGB")
    q = np.asarray(aligned_face.quad, dtype=np.float64)
    side = max(np.hypot(*(q[3] - q[0])), np.hypot(*(q[1] - q[0])))
    k = max(1, min(4, int(side // size)))
    out = img.transform((size * k, size * k), Image.QUAD, tuple(q.flatten()), Image.BILINEAR)
    return out if k == 1 else out.resize((size, size), Image.LANCZOS)
