"""Paste-back: edited aligned faces warp back into the full photo with the exact inverse transform."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.alignment import (
    EXPORT_CHOICES,
    AlignedFace,
    Face,
    align_centre_crop,
    align_face,
    export_edit,
    extract_aligned,
    feather_mask,
    paste_back,
)
from engine.errors import UserError
from engine.photo import load_photo

ROOT = Path(__file__).resolve().parent.parent
ASTRONAUT = ROOT / "resources" / "samples" / "astronaut.png"


def tilted_face(centre=(300.0, 300.0), degrees=20.0, scale=1.0) -> Face:
    """Eye and mouth landmarks of a face turned by ``degrees`` (no detector needed)."""
    th = np.deg2rad(degrees)
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]) * scale
    c = np.asarray(centre)
    lm = np.tile(c, (68, 1))
    lm[36:42], lm[42:48] = c + rot @ [-20, -10], c + rot @ [20, -10]
    lm[48], lm[54] = c + rot @ [-15, 30], c + rot @ [15, 30]
    return Face(lm, (c[0] - 50 * scale, c[1] - 50 * scale, c[0] + 50 * scale, c[1] + 50 * scale))


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return load_photo(ASTRONAUT)


@pytest.fixture(scope="module")
def aligned(photo):
    return align_face(photo, tilted_face(), 256)


def edit_of(image: Image.Image) -> Image.Image:
    """A visible, smooth 'edit': the crop blended with a colour ramp."""
    n = image.width
    y, x = np.mgrid[:n, :n] * (255.0 / (n - 1))
    ramp = Image.fromarray(np.stack([x, y, (x + y) / 2], -1).astype(np.uint8))
    return Image.blend(image, ramp, 0.5)


def mad(a, b) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).mean())


def test_transform_is_exact_inverse_and_hits_the_quad(aligned):
    fwd, inv = aligned.aligned_to_photo(), aligned.photo_to_aligned()
    np.testing.assert_allclose(fwd @ inv, np.eye(3), atol=1e-12)
    corners = np.array([[0, 0, 1], [0, 256, 1], [256, 256, 1], [256, 0, 1]], float)
    np.testing.assert_allclose((fwd @ corners.T)[:2].T, aligned.quad, atol=1e-9)
    np.testing.assert_allclose(aligned.aligned_to_photo(1024) @ np.diag([4, 4, 1]), fwd, atol=1e-12)


@pytest.mark.parametrize("scale, degrees, size, shrink", [(1, 20, 256, 0), (1, 0, 256, 0), (2, 35, 256, 0),
                                                          (4, -15, 128, 2), (4, 10, 64, 4)])
def test_recorded_quad_reproduces_the_crop(photo, scale, degrees, size, shrink):
    # Resampling the photo straight through the recorded quad gives the aligned crop again; a
    # half-pixel error in the bookkeeping (shrink, crop, pad offsets, QUAD convention) costs about 6.
    side = 512 * scale - (scale > 1)  # odd sizes: the shrunk photo's scale is not exactly ``shrink``
    image = photo if scale == 1 else photo.resize((side, side), Image.LANCZOS)
    centre = (300 * scale, 280 * scale)
    aligned = align_face(image, tilted_face(centre, degrees, float(scale)), size)
    assert aligned.info["shrink"] == shrink
    assert mad(extract_aligned(image, aligned), aligned.image) < 1.2


def test_unedited_crop_pastes_back_onto_the_photo(photo, aligned):
    back = paste_back(photo, aligned.image, aligned, feather=0, region="square")
    a, b = np.asarray(back, np.float64), np.asarray(photo, np.float64)
    assert back.size == photo.size
    assert np.abs(a - b)[270:330, 270:330].mean() < 3.0
    x0, y0 = np.floor(aligned.quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(aligned.quad.max(axis=0)).astype(int)
    outside = np.ones(photo.size[::-1], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(a[outside], b[outside])  # nothing outside the quad's box is touched


@pytest.mark.parametrize("edit_size", [256, 1024, 128])
def test_round_trip_aligned_unaligned_aligned(photo, aligned, edit_size):
    edited = edit_of(aligned.image).resize((edit_size, edit_size), Image.LANCZOS)
    pasted = paste_back(photo, edited, aligned, feather=0, region="square")
    again = extract_aligned(pasted, aligned, 256)
    want = edited.resize((256, 256), Image.LANCZOS)
    inner = (slice(16, -16), slice(16, -16))
    err = np.abs(np.asarray(again, np.float64) - np.asarray(want, np.float64))[inner]
    assert err.mean() < 3.0, err.mean()
    assert mad(pasted, photo) > 5 * err.mean() / 4  # the edit really went in


def test_round_trip_at_full_resolution_with_shrink(photo):
    big = photo.resize((2048, 2048), Image.LANCZOS)
    aligned = align_face(big, tilted_face((1200, 1200), 20, 4.0), 256)
    assert aligned.info["shrink"] >= 1
    edited = edit_of(aligned.image)
    pasted = paste_back(big, edited, aligned, feather=0, region="square")
    assert pasted.size == (2048, 2048)
    assert mad(extract_aligned(pasted, aligned), edited) < 2.5


def test_feather_blends_edges(photo, aligned):
    edited = Image.new("RGB", (256, 256), (255, 0, 255))
    soft = np.asarray(paste_back(photo, edited, aligned, feather=0.2, region="square"), np.float64)
    hard = np.asarray(paste_back(photo, edited, aligned, feather=0, region="square"), np.float64)
    fwd = aligned.aligned_to_photo()

    def at(u, v):
        x, y = (fwd @ [u, v, 1.0])[:2]
        return int(y), int(x)

    centre, edge = at(128, 128), at(128, 6)
    assert np.allclose(soft[centre], (255, 0, 255), atol=2) and np.allclose(hard[centre], (255, 0, 255), atol=2)
    assert np.allclose(hard[edge], (255, 0, 255), atol=2)
    orig = np.asarray(photo, np.float64)[edge]
    assert np.abs(soft[edge] - orig).max() < 40  # the soft edge is mostly the original photo
    mask = np.asarray(feather_mask(100, 0.1))
    assert mask[50, 50] == 255 and mask[0, 50] < 10 and mask[50, 99] < 10 and 0 < mask[50, 5] < 255


def test_user_mask_limits_the_paste(photo, aligned):
    edited = Image.new("RGB", (256, 256), (0, 255, 0))
    keep_left = Image.fromarray(np.where(np.arange(256) < 128, 0, 255).astype(np.uint8)[None].repeat(256, 0))
    out = np.asarray(paste_back(photo, edited, aligned, feather=0, mask=keep_left, region="square"), np.float64)
    fwd = aligned.aligned_to_photo()
    lx, ly = (fwd @ [60, 128, 1.0])[:2].astype(int)
    rx, ry = (fwd @ [200, 128, 1.0])[:2].astype(int)
    assert np.array_equal(out[ly, lx], np.asarray(photo, np.float64)[ly, lx])
    assert np.allclose(out[ry, rx], (0, 255, 0), atol=2)


def test_paste_into_a_preview_sized_photo(photo, aligned):
    edited = edit_of(aligned.image)
    full = paste_back(photo, edited, aligned, feather=0, region="square")
    half = paste_back(photo.resize((256, 256), Image.LANCZOS), edited, aligned, feather=0, region="square")
    assert half.size == (256, 256)
    assert mad(half, full.resize((256, 256), Image.LANCZOS)) < 3.0


def test_centre_crop_round_trip():
    y, x = np.mgrid[:300, :400]
    img = Image.fromarray(np.stack([x * 255 // 399, y * 255 // 299, (x // 40 % 2) * 200], -1).astype(np.uint8))
    crop = align_centre_crop(img, 128)
    back = paste_back(img, crop.image, crop, feather=0)
    assert mad(back, img) < 2.0
    assert np.array_equal(np.asarray(back)[:, :45], np.asarray(img)[:, :45])


def test_alignment_record_survives_json(photo, aligned):
    import json

    record = json.loads(json.dumps(aligned.to_dict()))
    edited = edit_of(aligned.image)
    restored = AlignedFace.from_dict(record, edited)
    assert restored.source_size == photo.size and restored.output_size == 256
    np.testing.assert_allclose(restored.face.eye_left, aligned.face.eye_left)
    assert np.array_equal(np.asarray(paste_back(photo, edited, restored)),
                          np.asarray(paste_back(photo, edited, aligned)))


def test_export_choices(photo, aligned):
    edited = edit_of(aligned.image)
    assert EXPORT_CHOICES == ("aligned", "full")
    assert export_edit(photo, edited, aligned, "aligned") is not photo
    assert np.array_equal(np.asarray(export_edit(photo, edited, aligned, "aligned")), np.asarray(edited))
    full = export_edit(photo, edited, aligned, "full", feather=0.1)
    assert np.array_equal(np.asarray(full), np.asarray(paste_back(photo, edited, aligned, feather=0.1)))
    with pytest.raises(UserError, match="unknown export choice 'poster'"):
        export_edit(photo, edited, aligned, "poster")
    with pytest.raises(UserError, match="must be square"):
        paste_back(photo, edited.crop((0, 0, 200, 256)), aligned)
