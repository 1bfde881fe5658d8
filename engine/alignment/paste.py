"""Paste-back: an edited aligned face goes back into the full-resolution photo.

The aligned crop samples a parallelogram (``AlignedFace.quad``) of the photo, so crop -> photo is an
affine map; paste-back warps the edited crop with the exact inverse of that map (PIL ``AFFINE``,
bicubic), only over the quad's bounding box, and blends it in with a feathered mask built in crop
space and warped the same way. When the crop has more pixels than the face covers in the photo it is
first reduced with Lanczos, so nothing aliases.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from engine.errors import UserError

from .ffhq import AlignedFace

#: Export choices offered to users: the edited aligned crop alone, or the photo with the edit pasted in.
EXPORT_CHOICES = ("aligned", "full")


def feather_mask(size: int, feather: float) -> Image.Image:
    """``size`` square ``L`` mask: 255 inside, easing to 0 over ``feather * size`` px at every edge."""
    width = feather * size
    centres = np.arange(size, dtype=np.float64) + 0.5
    dist = np.minimum(centres, size - centres)
    ramp = np.ones(size) if width <= 0 else np.clip(dist / width, 0.0, 1.0)
    ramp = ramp * ramp * (3 - 2 * ramp)  # smoothstep
    return Image.fromarray(np.uint8(np.rint(np.outer(ramp, ramp) * 255)), "L")


def paste_back(original: Image.Image, edited_aligned: Image.Image, aligned_face: AlignedFace,
               feather: float = 0.1, *, mask: Image.Image | None = None) -> Image.Image:
    """``original`` with ``edited_aligned`` warped back where the aligned crop came from.

    ``edited_aligned``: any square size (e.g. the generator's resolution). ``feather``: width of the soft
    edge as a fraction of the crop side (0 = hard edge). ``mask``: optional ``L`` mask in crop space
    (e.g. a face region), multiplied into the feathered square. ``original`` may also be a resized copy
    of the photo the face was aligned in (a preview); the quad is scaled to it.
    """
    if edited_aligned.width != edited_aligned.height:
        raise UserError(f"the edited face must be square, got {edited_aligned.width}x{edited_aligned.height}")
    photo = original if original.mode == "RGB" else original.convert("RGB")
    edited = edited_aligned if edited_aligned.mode == "RGB" else edited_aligned.convert("RGB")
    sx = photo.width / aligned_face.source_size[0]
    sy = photo.height / aligned_face.source_size[1]
    to_photo = np.diag([sx, sy, 1.0]) @ aligned_face.aligned_to_photo(edited.width)

    step = min(np.hypot(*to_photo[:2, 0]), np.hypot(*to_photo[:2, 1]))  # photo px per crop px
    weight = feather_mask(edited.width, feather)
    if mask is not None:
        user = mask.convert("L").resize(edited.size, Image.BILINEAR)
        weight = Image.fromarray(np.uint8(np.asarray(weight, np.uint16) * np.asarray(user) // 255), "L")
    if step < 1.0:
        n = max(1, round(edited.width * step))
        edited = edited.resize((n, n), Image.LANCZOS)
        weight = weight.resize((n, n), Image.LANCZOS)
        to_photo = to_photo @ np.diag([edited_aligned.width / n, edited_aligned.width / n, 1.0])

    corners = to_photo @ np.array([[0, 0, 1], [0, edited.width, 1], [edited.width, edited.width, 1],
                                   [edited.width, 0, 1]], dtype=np.float64).T
    x0 = max(0, math.floor(corners[0].min()))
    y0 = max(0, math.floor(corners[1].min()))
    x1 = min(photo.width, math.ceil(corners[0].max()))
    y1 = min(photo.height, math.ceil(corners[1].max()))
    if x1 <= x0 or y1 <= y0:
        return photo.copy()
    box_to_crop = np.linalg.inv(to_photo) @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], dtype=np.float64)
    coeffs = tuple(box_to_crop[:2].flatten())
    size = (x1 - x0, y1 - y0)
    warped = edited.transform(size, Image.AFFINE, coeffs, Image.BICUBIC)
    warped_mask = weight.transform(size, Image.AFFINE, coeffs, Image.BILINEAR, fillcolor=0)
    out = photo.copy()
    out.paste(Image.composite(warped, photo.crop((x0, y0, x1, y1)), warped_mask), (x0, y0))
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
