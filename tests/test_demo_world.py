"""The procedural demo world: deterministic faces, variety, FFHQ-like placement, aligned domain pairs."""

from __future__ import annotations

import numpy as np
import pytest

from engine.demo_world import N_PARAMS, FaceParams, build_scene, landmarks, render_photo
from engine.demo_world.domains import DOMAINS, edge_map, render
from engine.demo_world.faces import HAIR_STYLES

SIZE = 96


def grey(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32).mean(-1) / 255


def blurred_edges(img: np.ndarray) -> np.ndarray:
    g = grey(img)
    e = np.hypot(*np.gradient(g))
    k = np.ones(5, np.float32) / 5
    e = np.apply_along_axis(lambda r: np.convolve(r, k, "same"), 0, e)
    return np.apply_along_axis(lambda r: np.convolve(r, k, "same"), 1, e)


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_same_seed_same_image_and_types():
    a = render_photo(FaceParams.from_seed(7), SIZE)
    b = render_photo(FaceParams.from_seed(7), SIZE)
    assert a.dtype == np.uint8 and a.shape == (SIZE, SIZE, 3)
    assert np.array_equal(a, b)


def test_different_seeds_differ():
    a = render_photo(FaceParams.from_seed(1), SIZE).astype(int)
    b = render_photo(FaceParams.from_seed(2), SIZE).astype(int)
    assert np.abs(a - b).mean() > 10


@pytest.mark.parametrize("z_dim", [N_PARAMS, 128, 512])
def test_seed_follows_nvidia_latent_convention(z_dim):
    """The face of seed s is read from np.random.RandomState(s).randn(1, z_dim), whatever z_dim."""
    z = np.random.RandomState(123).randn(1, z_dim)
    assert FaceParams.from_z(z[0]) == FaceParams.from_seed(123)


def test_from_z_rejects_short_vectors():
    with pytest.raises(ValueError):
        FaceParams.from_z(np.zeros(N_PARAMS - 1))


def test_parameters_vary_across_seeds():
    params = [FaceParams.from_seed(s) for s in range(60)]
    assert len({p.hair_style for p in params}) >= len(HAIR_STYLES) - 2
    assert 0 < sum(p.glasses > 0 for p in params) < 40
    assert 0 < sum(p.beard > 0 for p in params) < 40
    assert np.std([p.skin for p in params]) > 0.15
    assert np.std([p.smile for p in params]) > 0.15


def test_images_vary_in_skin_and_hair_colour():
    imgs = [render_photo(FaceParams.from_seed(s), 64).astype(np.float32) for s in range(16)]
    cheek = [im[36:40, 22:26].mean() for im in imgs]  # left cheek, below the eye
    top = [im[4:10, 26:38].mean((0, 1)) for im in imgs]  # top of head: hair or background
    assert np.std(cheek) > 15
    assert np.std(np.stack(top), axis=0).mean() > 15


def test_features_sit_where_ffhq_aligned_faces_have_them():
    for seed in range(6):
        p = FaceParams.from_seed(seed)
        lm = landmarks(p)
        assert 0.44 < lm.left_eye[1] < 0.5 and abs(lm.left_eye[1] - lm.right_eye[1]) < 1e-6
        assert 0.21 < lm.right_eye[0] - lm.left_eye[0] < 0.27
        assert 0.7 < lm.mouth[1] < 0.78 and abs(lm.mouth[0] - 0.5) < 1e-6
        img = grey(render_photo(p, 256))
        for ex, ey in ((int(v * 256) for v in eye) for eye in (lm.left_eye, lm.right_eye)):
            pupil = img[ey - 1:ey + 2, ex - 1:ex + 2].mean()
            white = max(img[ey, ex - 8], img[ey, ex + 8])
            assert pupil < white - 0.3, f"seed {seed}: no dark pupil inside a bright eye at the landmark"


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_every_domain_renders(domain):
    img = render(FaceParams.from_seed(3), domain, SIZE)
    assert img.dtype == np.uint8 and img.shape == (SIZE, SIZE, 3)
    assert img.std() > 10
    if domain != "photo":
        assert np.abs(img.astype(int) - render(FaceParams.from_seed(3), "photo", SIZE).astype(int)).mean() > 8


def test_unknown_domain_is_rejected():
    with pytest.raises(ValueError, match="unknown demo domain"):
        render(FaceParams.from_seed(0), "oil_painting", 32)


def test_far_domains_drop_colour():
    for domain in ("sketch", "woodcut"):
        img = render(FaceParams.from_seed(4), domain, 64).astype(np.float32)
        assert (img.max(-1) - img.min(-1)).mean() < 25


@pytest.mark.parametrize("domain", ["sketch", "pop_art", "clay", "woodcut"])
def test_domain_pairs_share_geometry(domain):
    """Edges of photo(p) and domain(p) line up far better than photo(p) and domain(q)."""
    same, other = [], []
    for a, b in ((0, 5), (2, 9), (6, 11)):
        pa, pb = FaceParams.from_seed(a), FaceParams.from_seed(b)
        ref = blurred_edges(render(pa, "photo", SIZE))
        same.append(corr(ref, blurred_edges(render(pa, domain, SIZE))))
        other.append(corr(ref, blurred_edges(render(pb, domain, SIZE))))
    assert np.mean(same) > np.mean(other) + 0.15, (same, other)


def test_edge_map_outlines_the_face():
    scene = build_scene(FaceParams.from_seed(8), 128)
    e = edge_map(scene)
    assert e.min() >= 0 and e.max() <= 1
    assert e[:, 64].sum() > 3  # the vertical centre line crosses hair/face/mouth outlines
    assert FaceParams.from_seed(8).bg_style == 0
    assert e[2:12, 2:12].sum() < 1e-3  # plain background corner: no outlines


def test_feature_windows_tell_a_face_from_a_featureless_one():
    """The eye/mouth detail score is 1 for the renders themselves and drops when the features are gone."""
    from PIL import Image, ImageFilter

    from engine.demo_world.quality import feature_boxes, feature_scores

    faces = [FaceParams.from_seed(s) for s in (3, 8, 21)]
    real = np.stack([render_photo(p, 64) for p in faces])
    boxes = [feature_boxes(p, 64) for p in faces]
    assert all(len(b) == 3 for b in boxes)
    l1, ratio = feature_scores(real, real, boxes)
    assert l1 == 0 and ratio == pytest.approx(1.0)
    # A "no features" face: each window filled with its own mean colour (flat skin), the rest untouched.
    flat = real.astype(np.float32).copy()
    for img, face_boxes in zip(flat, boxes, strict=True):
        for rows, cols in face_boxes:
            img[rows, cols] = img[rows, cols].mean(axis=(0, 1))
    l1_flat, ratio_flat = feature_scores(flat, real, boxes)
    assert ratio_flat < 1e-3 and l1_flat > 5
    blurred = np.stack([np.asarray(Image.fromarray(r).filter(ImageFilter.GaussianBlur(1.5))) for r in real])
    assert feature_scores(blurred, real, boxes)[1] < 0.8
