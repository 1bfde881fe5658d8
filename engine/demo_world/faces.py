"""Procedural faces: the demo world's "photo" domain.

Every face is a :class:`FaceParams`, a deterministic function of a latent vector ``z``. A seed
gives ``z = np.random.RandomState(seed).randn(1, z_dim)`` exactly as NVIDIA's ``generate.py`` (and
``styledomain render --seed``) do, and the face is read from the first :data:`N_PARAMS` entries, so
a generator trained on these faces can learn ``z -> face`` for any seed.

The face is built once as a :class:`Scene` (ordered coverage layers with colours and relief) that
all domain renderers in :mod:`engine.demo_world.domains` share: the same parameters in two domains
give pixel-aligned pairs. Faces are placed like FFHQ-aligned crops: eyes near (0.375, 0.47) and
(0.625, 0.47), mouth near (0.5, 0.74) of the image.
"""

from __future__ import annotations

import colorsys
import hashlib
import math
from dataclasses import dataclass, field, fields

import numpy as np

from .geometry import (
    Canvas,
    box_blur,
    curve,
    downsample,
    ellipse,
    polyline_distance,
    rounded_rect,
    smoothstep,
    value_noise,
)

#: Number of ``z`` entries that decide a face (z_dim of a demo generator must be at least this).
N_PARAMS = 32

HAIR_STYLES = ("bald", "crop", "side_part", "bangs", "bob", "long", "curly", "bun")
SKIN_TONES = np.array([(255, 226, 200), (243, 198, 165), (226, 172, 132), (198, 136, 96),
                       (160, 104, 68), (118, 76, 50), (82, 54, 38)], np.float32) / 255
HAIR_COLOURS = np.array([(24, 20, 18), (58, 40, 30), (104, 70, 44), (150, 72, 38), (196, 150, 88),
                         (226, 204, 150), (236, 230, 214)], np.float32) / 255
DYED_COLOURS = np.array([(60, 90, 180), (200, 80, 140), (80, 160, 120), (140, 140, 150)], np.float32) / 255
EYE_COLOURS = np.array([(40, 26, 18), (96, 60, 32), (120, 100, 50), (80, 120, 70), (70, 120, 175),
                        (112, 124, 136)], np.float32) / 255


def _cdf(v: float) -> float:
    """Standard normal CDF: a N(0, 1) entry of z -> uniform in (0, 1)."""
    return 0.5 * (1.0 + math.erf(v / math.sqrt(2.0)))


def _lerp_palette(pal: np.ndarray, t: float) -> np.ndarray:
    t = float(np.clip(t, 0.0, 1.0)) * (len(pal) - 1)
    i = min(int(t), len(pal) - 2)
    f = t - i
    return pal[i] * (1 - f) + pal[i + 1] * f


@dataclass(frozen=True)
class FaceParams:
    """Everything that decides one face; each field in [0, 1] unless noted."""

    face_width: float = 0.5
    face_length: float = 0.5
    jaw: float = 0.5  # 0 round .. 1 square
    chin: float = 0.5  # chin taper
    skin: float = 0.3  # light .. dark along SKIN_TONES
    skin_warmth: float = 0.5
    hair_style: int = 1  # index into HAIR_STYLES
    hair_colour: float = 0.2  # along HAIR_COLOURS
    hair_dyed: int = -1  # -1 natural, else index into DYED_COLOURS
    hair_volume: float = 0.5
    hair_length: float = 0.5
    eye_size: float = 0.5
    eye_open: float = 0.5
    eye_colour: float = 0.2  # along EYE_COLOURS
    eye_spacing: float = 0.5
    brow_thickness: float = 0.5
    brow_raise: float = 0.5
    brow_angle: float = 0.5
    nose_length: float = 0.5
    nose_width: float = 0.5
    mouth_width: float = 0.5
    smile: float = 0.5  # 0 frown .. 1 big smile
    mouth_open: float = 0.0
    lip_tint: float = 0.5
    glasses: int = 0  # 0 none, 1 round, 2 rectangular
    glasses_colour: float = 0.2
    beard: int = 0  # 0 none, 1 stubble, 2 full
    bg_hue: float = 0.6
    bg_light: float = 0.5
    bg_style: int = 0  # 0 vertical gradient, 1 radial, 2 two-tone
    cloth_hue: float = 0.3
    light_angle: float = 0.5  # key light from the left (0) .. right (1)
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_z(cls, z: np.ndarray) -> FaceParams:
        """Read a face from the first :data:`N_PARAMS` entries of a N(0, 1) vector."""
        z = np.asarray(z, dtype=np.float64).reshape(-1)
        if z.size < N_PARAMS:
            raise ValueError(f"z needs at least {N_PARAMS} entries, got {z.size}")
        u = [_cdf(v) for v in z[:N_PARAMS]]

        def pick(v: float, n: int) -> int:
            return min(int(v * n), n - 1)

        glasses = 0 if u[24] < 0.72 else (1 if u[24] < 0.86 else 2)
        beard = 0 if u[26] < 0.78 else (1 if u[26] < 0.89 else 2)
        return cls(
            face_width=u[0], face_length=u[1], jaw=u[2], chin=u[3], skin=u[4], skin_warmth=u[5],
            hair_style=pick(u[6], len(HAIR_STYLES)), hair_colour=u[7],
            hair_dyed=-1 if u[8] < 0.88 else pick((u[8] - 0.88) / 0.12, len(DYED_COLOURS)),
            hair_volume=u[9], hair_length=u[10], eye_size=u[11], eye_open=u[12], eye_colour=u[13],
            eye_spacing=u[14], brow_thickness=u[15], brow_raise=u[16], brow_angle=u[17],
            nose_length=u[18], nose_width=u[19], mouth_width=u[20], smile=u[21],
            mouth_open=max(0.0, (u[22] - 0.55) / 0.45), lip_tint=u[23], glasses=glasses,
            glasses_colour=u[25], beard=beard, bg_hue=u[27], bg_light=u[28], bg_style=pick(u[29], 3),
            cloth_hue=u[30], light_angle=u[31],
        )

    @classmethod
    def from_seed(cls, seed: int) -> FaceParams:
        """``FaceParams.from_z(np.random.RandomState(seed).randn(N_PARAMS))``.

        numpy's legacy ``randn`` fills values in order, so these are the first entries of
        ``RandomState(seed).randn(1, z_dim)`` for any ``z_dim >= N_PARAMS``.
        """
        return cls.from_z(np.random.RandomState(seed).randn(N_PARAMS))

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}

    # ---- derived colours -------------------------------------------------------------------------
    @property
    def skin_rgb(self) -> np.ndarray:
        base = _lerp_palette(SKIN_TONES, self.skin)
        warm = np.array([1.03, 1.0, 0.94], np.float32) ** (self.skin_warmth * 2 - 1)
        return np.clip(base * warm, 0, 1)

    @property
    def hair_rgb(self) -> np.ndarray:
        if self.hair_dyed >= 0:
            return DYED_COLOURS[self.hair_dyed]
        return _lerp_palette(HAIR_COLOURS, self.hair_colour**1.3)

    @property
    def eye_rgb(self) -> np.ndarray:
        return _lerp_palette(EYE_COLOURS, self.eye_colour)

    @property
    def lip_rgb(self) -> np.ndarray:
        red = np.array([0.72, 0.30, 0.32], np.float32)
        return np.clip(self.skin_rgb * (0.55 + 0.2 * self.lip_tint) + red * (0.25 + 0.2 * self.lip_tint), 0, 1)

    @property
    def bg_rgb(self) -> np.ndarray:
        return np.array(colorsys.hsv_to_rgb(self.bg_hue, 0.15 + 0.45 * (1 - self.bg_light), 0.45 + 0.5 * self.bg_light),
                        np.float32)

    @property
    def cloth_rgb(self) -> np.ndarray:
        return np.array(colorsys.hsv_to_rgb(self.cloth_hue, 0.55, 0.35 + 0.4 * self.bg_light), np.float32)

    @property
    def glasses_rgb(self) -> np.ndarray:
        return _lerp_palette(np.array([(0.08, 0.08, 0.09), (0.45, 0.25, 0.12), (0.7, 0.6, 0.3),
                                       (0.6, 0.1, 0.15)], np.float32), self.glasses_colour)

    @property
    def hair_style_name(self) -> str:
        return HAIR_STYLES[self.hair_style]


@dataclass
class Layer:
    """One painted region: coverage ``alpha`` [N, N], colour [3] or [N, N, 3], relief for 3-D looks."""

    name: str
    kind: str  # "skin" | "hair" | "eye" | "feature" | "line" | "cloth" | "glasses" | "lens"
    alpha: np.ndarray
    colour: np.ndarray
    relief: float = 0.0
    texture: np.ndarray | None = None  # optional [N, N] multiplicative detail for the photo look


@dataclass
class Scene:
    """A face as ordered layers over a background, at canvas size ``n``."""

    params: FaceParams
    n: int
    background: np.ndarray  # [N, N, 3]
    layers: list[Layer]
    light: np.ndarray  # unit 3-vector toward the key light
    head: tuple[float, float, float, float]  # cx, cy, rx, ry of the head ellipsoid

    def visible(self) -> list[np.ndarray]:
        """Each layer's visible coverage after the layers above it."""
        out = [lay.alpha.copy() for lay in self.layers]
        above = np.ones((self.n, self.n), np.float32)
        for i in range(len(self.layers) - 1, -1, -1):
            out[i] *= above
            above = above * (1 - self.layers[i].alpha)
        return out


@dataclass(frozen=True)
class Landmarks:
    """Image-relative (x, y) of the eye centres and the mouth centre."""

    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    mouth: tuple[float, float]


def landmarks(p: FaceParams) -> Landmarks:
    half = 0.118 + 0.014 * (p.eye_spacing - 0.5)
    return Landmarks((0.5 - half, 0.47), (0.5 + half, 0.47), (0.5, 0.74))


def param_seed(p: FaceParams) -> int:
    """A stable integer from the parameters, for texture noise (same face -> same grain)."""
    text = repr(sorted((k, round(v, 6) if isinstance(v, float) else v) for k, v in p.as_dict().items()))
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _head(p: FaceParams) -> tuple[float, float, float, float]:
    rx = 0.245 + 0.05 * p.face_width
    ry = 0.33 + 0.045 * p.face_length
    return 0.5, 0.895 - ry, rx, ry  # chin near y = 0.895


def _face_sdf(cv: Canvas, p: FaceParams) -> np.ndarray:
    cx, cy, rx, ry = _head(p)
    dy = np.clip((cv.y - cy) / ry, 0.0, 1.0)
    taper = 1.0 - (0.10 + 0.22 * p.chin) * dy**2
    expo = 2.0 + 1.4 * p.jaw * dy
    f = np.abs((cv.x - cx) / (rx * taper)) ** expo + np.abs((cv.y - cy) / ry) ** expo
    return (f ** (1.0 / expo) - 1.0) * rx


def _hair_layers(cv: Canvas, p: FaceParams, face: np.ndarray, colour: np.ndarray,
                 texture: np.ndarray) -> tuple[list[Layer], list[Layer]]:
    """(layers behind the head, layers in front of the face)."""
    cx, cy, rx, ry = _head(p)
    style = p.hair_style_name
    vol = 0.012 + 0.03 * p.hair_volume
    back: list[Layer] = []
    front: list[Layer] = []
    if style == "bald":
        return back, front
    top_y = cy - ry - vol
    cap_r = (rx + vol, cy - top_y)
    cap = ellipse(cv, cx, cy, cap_r[0] + 0.006, cap_r[1])
    ang = np.arctan2(cv.y - cy, cv.x - cx)
    if style == "curly":
        cap = ellipse(cv, cx, cy - 0.01, rx + vol + 0.05, cap_r[1] + 0.04) + 0.012 * np.sin(ang * 18)
    # Hairline: the cap covers the skin above it.
    hx = (cv.x - cx) / rx
    if style == "bangs":
        hairline = cy - ry * 0.36 + 0.015 * np.sin(hx * 14) * (1 - hx * hx)
    elif style == "side_part":
        hairline = cy - ry * 0.62 + 0.10 * np.clip(0.5 - hx, 0, 1.5) ** 1.5 * ry
    elif style == "crop":
        hairline = cy - ry * 0.66 + 0.25 * ry * hx * hx
    else:
        hairline = cy - ry * 0.58 + 0.18 * ry * hx * hx
    sides = np.where(np.abs(hx) > 0.86, cy - ry * 0.05, hairline)  # sideburns
    line = np.minimum(hairline, sides) if style != "crop" else hairline
    cap_alpha = cv.cover(cap) * smoothstep(line + 0.004, line - 0.004, cv.y)
    if style in ("long", "bob", "curly", "side_part") or style == "bun":
        length = {"long": 0.98 + 0.1 * p.hair_length, "bob": 0.74 + 0.06 * p.hair_length,
                  "curly": 0.8 + 0.1 * p.hair_length, "side_part": 0.6, "bun": 0.55}[style]
        widen = {"curly": 0.07, "long": 0.035, "bob": 0.045}.get(style, 0.0)
        back_sdf = rounded_rect(cv, cx, (top_y + length) / 2, rx + vol + widen, (length - top_y) / 2, rx * 0.9)
        if style == "curly":
            back_sdf = back_sdf + 0.012 * np.sin(ang * 20)
        if style in ("long", "bob", "curly"):
            back.append(Layer("hair_back", "hair", cv.cover(back_sdf), colour * 0.82, relief=0.5,
                              texture=texture))
    if style == "bun":
        bun = ellipse(cv, cx, top_y - 0.035, 0.075 + 0.02 * p.hair_volume, 0.06)
        back.append(Layer("hair_bun", "hair", cv.cover(bun), colour * 0.9, relief=0.8, texture=texture))
    if style in ("long", "bob", "curly"):
        # locks falling in front of the face edges
        side = np.maximum(cv.cover(face + 0.02) - cv.cover(face + 0.0), 0)
        cap_alpha = np.maximum(cap_alpha, side * smoothstep(cy + ry * 0.3, cy, cv.y) * cv.cover(back_sdf))
    front.append(Layer("hair", "hair", cap_alpha, colour, relief=0.9, texture=texture))
    return back, front


def build_scene(p: FaceParams, n: int) -> Scene:
    """Lay out the face on an ``n`` x ``n`` canvas."""
    cv = Canvas(n)
    cx, cy, rx, ry = _head(p)
    lm = landmarks(p)
    seed = param_seed(p)
    skin = p.skin_rgb
    hair = p.hair_rgb
    a = (p.light_angle - 0.5) * 1.6
    light = np.array([math.sin(a), -0.45, math.cos(a)], np.float32)
    light /= np.linalg.norm(light)

    # background
    bg = p.bg_rgb
    if p.bg_style == 0:
        bgf = bg[None, None] * (1.1 - 0.25 * cv.y)[..., None]
    elif p.bg_style == 1:
        r = np.hypot(cv.x - 0.5, cv.y - 0.45)
        bgf = bg[None, None] * (1.15 - 0.5 * r)[..., None]
    else:
        other = np.array(colorsys.hsv_to_rgb((p.bg_hue + 0.5) % 1, 0.3, 0.55 + 0.3 * p.bg_light), np.float32)
        split = smoothstep(0.49, 0.51, cv.x + 0.2 * (cv.y - 0.5))
        bgf = bg[None, None] * (1 - split[..., None]) + other[None, None] * split[..., None]
    bgf = np.clip(bgf, 0, 1).astype(np.float32)

    hair_tex = (0.9 + 0.1 * np.sin((cv.x * 90 + 6 * np.sin(cv.y * 12)) + 3 * value_noise(n, 6, seed + 1)))
    hair_tex = hair_tex.astype(np.float32)
    face = _face_sdf(cv, p)
    hair_back, hair_front = _hair_layers(cv, p, face, hair, hair_tex)

    layers: list[Layer] = []
    # clothing and neck
    shoulders = ellipse(cv, 0.5, 1.18, 0.44, 0.26)
    layers += hair_back
    layers.append(Layer("cloth", "cloth", cv.cover(shoulders), p.cloth_rgb, relief=0.4))
    neck = rounded_rect(cv, 0.5, 0.93, 0.095 + 0.02 * p.face_width, 0.12, 0.02)
    layers.append(Layer("neck", "skin", cv.cover(neck), skin * 0.86, relief=0.5))
    collar = np.abs(ellipse(cv, 0.5, 0.96, 0.13, 0.06)) - 0.006
    layers.append(Layer("collar", "line", cv.cover(collar) * cv.cover(shoulders), p.cloth_rgb * 0.6))
    # ears
    for sgn in (-1, 1):
        ear = ellipse(cv, cx + sgn * (rx * 0.96), 0.52, 0.035, 0.06)
        layers.append(Layer("ear", "skin", cv.cover(ear), skin * 0.93, relief=0.6))
    # head with soft 3-D shading
    nx = (cv.x - cx) / rx
    ny = (cv.y - cy) / ry
    nz = np.sqrt(np.clip(1 - nx * nx - ny * ny, 0.02, 1))
    lambert = np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0, 1)
    shade = (0.58 + 0.5 * lambert).astype(np.float32)
    skin_field = skin[None, None] * shade[..., None]
    blush = np.exp(-(((cv.x - 0.5) ** 2 - 0.02) ** 2 * 1e4 + (cv.y - 0.64) ** 2 * 250)).astype(np.float32)
    skin_field = skin_field * (1 - 0.12 * blush[..., None]) + np.array([0.85, 0.35, 0.35]) * 0.12 * blush[..., None]
    layers.append(Layer("face", "skin", cv.cover(face), np.clip(skin_field, 0, 1).astype(np.float32), relief=1.0))
    # beard
    if p.beard:
        region = cv.cover(face) * smoothstep(0.62, 0.7, cv.y)
        region = np.maximum(region, cv.cover(face) * cv.cover(ellipse(cv, 0.5, 0.69, 0.07, 0.018)))
        strength = 0.45 if p.beard == 1 else 1.0
        layers.append(Layer("beard", "hair", region * strength, hair * 0.9, relief=0.3 * p.beard,
                            texture=hair_tex))
    # nose
    nose_len = 0.095 + 0.04 * p.nose_length
    nose_w = 0.028 + 0.016 * p.nose_width
    ny0 = lm.left_eye[1] + 0.03
    tip_y = ny0 + nose_len
    side = -1.0 if light[0] > 0 else 1.0
    ridge = np.array([[0.5 + side * 0.012, ny0 + 0.02], [0.5 + side * 0.018, tip_y - 0.03],
                      [0.5 + side * nose_w * 0.9, tip_y - 0.004]], np.float32)
    layers.append(Layer("nose_shadow", "line", cv.cover(polyline_distance(cv, ridge) - 0.006, soft=4) * 0.35,
                        skin * 0.55))
    layers.append(Layer("nose_tip", "skin", cv.cover(ellipse(cv, 0.5, tip_y - 0.008, nose_w * 0.8, 0.022), 3),
                        np.clip(skin * 1.02, 0, 1), relief=1.0))
    for sgn in (-1, 1):
        nostril = ellipse(cv, 0.5 + sgn * nose_w * 0.55, tip_y + 0.004, nose_w * 0.32, 0.009)
        layers.append(Layer("nostril", "line", cv.cover(nostril, 1.5) * 0.8, skin * 0.35))
    # mouth
    mw = 0.078 + 0.035 * p.mouth_width
    mx, my = lm.mouth
    smile = (p.smile - 0.5) * 0.05
    t = np.clip((cv.x - mx) / mw, -1.2, 1.2)
    inside_w = smoothstep(1.0, 0.97, np.abs(t))
    line_y = my - smile * t * t + smile * 0.3
    opening = 0.004 + 0.045 * p.mouth_open * (1 - t * t).clip(0)
    upper = line_y - opening * 0.35
    lower = line_y + opening * 0.65 + (0.008 + 0.01 * p.smile) * (1 - t * t).clip(0) * p.mouth_open
    lip_up = upper - (0.010 + 0.006 * p.lip_tint) * np.sqrt((1 - t * t).clip(0))
    lip_lo = lower + (0.013 + 0.006 * p.lip_tint) * np.sqrt((1 - t * t).clip(0))
    lips = smoothstep(lip_up - 0.002, lip_up + 0.002, cv.y) * smoothstep(lip_lo + 0.002, lip_lo - 0.002, cv.y)
    lips = lips * smoothstep(1.0, 0.9, np.abs(t))
    layers.append(Layer("lips", "feature", lips.astype(np.float32), p.lip_rgb, relief=0.5))
    hole = smoothstep(upper - 0.0015, upper + 0.0015, cv.y) * smoothstep(lower + 0.0015, lower - 0.0015, cv.y)
    hole = (hole * inside_w).astype(np.float32)
    if p.mouth_open > 0.05:
        layers.append(Layer("mouth", "feature", hole, np.array([0.25, 0.07, 0.08], np.float32)))
        teeth = hole * smoothstep(upper + opening * 0.45 + 0.002, upper + opening * 0.45 - 0.002, cv.y)
        layers.append(Layer("teeth", "feature", teeth.astype(np.float32), np.array([0.93, 0.91, 0.86], np.float32)))
    seam = polyline_distance(cv, np.stack([mx + np.linspace(-1, 1, 17) * mw * 0.97,
                                           my - smile * np.linspace(-1, 1, 17) ** 2 + smile * 0.3], 1))
    layers.append(Layer("mouth_line", "line", cv.cover(seam - 0.0025) * (1 - min(1, p.mouth_open * 3)) * 0.9,
                        p.lip_rgb * 0.45))
    # eyes
    es = 0.034 + 0.012 * p.eye_size
    squint = 0.3 * max(0.0, p.smile - 0.65)
    eo = (0.45 + 0.55 * p.eye_open - squint) * es * 0.62
    for ex, ey in (lm.left_eye, lm.right_eye):
        white_sdf = np.maximum(ellipse(cv, ex, ey, es, eo), -1)
        white = cv.cover(white_sdf)
        layers.append(Layer("eye_white", "eye", white, np.array([0.95, 0.94, 0.92], np.float32), relief=0.3))
        ir = es * 0.5
        iris = cv.cover(ellipse(cv, ex, ey, ir, ir)) * white
        iris_col = p.eye_rgb[None, None] * (0.8 + 0.35 * smoothstep(ir, 0, np.hypot(cv.x - ex, cv.y - ey)))[..., None]
        layers.append(Layer("iris", "eye", iris, iris_col.astype(np.float32)))
        layers.append(Layer("pupil", "eye", cv.cover(ellipse(cv, ex, ey, ir * 0.45, ir * 0.45)) * white,
                            np.array([0.03, 0.03, 0.04], np.float32)))
        hl = cv.cover(ellipse(cv, ex + ir * 0.35, ey - ir * 0.35, ir * 0.2, ir * 0.2)) * white
        layers.append(Layer("eye_light", "eye", hl, np.array([1.0, 1.0, 1.0], np.float32)))
        lid = polyline_distance(cv, curve(ex, ey - eo * 0.92, es * 1.02, -eo * 0.2, k=13))
        layers.append(Layer("eyelid", "line", cv.cover(lid - 0.0035) * smoothstep(ey + 0.003, ey - 0.002, cv.y),
                            np.array([0.12, 0.08, 0.07], np.float32)))
    # brows
    bt = 0.004 + 0.007 * p.brow_thickness
    by = lm.left_eye[1] - 0.055 - 0.025 * p.brow_raise
    tilt = (p.brow_angle - 0.5) * 0.025
    brow_col = np.clip(hair * 0.8 + 0.04, 0, 1) if p.hair_style_name != "bald" else skin * 0.45
    for sgn, (ex, _) in ((-1, lm.left_eye), (1, lm.right_eye)):
        pts = curve(ex, by, es * 1.25, -0.012, k=13, tilt=0.0)
        pts[:, 1] += tilt * (pts[:, 0] - ex) / (es * 1.25) * (-sgn)
        d = polyline_distance(cv, pts)
        taper = 1 - 0.5 * smoothstep(0, 1, sgn * (cv.x - ex) / (es * 1.25) * 0.5 + 0.5)
        layers.append(Layer("brow", "hair", cv.cover(d - bt * taper), brow_col, relief=0.2))
    layers += hair_front
    # glasses
    if p.glasses:
        gcol = p.glasses_rgb
        lens_r = es * 1.55
        frames = np.full((n, n), np.inf, np.float32)
        lens = np.full((n, n), np.inf, np.float32)
        for ex, ey in (lm.left_eye, lm.right_eye):
            if p.glasses == 1:
                sd = ellipse(cv, ex, ey + 0.005, lens_r, lens_r * 0.9)
            else:
                sd = rounded_rect(cv, ex, ey + 0.006, lens_r * 1.05, lens_r * 0.72, 0.012)
            frames = np.minimum(frames, np.abs(sd) - 0.0045)
            lens = np.minimum(lens, sd)
        bridge = polyline_distance(cv, curve(0.5, lm.left_eye[1] - 0.004, 0.5 - lm.left_eye[0] - lens_r, -0.008))
        frames = np.minimum(frames, bridge - 0.004)
        for sgn, (ex, ey) in ((-1, lm.left_eye), (1, lm.right_eye)):
            arm = polyline_distance(cv, np.array([[ex + sgn * lens_r, ey - 0.004], [cx + sgn * rx * 1.0, ey - 0.01]],
                                                 np.float32))
            frames = np.minimum(frames, arm - 0.003)
        layers.append(Layer("lens", "lens", cv.cover(lens) * 0.18, np.array([0.8, 0.9, 1.0], np.float32)))
        layers.append(Layer("glasses", "glasses", cv.cover(frames), gcol, relief=0.6))
    return Scene(p, n, bgf, layers, light, (cx, cy, rx, ry))


def composite(scene: Scene, use_texture: bool = True) -> np.ndarray:
    """Paint the layers over the background: [N, N, 3] float in [0, 1]."""
    out = scene.background.copy()
    for lay in scene.layers:
        col = lay.colour if lay.colour.ndim == 3 else lay.colour[None, None]
        if use_texture and lay.texture is not None:
            col = col * lay.texture[..., None]
        a = lay.alpha[..., None]
        out = out * (1 - a) + col * a
    return np.clip(out, 0, 1)


def to_uint8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def render_photo(p: FaceParams, size: int = 256, supersample: int = 2) -> np.ndarray:
    """The "photo" look: shaded colours, soft hair texture, slight grain and vignette. [size, size, 3] uint8."""
    n = size * supersample
    scene = build_scene(p, n)
    img = composite(scene)
    cv = Canvas(n)
    vignette = 1 - 0.18 * np.hypot(cv.x - 0.5, cv.y - 0.5) ** 2
    img = img * vignette[..., None]
    soft = box_blur(img, max(1, n // 512))
    return to_uint8(downsample(soft, supersample))


def render_seed(seed: int, size: int = 256) -> np.ndarray:
    return render_photo(FaceParams.from_seed(seed), size)
