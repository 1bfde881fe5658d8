"""The demo faces in other looks ("domains"), pixel-aligned with the photo domain.

All domains draw the same :class:`~engine.demo_world.faces.Scene`, so ``render(p, "photo")`` and
``render(p, "sketch")`` are an exact pair: same geometry, different appearance. Like the paper's
target domains they range from close to the source (``clay``: same colours, 3-D shading) to far
(``woodcut``: black ink line-screen, no colour).
"""

from __future__ import annotations

import colorsys

import numpy as np

from .faces import FaceParams, Scene, build_scene, composite, param_seed, render_photo, to_uint8
from .geometry import Canvas, box_blur, downsample, gradient_magnitude, smoothstep, value_noise

#: Domain name -> one-line description (roughly ordered from close to far from the photo domain).
DOMAINS: dict[str, str] = {
    "photo": "the source domain: shaded colour faces",
    "clay": "close: the same colours as soft plasticine with 3-D lighting and no texture",
    "pop_art": "medium: flat posterised poster colours, thick black outlines, halftone background",
    "sketch": "far: graphite pencil lines and hatching on paper, no colour",
    "woodcut": "far: black ink line-screen relief print on cream paper",
}


def edge_map(scene: Scene) -> np.ndarray:
    """Visible outlines of every region plus the painted line layers, in [0, 1] at canvas size."""
    vis = scene.visible()
    edges = np.zeros((scene.n, scene.n), np.float32)
    for lay, v in zip(scene.layers, vis, strict=True):
        if lay.kind == "line":
            edges += v
        elif lay.kind != "lens":
            edges += gradient_magnitude(v)
    return np.clip(edges, 0, 1)


def luminance(img: np.ndarray) -> np.ndarray:
    return (img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114).astype(np.float32)


def _thick(edges: np.ndarray, radius: int, gain: float) -> np.ndarray:
    return np.clip(box_blur(edges, radius, passes=1) * gain, 0, 1) if radius > 0 else edges


def _sketch(scene: Scene, cv: Canvas) -> np.ndarray:
    seed = param_seed(scene.params)
    tone = 1 - luminance(composite(scene, use_texture=False))
    paper = np.array([0.97, 0.95, 0.91], np.float32)[None, None] * (0.95 + 0.05 * value_noise(cv.n, 40, seed))[
        ..., None]
    period = 0.018
    hatch1 = 0.5 + 0.5 * np.sin((cv.x + cv.y) * 2 * np.pi / period)
    hatch2 = 0.5 + 0.5 * np.sin((cv.x - cv.y) * 2 * np.pi / period)
    shade = smoothstep(0.45, 0.85, tone) * smoothstep(0.55, 0.9, hatch1)
    shade = np.maximum(shade, smoothstep(0.7, 0.95, tone) * smoothstep(0.55, 0.9, hatch2))
    lines = _thick(edge_map(scene), max(1, cv.n // 256), 2.2)
    jitter = 0.75 + 0.25 * value_noise(cv.n, 24, seed + 7)
    ink = np.clip(lines * jitter + 0.55 * shade, 0, 1)
    graphite = np.array([0.22, 0.22, 0.25], np.float32)
    return paper * (1 - ink[..., None]) + graphite[None, None] * ink[..., None]


def _pop_colour(hue: float, sat: float = 0.85, val: float = 0.95) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, sat, val), np.float32)


def _pop_art(scene: Scene, cv: Canvas) -> np.ndarray:
    p = scene.params
    skin_col = _pop_colour(0.08 + 0.06 * p.skin_warmth - 0.05 * p.skin, 0.45 + 0.3 * p.skin, 1.0 - 0.35 * p.skin)
    hair_col = _pop_colour(p.hair_colour * 0.9 + (0.6 if p.hair_dyed >= 0 else 0.0), 0.9, 0.85)
    bg_col = _pop_colour(p.bg_hue + 0.5, 0.9, 1.0)
    dot_col = _pop_colour(p.bg_hue + 0.35, 0.9, 0.85)
    palette = {"skin": skin_col, "hair": hair_col, "cloth": _pop_colour(p.cloth_hue, 1.0, 0.9),
               "glasses": np.zeros(3, np.float32), "line": np.zeros(3, np.float32)}
    cell = 0.035
    gx = (cv.x % cell) / cell - 0.5
    gy = (cv.y % cell) / cell - 0.5
    dots = cv.cover((np.hypot(gx, gy) - 0.28) * cell)
    out = bg_col[None, None] * (1 - dots[..., None]) + dot_col[None, None] * dots[..., None]
    cx, cy, rx, ry = scene.head
    shadow = ((cv.x - cx) * scene.light[0] + (cv.y - cy) * scene.light[1]) / rx < -0.45
    for lay in scene.layers:
        if lay.kind in palette:
            col = palette[lay.kind][None, None] * np.ones((cv.n, cv.n, 1), np.float32)
        elif lay.kind == "lens":
            continue
        else:  # eyes, lips, mouth: keep the hue, push the saturation
            mean = lay.colour.reshape(-1, 3).mean(0)
            h, s, v = colorsys.rgb_to_hsv(*[float(c) for c in mean])
            col = _pop_colour(h, min(1.0, s * 1.6), min(1.0, v * 1.15))[None, None] * np.ones((cv.n, cv.n, 1))
        if lay.kind == "skin":
            col = np.where(shadow[..., None], col * 0.78, col)
        a = lay.alpha[..., None]
        out = out * (1 - a) + col * a
    lines = _thick(edge_map(scene), max(1, cv.n // 128), 3.0)
    return out * (1 - lines[..., None])


def _clay(scene: Scene, cv: Canvas) -> np.ndarray:
    base = box_blur(composite(scene, use_texture=False), max(1, cv.n // 200))
    grey = luminance(base)[..., None]
    base = np.clip(grey + (base - grey) * 0.85 + 0.04, 0, 1)  # slightly pastel
    r = max(2, cv.n // 40)
    height = np.zeros((cv.n, cv.n), np.float32)
    for lay, v in zip(scene.layers, scene.visible(), strict=True):
        if lay.relief:
            height += lay.relief * box_blur(lay.alpha, r)
        elif lay.kind in ("line", "feature"):
            height -= 0.4 * box_blur(v, max(1, r // 3))
    cx, cy, rx, ry = scene.head
    dome = np.sqrt(np.clip(1 - ((cv.x - cx) / rx) ** 2 - ((cv.y - cy) / ry) ** 2, 0, 1))
    height += 1.5 * box_blur(dome, r)
    height += 0.04 * value_noise(cv.n, 30, param_seed(scene.params))
    gy, gx = np.gradient(height * cv.n * 0.03)
    normal = np.stack([-gx, -gy, np.ones_like(gx)], -1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    light = scene.light
    diffuse = np.clip(normal @ light, 0, 1)
    half = light + np.array([0, 0, 1], np.float32)
    half /= np.linalg.norm(half)
    spec = np.clip(normal @ half, 0, 1) ** 24
    return base * (0.42 + 0.68 * diffuse)[..., None] + 0.22 * spec[..., None]


def _woodcut(scene: Scene, cv: Canvas) -> np.ndarray:
    lum = luminance(composite(scene, use_texture=False))
    cx, cy, rx, ry = scene.head
    # carving strokes follow the head's curvature
    bend = 0.06 * np.sqrt(np.clip(1 - ((cv.x - cx) / (rx * 1.3)) ** 2, 0, 1))
    stripes = 0.5 + 0.5 * np.sin((cv.y + bend) * 2 * np.pi / 0.022)
    ink = smoothstep(0.04, -0.04, lum - (0.18 + 0.62 * stripes))
    lines = _thick(edge_map(scene), max(1, cv.n // 200), 2.5)
    ink = np.clip(np.maximum(ink, lines), 0, 1)
    paper = np.array([0.95, 0.91, 0.82], np.float32)
    black = np.array([0.07, 0.06, 0.06], np.float32)
    return paper[None, None] * (1 - ink[..., None]) + black[None, None] * ink[..., None]


_RENDERERS = {"sketch": _sketch, "pop_art": _pop_art, "clay": _clay, "woodcut": _woodcut}


def render(params: FaceParams, domain: str = "photo", size: int = 256, supersample: int = 2) -> np.ndarray:
    """``params`` drawn in ``domain`` as a [size, size, 3] uint8 array."""
    if domain == "photo":
        return render_photo(params, size, supersample)
    if domain not in _RENDERERS:
        raise ValueError(f"unknown demo domain {domain!r}; choose one of {sorted(DOMAINS)}")
    n = size * supersample
    scene = build_scene(params, n)
    img = _RENDERERS[domain](scene, Canvas(n))
    return to_uint8(downsample(np.clip(img, 0, 1), supersample))
