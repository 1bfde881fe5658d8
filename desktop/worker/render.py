"""Render a :class:`RenderSpec` through the engine (worker thread only)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from PySide6.QtGui import QImage

from engine.domains.blend import DirectionTerm
from engine.pipeline.edit import DeltaTerm, Edit, render_edit
from engine.pipeline.images import to_pil

from .requests import RenderSpec
from .store import ModelStore


def spec_edit(store: ModelStore, spec: RenderSpec) -> tuple[Edit, int | torch.Tensor]:
    """The engine :class:`Edit` of ``spec`` (its directions and deltas from the store) and its latent (a seed
    or W+)."""
    terms = tuple(DirectionTerm(store.direction(d.path), d.weight, d.layers, d.path, d.style_mix)
                  for d in spec.directions)
    deltas = tuple(DeltaTerm(store.delta(x.path), x.weight, x.path) for x in spec.deltas)
    edit = Edit(terms, deltas, spec.strength, spec.psi, keep=spec.keep)
    return edit, int(spec.seed or 0) if spec.w_plus is None else spec.w_plus


def render_spec(store: ModelStore, spec: RenderSpec, max_resolution: int | None = None,
                precision: str = "fp32") -> Image.Image:
    """The edited image at ``max_resolution`` (an early-exit synthesis resolution; None = full size),
    through :func:`engine.pipeline.edit.render_edit` (``precision``: fp32, or fp16/bf16 previews where the
    device supports them)."""
    gen = store.generator(spec.model_path).generator
    edit, latent = spec_edit(store, spec)
    size = max_resolution if max_resolution in gen.config.resolutions else None
    with torch.no_grad():
        img = render_edit(gen, latent, edit, size=size, noise_mode=spec.noise_mode, noise_seed=spec.noise_seed,
                          precision=precision)
    return to_pil(img[:1].float().cpu())


def paste_into_photo(store: ModelStore, spec: RenderSpec, aligned: Image.Image) -> Image.Image | None:
    """The edited face pasted back into its photo; None when the spec has no photo alignment."""
    if not spec.photo_path or not spec.alignment or spec.alignment.get("method") != "ffhq":
        return None
    from engine.alignment import AlignedFace, paste_back

    a = spec.alignment
    face = AlignedFace(aligned, np.asarray(a["quad"], dtype=np.float64), tuple(a["source_size"]), a.get("method"))
    return paste_back(store.photo(spec.photo_path), aligned, face)


def pil_to_qimage(pil: Image.Image) -> QImage:
    """A QImage owning its pixels (safe to hand to the GUI thread)."""
    rgb = pil.convert("RGB")
    data = rgb.tobytes()
    img = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return img.copy()
