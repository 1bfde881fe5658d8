"""Reference images for an adaptation: loaded, aligned (or taken as aligned), inverted to W+."""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from engine.errors import UserError
from engine.jobs import CancelToken, ProgressFn

THUMB = 64


@dataclass
class Reference:
    """One reference: the image at the generator's size [1, 3, S, S] in [-1, 1] and its W+ [num_ws, D]."""

    image: torch.Tensor
    w_plus: torch.Tensor
    name: str = "reference"
    sha256: str = ""
    psnr: float | None = None


def png_thumbnail(img: torch.Tensor, size: int = THUMB) -> bytes:
    from engine.pipeline.images import to_pil

    buf = io.BytesIO()
    to_pil(img.detach().cpu(), size).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def prepare_reference(item, loaded, *, aligned: bool = False, centre_crop: bool = False, encoder=None,
                      invert_steps: int = 50, progress: ProgressFn | None = None,
                      cancel: CancelToken | None = None) -> Reference:
    """A path, a PIL image, or a ready :class:`Reference`, as a :class:`Reference` (inverting as needed)."""
    from engine.inversion import invert_image, invert_photo

    if isinstance(item, Reference):
        return item
    kwargs = {"progress": progress, "cancel": cancel}
    if isinstance(item, (str, os.PathLike)):
        path = Path(item)
        from engine.alignment import NoFaceFound

        try:
            res = invert_photo(path, loaded, encoder, invert_steps, aligned=aligned, centre_crop=centre_crop,
                               **kwargs)
        except NoFaceFound:
            raise UserError(f"{path}: no face found in the reference; if it already is a face crop like the "
                            "model's images pass --aligned, or pass --centre-crop to use its centred square"
                            ) from None
        return Reference(res.target, res.w_plus, path.stem, res.photo_sha256, res.psnr)
    if isinstance(item, Image.Image):
        buf = io.BytesIO()
        item.convert("RGB").save(buf, format="PNG")
        res = invert_image(item, loaded, encoder, invert_steps, **kwargs)
        return Reference(res.target, res.w_plus, "image", _sha256_bytes(buf.getvalue()), res.psnr)
    raise TypeError(f"a reference must be a path, a PIL image or a Reference, not {type(item).__name__}")
