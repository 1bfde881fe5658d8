"""Morph animations: a weight schedule over several directions -> one rendered frame per weight vector.

``styledomain direction morph`` and the studio's blend pad use these; writing the animation is
``engine.domains.morph.save_animation`` / ``save_png_sequence``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from PIL import Image

from engine.domains.blendpad import BlendPad, Point
from engine.domains.morph import render_frames, weights_along_path, weights_from_keyframes
from engine.generator import Generator
from engine.jobs import CancelToken, ProgressFn

from .edit import Edit, render_edit_image

__all__ = ["morph_schedule", "pad_anchors", "render_morph"]


def pad_anchors(n: int) -> list[tuple[float, float]]:
    """Blend-pad anchors of ``n`` directions: the unit square's corners (0,0), (1,0), (0,1), (1,1) for 4
    (bilinear weights), else ``n`` points evenly on the unit circle, the first at angle 0."""
    if n == 4:
        return [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]
    return [(math.cos(2 * math.pi * i / n), math.sin(2 * math.pi * i / n)) for i in range(n)]


def morph_schedule(n: int, frames: int, *, pad_path: Sequence[Point] | None = None, from_original: bool = False,
                   loop: bool = False) -> list[list[float]]:
    """``frames`` weight vectors over ``n`` directions.

    With ``pad_path`` the puck moves along it at constant speed on the blend pad (:func:`pad_anchors`);
    otherwise the frames visit each direction in turn (one-hot keyframes), starting from the unedited latent
    with ``from_original`` and returning to the first keyframe with ``loop``.
    """
    if pad_path:
        return weights_along_path(BlendPad(pad_anchors(n)), pad_path, frames)
    keys = [[1.0 if i == j else 0.0 for i in range(n)] for j in range(n)]
    if from_original:
        keys.insert(0, [0.0] * n)
    if loop:
        keys.append(list(keys[0]))
    return weights_from_keyframes(keys, frames)


def render_morph(generator: Generator, w_plus: torch.Tensor | int, edit: Edit, weights: Sequence[Sequence[float]],
                 *, size: int | None = None, progress: ProgressFn | None = None, cancel: CancelToken | None = None,
                 **render_kwargs) -> list[Image.Image]:
    """One frame per weight vector: ``edit`` with those direction weights, rendered by
    :func:`~engine.pipeline.edit.render_edit_image` (``size`` and other keyword arguments as there).

    Progress: ``job="morph"``, one step per frame (the frame as ``preview``), through
    :func:`engine.domains.morph.render_frames`. Cancel is checked before each frame and raises
    :class:`~engine.jobs.Cancelled` (no partial animation is returned).
    """
    def render(ws: Sequence[float]) -> Image.Image:
        return render_edit_image(generator, w_plus, edit.with_weights(ws), size=size, **render_kwargs)

    return render_frames(weights, render, progress, cancel)
