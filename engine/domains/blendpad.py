"""The 2D blend pad: anchors at 2D positions, a puck position -> one weight per anchor (pure maths).

* Four anchors on the corners of an axis-aligned rectangle: bilinear weights, as NVIDIA's
  StyleGAN3 visualizer latent widget blends its four neighbouring seeds. The puck is clamped to
  the rectangle.
* Any other arrangement (N >= 1 anchors): Shepard inverse-distance weights
  ``w_i = d_i^-p / sum_k d_k^-p`` (p = 2 by default): a partition of unity, smooth away from the
  anchors, exactly 1 at an anchor (and 0 for the others there).

Weights are always non-negative and sum to 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Point = tuple[float, float]


def bilinear_weights(u: float, v: float) -> list[float]:
    """Weights for corners (0,0), (1,0), (0,1), (1,1) at (u, v), clamped to the unit square."""
    u = min(max(u, 0.0), 1.0)
    v = min(max(v, 0.0), 1.0)
    return [(1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v]


def inverse_distance_weights(anchors: Sequence[Point], puck: Point, power: float = 2.0) -> list[float]:
    """Shepard weights; an exact anchor hit gets weight 1 (the first of coincident anchors)."""
    if not anchors:
        raise ValueError("a blend pad needs at least one anchor")
    dists = [math.hypot(puck[0] - ax, puck[1] - ay) for ax, ay in anchors]
    nearest = min(dists)
    if nearest == 0.0:
        hit = dists.index(0.0)
        return [1.0 if i == hit else 0.0 for i in range(len(anchors))]
    # (d_min / d_i)^p: the same ratios as d_i^-p, without overflow for tiny distances.
    rel = [(nearest / d) ** power for d in dists]
    total = sum(rel)
    return [w / total for w in rel]


def _rectangle_order(anchors: Sequence[Point]) -> list[int] | None:
    """If the 4 anchors are the corners of an axis-aligned rectangle: indices of (x0y0, x1y0, x0y1, x1y1)."""
    if len(anchors) != 4:
        return None
    xs = sorted({a[0] for a in anchors})
    ys = sorted({a[1] for a in anchors})
    if len(xs) != 2 or len(ys) != 2:
        return None
    corners = [(xs[0], ys[0]), (xs[1], ys[0]), (xs[0], ys[1]), (xs[1], ys[1])]
    pts = [tuple(a) for a in anchors]
    if sorted(pts) != sorted(corners):
        return None
    return [pts.index(c) for c in corners]


@dataclass
class BlendPad:
    """Anchors (one per direction / generator) at 2D positions; ``weights(puck)`` maps a puck to weights."""

    anchors: list[Point]
    mode: str = "auto"  # "auto" | "bilinear" | "idw"
    power: float = 2.0

    def __post_init__(self) -> None:
        self.anchors = [(float(x), float(y)) for x, y in self.anchors]
        if not self.anchors:
            raise ValueError("a blend pad needs at least one anchor")
        if any(not (math.isfinite(x) and math.isfinite(y)) for x, y in self.anchors):
            raise ValueError("anchor positions must be finite")
        if self.mode not in ("auto", "bilinear", "idw"):
            raise ValueError(f"unknown blend pad mode {self.mode!r}")
        self._rect = _rectangle_order(self.anchors)
        if self.mode == "bilinear" and self._rect is None:
            raise ValueError("bilinear mode needs 4 anchors on the corners of an axis-aligned rectangle")

    @property
    def uses_bilinear(self) -> bool:
        return self._rect is not None and self.mode in ("auto", "bilinear")

    def weights(self, puck: Point) -> list[float]:
        if not (math.isfinite(puck[0]) and math.isfinite(puck[1])):
            raise ValueError("puck position must be finite")
        if not self.uses_bilinear:
            return inverse_distance_weights(self.anchors, puck, self.power)
        order = self._rect
        assert order is not None
        (x0, y0), (x1, y1) = self.anchors[order[0]], self.anchors[order[3]]
        bw = bilinear_weights((puck[0] - x0) / (x1 - x0), (puck[1] - y0) / (y1 - y0))
        out = [0.0] * 4
        for corner, idx in enumerate(order):
            out[idx] = bw[corner]
        return out
