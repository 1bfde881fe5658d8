"""Generator output tensors to pixels and files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.fileio import atomic_path


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """[B, 3, H, W] in [-1, 1] -> [B, H, W, 3] uint8, as ``img * 127.5 + 128`` clamped and truncated."""
    out = (img.detach().float().permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return out.cpu().numpy()


def to_pil(img: torch.Tensor, size: int | None = None) -> Image.Image:
    """The first image of a batch as PIL RGB, Lanczos-resized to ``size`` when it differs."""
    pil = Image.fromarray(to_uint8(img[:1])[0], "RGB")
    if size and pil.size != (size, size):
        pil = pil.resize((size, size), Image.LANCZOS)
    return pil


def save_image_atomic(pil: Image.Image, path: str | os.PathLike, **save_kwargs) -> None:
    """Write to a temporary name beside ``path`` and rename, so no half-written file is ever left."""
    path = Path(path)
    fmt = (path.suffix.lstrip(".") or "png").upper()
    fmt = {"JPG": "JPEG", "TIF": "TIFF"}.get(fmt, fmt)
    with atomic_path(path) as tmp:
        pil.save(tmp, format=fmt, **save_kwargs)
