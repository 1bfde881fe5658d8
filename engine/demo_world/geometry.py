"""Anti-aliased 2-D shapes on a normalised pixel grid (numpy only).

Shapes are signed-distance fields in canvas units (the canvas spans [0, 1] in x and y);
:meth:`Canvas.cover` turns a distance into pixel coverage with a one-pixel soft edge, and the
renderers draw at a supersampled size and average down, so edges come out anti-aliased.
"""

from __future__ import annotations

import numpy as np


class Canvas:
    """Pixel-centre coordinates ``x, y`` in [0, 1] of an ``n`` x ``n`` grid."""

    def __init__(self, n: int) -> None:
        self.n = n
        c = (np.arange(n, dtype=np.float32) + 0.5) / n
        self.y, self.x = np.meshgrid(c, c, indexing="ij")
        self.px = 1.0 / n

    def cover(self, sdf: np.ndarray, soft: float = 1.0) -> np.ndarray:
        """Coverage in [0, 1]: 1 inside (sdf < 0), a ``soft``-pixel ramp across the edge."""
        return np.clip(0.5 - sdf / (self.px * soft), 0.0, 1.0).astype(np.float32)

    def zeros(self) -> np.ndarray:
        return np.zeros((self.n, self.n), np.float32)


def ellipse(cv: Canvas, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    """Approximate signed distance to an axis-aligned ellipse."""
    r = np.sqrt(((cv.x - cx) / rx) ** 2 + ((cv.y - cy) / ry) ** 2)
    return (r - 1.0) * min(rx, ry)


def superellipse(cv: Canvas, cx: float, cy: float, rx: float, ry: float, p: float) -> np.ndarray:
    """Approximate signed distance to ``|dx/rx|^p + |dy/ry|^p = 1`` (p=2 ellipse, larger = squarer)."""
    f = np.abs((cv.x - cx) / rx) ** p + np.abs((cv.y - cy) / ry) ** p
    return (f ** (1.0 / p) - 1.0) * min(rx, ry)


def rounded_rect(cv: Canvas, cx: float, cy: float, hw: float, hh: float, r: float) -> np.ndarray:
    qx = np.abs(cv.x - cx) - hw + r
    qy = np.abs(cv.y - cy) - hh + r
    outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
    return outside + np.minimum(np.maximum(qx, qy), 0) - r


def polyline_distance(cv: Canvas, pts: np.ndarray, margin: float = 0.08) -> np.ndarray:
    """Unsigned distance to a polyline given as ``[K, 2]`` points (x, y).

    Computed exactly inside the points' bounding box grown by ``margin``; outside it the value is
    ``margin`` (every pixel there is at least that far away, enough for any stroke drawn with it).
    """
    pts = np.asarray(pts, np.float32)
    n = cv.n
    c0 = max(0, int((pts[:, 0].min() - margin) * n))
    c1 = min(n, int((pts[:, 0].max() + margin) * n) + 1)
    r0 = max(0, int((pts[:, 1].min() - margin) * n))
    r1 = min(n, int((pts[:, 1].max() + margin) * n) + 1)
    out = np.full(cv.x.shape, margin, np.float32)
    if c0 >= c1 or r0 >= r1:
        return out
    x, y = cv.x[r0:r1, c0:c1], cv.y[r0:r1, c0:c1]
    best = np.full(x.shape, np.inf, np.float32)
    for (ax, ay), (bx, by) in zip(pts[:-1], pts[1:], strict=True):
        dx, dy = bx - ax, by - ay
        ll = dx * dx + dy * dy + 1e-12
        t = np.clip(((x - ax) * dx + (y - ay) * dy) / ll, 0.0, 1.0)
        d = np.hypot(x - ax - t * dx, y - ay - t * dy)
        np.minimum(best, d, out=best)
    out[r0:r1, c0:c1] = best
    return out


def curve(cx: float, cy: float, half_width: float, bend: float, k: int = 17, tilt: float = 0.0) -> np.ndarray:
    """A parabola through ``(cx +- half_width, cy + tilt*sign)`` whose middle is ``bend`` lower."""
    t = np.linspace(-1.0, 1.0, k, dtype=np.float32)
    return np.stack([cx + t * half_width, cy + bend * (1 - t * t) + tilt * t], axis=1)


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def box_blur(a: np.ndarray, radius: int, passes: int = 2) -> np.ndarray:
    """Separable box blur (repeated, so about Gaussian) with edge padding; works on [H, W] or [H, W, C]."""
    if radius <= 0:
        return a
    out = a.astype(np.float32)
    k = 2 * radius + 1
    for _ in range(passes):
        for axis in (0, 1):
            pad = [(0, 0)] * out.ndim
            pad[axis] = (radius + 1, radius)
            c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis, dtype=np.float64)
            hi = np.take(c, np.arange(k, k + out.shape[axis]), axis=axis)
            lo = np.take(c, np.arange(0, out.shape[axis]), axis=axis)
            out = ((hi - lo) / k).astype(np.float32)
    return out


def gradient_magnitude(a: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient(a)
    return np.hypot(gx, gy).astype(np.float32)


def downsample(img: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor`` x ``factor`` blocks of an [H, W, C] float image."""
    if factor == 1:
        return img
    h, w, c = img.shape
    return img.reshape(h // factor, factor, w // factor, factor, c).mean(axis=(1, 3))


def value_noise(n: int, cells: int, seed: int) -> np.ndarray:
    """Smooth deterministic noise in [0, 1] on an ``n`` x ``n`` grid (bilinear cells)."""
    rng = np.random.RandomState(seed % (2**32))
    grid = rng.rand(cells + 1, cells + 1).astype(np.float32)
    t = np.linspace(0, cells, n, endpoint=False, dtype=np.float32)
    i = np.minimum(t.astype(int), cells - 1)
    f = t - i
    f = f * f * (3 - 2 * f)
    a = grid[i][:, i] * (1 - f)[None, :] + grid[i][:, i + 1] * f[None, :]
    b = grid[i + 1][:, i] * (1 - f)[None, :] + grid[i + 1][:, i + 1] * f[None, :]
    return a * (1 - f)[:, None] + b * f[:, None]
