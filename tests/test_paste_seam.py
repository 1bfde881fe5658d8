"""Paste-back of an FFHQ-aligned face blends the face region only: no rectangle of the generator's
background around the face (the seam seen in the session-17 studio screenshots)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.alignment import Face, align_face, paste_back
from engine.alignment.paste import FACE_ELLIPSE, face_mask
from engine.errors import UserError
from engine.photo import load_photo

ROOT = Path(__file__).resolve().parent.parent
ASTRONAUT = ROOT / "resources" / "samples" / "astronaut.png"
GREEN = (110, 180, 110)  # about the demo model's background field on the astronaut


def upright_face(centre=(300.0, 120.0), degrees=12.0) -> Face:
    """Eye and mouth landmarks of a face turned by ``degrees`` (no detector needed)."""
    th = np.deg2rad(degrees)
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    c = np.asarray(centre)
    lm = np.tile(c, (68, 1))
    lm[36:42], lm[42:48] = c + rot @ [-22, -12], c + rot @ [22, -12]
    lm[48], lm[54] = c + rot @ [-16, 28], c + rot @ [16, 28]
    return Face(lm, (c[0] - 60, c[1] - 60, c[0] + 60, c[1] + 60))


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return load_photo(ASTRONAUT)


@pytest.fixture(scope="module")
def aligned(photo):
    return align_face(photo, upright_face(), 64)  # the demo model's size: each crop px is ~2.7 photo px


def crop_fractions(aligned, shape) -> tuple[np.ndarray, np.ndarray]:
    """For every photo pixel centre, where it falls in the crop (0..1 across)."""
    inv = aligned.photo_to_aligned(1)
    y, x = np.mgrid[:shape[0], :shape[1]] + 0.5
    return inv[0, 0] * x + inv[0, 1] * y + inv[0, 2], inv[1, 0] * x + inv[1, 1] * y + inv[1, 2]


def elliptical_radius(u, v):
    cx, cy, ax, ay = FACE_ELLIPSE
    return np.hypot((u - cx) / ax, (v - cy) / ay)


def background_swap(aligned) -> Image.Image:
    """A reconstruction as the demo model makes it: the face right, the background a flat colour field."""
    n = aligned.output_size
    u, v = (np.mgrid[:n, :n][::-1] + 0.5) / n
    face = (elliptical_radius(u, v) < 1.0)[..., None]
    return Image.fromarray(np.where(face, np.asarray(aligned.image), np.uint8(GREEN)).astype(np.uint8))


def test_the_generators_background_stays_out_of_the_photo(photo, aligned):
    out = np.asarray(paste_back(photo, background_swap(aligned), aligned))
    orig = np.asarray(photo)
    u, v = crop_fractions(aligned, orig.shape)
    in_crop = (u > 0) & (u < 1) & (v > 0) & (v < 1)
    beyond = in_crop & (elliptical_radius(u, v) > 1.15)  # past the face region's outer edge
    assert beyond.sum() > 5000  # the crop's corners and sides: where the square paste put the green field
    assert np.array_equal(out[beyond], orig[beyond])  # bit for bit the photo
    assert np.array_equal(out[~in_crop], orig[~in_crop])
    # the old square paste (10 % feather) put the green field there
    square = np.asarray(paste_back(photo, background_swap(aligned), aligned, region="square"))
    assert np.abs(square[beyond].astype(int) - orig[beyond]).mean() > 20


def test_the_blend_edge_is_an_ellipse_not_a_rectangle(aligned):
    # flat grey photo, white edit: the blend weight is visible directly as (out - 100) / 155
    grey = Image.new("RGB", aligned.source_size, (100, 100, 100))
    white = Image.new("RGB", (64, 64), (255, 255, 255))
    alpha = (np.asarray(paste_back(grey, white, aligned), np.float64)[..., 0] - 100) / 155
    u, v = crop_fractions(aligned, alpha.shape)
    r = elliptical_radius(u, v)
    half = np.abs(alpha - 0.5) < 0.1  # the soft edge's middle
    assert half.sum() > 200
    # every point of the edge's middle lies on one ellipse around the face (a square's corners and sides
    # would lie at radius 1.2 to 1.9 of it), all the way round
    assert 0.85 < r[half].min() and r[half].max() < 1.05
    angles = np.arctan2(v[half] - FACE_ELLIPSE[1], u[half] - FACE_ELLIPSE[0])
    assert len(np.unique(np.floor((angles + np.pi) / (np.pi / 8)))) == 16
    # full weight well inside, nothing outside, and a smooth ramp between: no step between photo pixels
    assert alpha[r < 0.7].min() > 0.99 and alpha[r > 1.15].max() == 0.0
    step = max(np.abs(np.diff(alpha, axis=0)).max(), np.abs(np.diff(alpha, axis=1)).max())
    assert step < 0.1, step


def test_eyes_and_mouth_are_pasted_in_full(photo, aligned):
    edited = Image.new("RGB", (64, 64), (255, 0, 255))
    out = np.asarray(paste_back(photo, edited, aligned), np.int64)
    face = aligned.face
    for point in (face.eye_left, face.eye_right, face.mouth_left, face.mouth_right):
        x, y = np.rint(point).astype(int)
        assert np.abs(out[y, x] - (255, 0, 255)).max() <= 1, (x, y, out[y, x])


def test_face_region_in_a_preview_sized_photo(photo, aligned):
    edited = background_swap(aligned)
    full = paste_back(photo, edited, aligned)
    half = paste_back(photo.resize((256, 256), Image.LANCZOS), edited, aligned)
    diff = np.abs(np.asarray(half, np.float64) - np.asarray(full.resize((256, 256), Image.LANCZOS), np.float64))
    assert diff.mean() < 2.0


def test_face_mask_and_regions():
    m = np.asarray(face_mask(128))
    assert m[70, 64] == 255 and m[0, 0] == 0 and m[64, 2] == 0 and m[125, 64] == 0
    assert np.array_equal(m, m[:, ::-1])  # symmetric about the face's vertical axis
    assert np.array_equal(np.asarray(face_mask(128, 0)) > 0, np.asarray(face_mask(128, 0)) == 255)
    with pytest.raises(UserError, match="unknown paste-back region 'oval'"):
        paste_back(Image.new("RGB", (10, 10)), Image.new("RGB", (4, 4)),
                   align_face(Image.new("RGB", (400, 400)), upright_face((200, 200)), 64), region="oval")
