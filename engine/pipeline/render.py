"""Seeds to images, following NVIDIA's ``generate.py`` conventions."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.fileio import atomic_path
from engine.generator import Generator


def z_from_seed(seed: int, z_dim: int) -> np.ndarray:
    """``np.random.RandomState(seed).randn(1, z_dim)``: seed 42 here is seed 42 in NVIDIA's tools."""
    return np.random.RandomState(seed).randn(1, z_dim)


def w_plus_from_seed(gen: Generator, seed: int, psi: float = 1.0, cutoff: int | None = None) -> torch.Tensor:
    device = gen.w_avg.device
    z = torch.from_numpy(z_from_seed(seed, gen.config.style_dim)).float().to(device)
    with torch.no_grad():
        return gen.truncate(gen.mapping(z), psi, cutoff)


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """[B, 3, H, W] in [-1, 1] -> [B, H, W, 3] uint8, as ``img * 127.5 + 128`` clamped and truncated."""
    out = (img.detach().float().permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return out.cpu().numpy()


def to_pil(img: torch.Tensor, size: int | None = None) -> Image.Image:
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
