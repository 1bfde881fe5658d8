"""Morph export: a path through the blend pad (or weight keyframes) -> frames -> animation / PNG sequence.

Frame ``i`` of ``n`` sits at parameter ``t = i / (n - 1)`` along the path, measured by arc length
(so the puck moves at constant speed), or linearly between equally spaced weight keyframes.
Animated WebP and GIF are written with Pillow, ``duration_ms`` per frame, looping forever.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image

from engine.errors import UserError
from engine.fileio import atomic_path, write_together
from engine.jobs import Cancelled, CancelToken, ProgressFn, check_cancel, report

from .blendpad import BlendPad, Point

ANIMATION_SUFFIXES = (".webp", ".gif")


__all__ = ["ANIMATION_SUFFIXES", "Cancelled", "points_along_path", "render_frames", "save_animation",
           "save_png_sequence", "weights_along_path", "weights_from_keyframes"]


def points_along_path(path: Sequence[Point], frames: int) -> list[Point]:
    """``frames`` points spaced evenly by arc length along the polyline ``path`` (ends included)."""
    if frames < 1:
        raise UserError(f"frame count must be at least 1, got {frames}")
    pts = [(float(x), float(y)) for x, y in path]
    if not pts:
        raise UserError("a morph path needs at least one point")
    if len(pts) == 1:
        return [pts[0]] * frames
    if frames == 1:
        return [pts[0]]
    seg = [math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(pts, pts[1:], strict=False)]
    total = sum(seg)
    if total == 0:
        return [pts[0]] * frames
    out = []
    for i in range(frames):
        target = total * i / (frames - 1)
        j, acc = 0, 0.0
        while j < len(seg) - 1 and acc + seg[j] < target:
            acc += seg[j]
            j += 1
        f = 0.0 if seg[j] == 0 else min(max((target - acc) / seg[j], 0.0), 1.0)
        a, b = pts[j], pts[j + 1]
        out.append((a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])))
    return out


def weights_along_path(pad: BlendPad, path: Sequence[Point], frames: int) -> list[list[float]]:
    return [pad.weights(p) for p in points_along_path(path, frames)]


def weights_from_keyframes(keyframes: Sequence[Sequence[float]], frames: int) -> list[list[float]]:
    """Linear interpolation between equally spaced keyframes of weight vectors (all the same length)."""
    if frames < 1:
        raise UserError(f"frame count must be at least 1, got {frames}")
    keys = [[float(w) for w in k] for k in keyframes]
    if not keys:
        raise UserError("a morph needs at least one keyframe")
    if len({len(k) for k in keys}) != 1:
        raise UserError("all keyframes must have the same number of weights")
    if len(keys) == 1 or frames == 1:
        return [list(keys[0]) for _ in range(frames)]
    out = []
    for i in range(frames):
        pos = (len(keys) - 1) * i / (frames - 1)
        j = min(int(pos), len(keys) - 2)
        f = pos - j
        out.append([(1 - f) * a + f * b for a, b in zip(keys[j], keys[j + 1], strict=True)])
    return out


def render_frames(weights: Sequence[Sequence[float]], render: Callable[[Sequence[float]], Image.Image],
                  progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> list[Image.Image]:
    """Call ``render(weights)`` per frame. Progress (job ``"morph"``): one report per frame, with the frame
    as ``preview``. A cancel (checked before every frame) raises :class:`engine.jobs.Cancelled`: a partial
    animation is of no use."""
    frames = []
    for i, w in enumerate(weights):
        check_cancel(cancel, "morph")
        frames.append(render(w))
        report(progress, "morph", i + 1, len(weights), f"frame {i + 1} of {len(weights)}", preview=frames[-1])
    return frames


def save_animation(frames: Sequence[Image.Image], path: str | os.PathLike, duration_ms: int = 80,
                   loop: int = 0) -> Path:
    """Animated ``.webp`` (lossless) or ``.gif``, written atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ANIMATION_SUFFIXES:
        raise UserError(f"{path}: animation must end in .webp or .gif")
    if not frames:
        raise UserError("no frames to write")
    if duration_ms <= 0:
        raise UserError(f"frame duration must be positive, got {duration_ms} ms")
    rgb = [f.convert("RGB") for f in frames]
    kwargs: dict = {"save_all": True, "append_images": rgb[1:], "duration": int(duration_ms), "loop": loop}
    if suffix == ".webp":
        kwargs.update(lossless=True, format="WEBP")
    else:
        kwargs.update(format="GIF", disposal=1)
    with atomic_path(path) as tmp:
        rgb[0].save(tmp, **kwargs)
    return path


def save_png_sequence(frames: Sequence[Image.Image], folder: str | os.PathLike, prefix: str = "frame", *,
                      progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> list[Path]:
    """``prefix_0000.png`` ... in ``folder`` (created if missing): all frames or none.

    The frames are written together (:func:`engine.fileio.write_together`, joining the caller's block if
    there is one): a failure (a full disk) or a cancel (checked before every frame, raises
    :class:`engine.jobs.Cancelled`) leaves no frame behind, and removes the folder if this call created it.
    Progress: job ``"png-sequence"``, one step per frame written.
    """
    folder = Path(folder)
    created = _make_folder(folder)
    digits = max(4, len(str(len(frames) - 1)))
    targets = [folder / f"{prefix}_{i:0{digits}d}.png" for i in range(len(frames))]
    try:
        with write_together():
            for i, (frame, target) in enumerate(zip(frames, targets, strict=True)):
                check_cancel(cancel, "png-sequence")
                with atomic_path(target) as tmp:
                    frame.save(tmp, format="PNG")
                report(progress, "png-sequence", i + 1, len(frames), f"wrote {target.name}")
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return targets


def _make_folder(folder: Path) -> bool:
    """Create ``folder`` (and its parents); True when this call created it."""
    if folder.is_dir():
        return False
    folder.mkdir(parents=True, exist_ok=True)
    return True
