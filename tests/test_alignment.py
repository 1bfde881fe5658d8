"""Face detection (dlib reference detector), FFHQ alignment, fallbacks and the ``align`` CLI verb.

Reference landmark values for the astronaut photo were checked by eye on an overlay of the 68 points.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.alignment import (
    LANDMARK_MODELS,
    MIN_EYE_DISTANCE,
    AlignedFace,
    Face,
    FaceTooSmall,
    LandmarkDetector,
    NoFaceFound,
    align_centre_crop,
    align_face,
    align_largest_face,
    detect_faces,
    ffhq_quad,
)
from engine.alignment.dlib_detector import DlibDetector
from engine.alignment.ffhq import gaussian_blur
from engine.alignment.models import DLIB_68_LANDMARKS, find_predictor, packaged_predictor_path
from engine.cli.main import main
from engine.errors import FileProblem, UserError
from engine.photo import load_photo

ROOT = Path(__file__).resolve().parent.parent
ASTRONAUT = ROOT / "resources" / "samples" / "astronaut.png"

# Checked on the overlay: pupil centres and mouth corners of the astronaut (pixel-index coordinates).
EYE_LEFT, EYE_RIGHT = (203.2, 101.5), (246.5, 104.2)
MOUTH_LEFT, MOUTH_RIGHT = (201.0, 139.0), (246.0, 141.0)
# FFHQ crop geometry: eyes a quarter of the side apart, centred, slightly above the middle.
CANON_EYES = np.array([[0.375, 0.478], [0.625, 0.478]])


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return load_photo(ASTRONAUT)


@pytest.fixture(scope="module")
def faces(astronaut) -> list[Face]:
    return detect_faces(astronaut)


def test_packaged_predictor_found_without_importing_package():
    code = ("import sys; from engine.alignment.models import packaged_predictor_path as p; "
            "path = p(); print(path.stat().st_size, 'face_recognition_models' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}).stdout.split()
    assert int(out[0]) > 90_000_000 and out[1] == "False"
    assert packaged_predictor_path().name == "shape_predictor_68_face_landmarks.dat"


def test_licence_record_warns_non_commercial():
    assert DLIB_68_LANDMARKS in LANDMARK_MODELS
    assert "300-W" in DLIB_68_LANDMARKS.licence and "non-commercial" in DLIB_68_LANDMARKS.licence
    assert "face_recognition_models" in DLIB_68_LANDMARKS.source


def test_astronaut_landmarks(faces):
    face = faces[0]
    assert isinstance(face, Face) and face.landmarks.shape == (68, 2)
    for got, want in [(face.eye_left, EYE_LEFT), (face.eye_right, EYE_RIGHT),
                      (face.mouth_left, MOUTH_LEFT), (face.mouth_right, MOUTH_RIGHT)]:
        assert np.hypot(*(got - want)) < 3.0, (got, want)
    left, top, right, bottom = face.box
    assert left < 205 < right and top < 100 < bottom
    # HOG also fires weakly on the round mission patch (lower left); ranking by face size keeps the
    # real face first.
    assert all(f.size <= face.size for f in faces[1:])


def test_landmarks_on_a_big_photo_are_refined_at_full_resolution(astronaut, faces):
    big = astronaut.resize((2048, 2048), Image.LANCZOS)
    det = DlibDetector(max_side=512)  # detection runs on a 512 px copy, landmarks on a full-size crop
    found = det.detect(big)[0]
    expected = faces[0].scaled(4.0, (1.5, 1.5))  # index coordinates: (p + 0.5) * 4 - 0.5
    assert np.hypot(*(found.eye_left - expected.eye_left)) < 4.0
    assert np.hypot(*(found.mouth_right - expected.mouth_right)) < 4.0


@pytest.mark.parametrize("size", [256, 128])
def test_align_astronaut_to_ffhq_geometry(astronaut, faces, size):
    aligned = align_face(astronaut, faces[0], size)
    assert isinstance(aligned, AlignedFace)
    assert aligned.image.size == (size, size) and aligned.image.mode == "RGB"
    assert aligned.source_size == astronaut.size and aligned.method == "ffhq"
    to_crop = aligned.photo_to_aligned()
    eyes = np.array([(to_crop @ [*(p + 0.5), 1.0])[:2] / size for p in (faces[0].eye_left, faces[0].eye_right)])
    assert np.abs(eyes - CANON_EYES).max() < 0.01
    # The pixels agree with the bookkeeping: landmarks found again in the crop sit where the quad says.
    again = detect_faces(aligned.image)[0]
    found = (np.array([again.eye_left, again.eye_right]) + 0.5) / size
    assert np.abs(found - eyes).max() < 0.012
    assert np.abs(found - CANON_EYES).max() < 0.02


def test_quad_follows_the_published_construction():
    # A level face: eyes 40 px apart, mouth 45 px below them. x = e2e - R90(e2m) is then horizontal.
    face = synthetic_face((100, 200), (140, 200), (105, 245), (135, 245))
    quad, qsize = ffhq_quad(face)
    half = max(2.0 * 40, 1.8 * 45)  # |x| = max(2 |e2e|, 1.8 |e2m|) = 81
    c = np.array([120.0, 200 + 4.5])
    assert qsize == pytest.approx(2 * half)
    np.testing.assert_allclose(quad, [c + [-half, -half], c + [-half, half], c + [half, half],
                                      c + [half, -half]], atol=1e-9)


def test_shrink_path_matches_small_photo(astronaut, faces):
    # 4x the photo: shrink = floor(qsize / output / 2) = 2 kicks in; the crop and the quad must agree.
    big = astronaut.resize((2048, 2048), Image.LANCZOS)
    small = align_face(astronaut, faces[0], 128)
    large = align_face(big, faces[0].scaled(4.0, (1.5, 1.5)), 128)
    assert large.info["shrink"] == 2 and small.info["shrink"] == 0
    # NVlabs divides pixel-index coordinates by the shrink factor, which moves the sampled quad by
    # (shrink - 1) / 2 = 0.5 photo px; the recorded quad is what was really sampled.
    np.testing.assert_allclose(large.quad, small.quad * 4 + 0.5, atol=0.01)
    diff = np.abs(np.asarray(large.image, np.float64) - np.asarray(small.image, np.float64))
    assert diff.mean() < 4.0


def test_face_near_the_edge_is_padded_with_blur(astronaut, faces):
    cut = astronaut.crop((185, 85, 512, 512))  # the face's top-left now leaves the photo
    face = faces[0].scaled(1.0, (-185, -85))
    aligned = align_face(cut, face, 128, transform_size=128)
    a = np.asarray(aligned.image, np.float64)
    inv = aligned.photo_to_aligned()
    corner = (inv @ [0, 0, 1])[:2]  # the photo's top-left corner inside the crop
    assert corner[0] > 20 and corner[1] > 20
    outside = a[: int(corner[1]) - 4, : int(corner[0]) - 4]
    assert outside.size and outside.std(axis=(0, 1)).max() < 40  # filled, smooth, not black
    assert outside.mean() > 30
    no_pad = align_face(cut, face, 128, transform_size=128, enable_padding=False)
    assert np.asarray(no_pad.image)[: int(corner[1]) - 4, : int(corner[0]) - 4].max() == 0


def test_gaussian_blur_matches_scipy(astronaut):
    scipy_ndimage = pytest.importorskip("scipy.ndimage")  # scipy is only a test-time oracle here
    a = np.random.default_rng(1).random((40, 30, 3)).astype(np.float32)
    np.testing.assert_allclose(gaussian_blur(a, 2.3), scipy_ndimage.gaussian_filter(a, [2.3, 2.3, 0]),
                               atol=1e-5)
    # Large sigmas take the reduced path: close to exact away from the outermost band (which the
    # alignment fades to the median colour anyway).
    photo = np.pad(np.asarray(astronaut, np.float32), ((150, 150), (150, 150), (0, 0)), "reflect")
    for sigma in (13.0, 30.0):
        err = np.abs(gaussian_blur(photo, sigma) - scipy_ndimage.gaussian_filter(photo, [sigma, sigma, 0]))
        assert err[60:-60, 60:-60].max() < 1.0 and err.mean() < 0.3


def synthetic_face(eye_l, eye_r, mouth_l, mouth_r) -> Face:
    lm = np.zeros((68, 2))
    lm[36:42], lm[42:48], lm[48], lm[54] = eye_l, eye_r, mouth_l, mouth_r
    lm[[i for i in range(68) if not 36 <= i < 48 and i not in (48, 54)]] = np.mean([eye_l, mouth_r], axis=0)
    xs, ys = lm[:, 0], lm[:, 1]
    return Face(lm, (xs.min() - 10, ys.min() - 20, xs.max() + 10, ys.max() + 10))


def test_face_too_small(astronaut, faces):
    tiny = faces[0].scaled(0.3)
    assert tiny.eye_distance < MIN_EYE_DISTANCE and not tiny.alignable and faces[0].alignable
    with pytest.raises(FaceTooSmall, match="too small to align.*eyes are 13 px apart"):
        align_face(astronaut, tiny, 256)
    assert issubclass(FaceTooSmall, UserError)


def test_several_faces_largest_first_each_selectable(astronaut):
    head = astronaut.crop((150, 40, 300, 200))
    canvas = Image.new("RGB", (760, 420), (128, 128, 128))
    canvas.paste(head, (40, 200))
    canvas.paste(head.resize((270, 288), Image.LANCZOS), (420, 60))
    found = detect_faces(canvas)
    assert len(found) == 2
    assert found[0].box[0] > 400 and found[1].box[0] < 300  # the 1.8x face first
    assert found[0].eye_distance == pytest.approx(1.8 * found[1].eye_distance, rel=0.08)
    crops = [align_face(canvas, f, 64).image for f in found]
    diff = np.abs(np.asarray(crops[0], np.float64) - np.asarray(crops[1], np.float64)).mean()
    assert diff < 12  # the same face, aligned the same way


def test_no_face_gives_message_and_centre_crop():
    y, x = np.mgrid[:300, :400]
    plain = Image.fromarray(np.stack([x * 255 // 399, y * 255 // 299, np.full_like(x, 90)], -1).astype(np.uint8))
    assert detect_faces(plain) == []
    with pytest.raises(NoFaceFound, match="no face found.*centred square crop"):
        align_largest_face(plain, 128)
    fallback = align_centre_crop(plain, 150)
    assert fallback.method == "centre-crop" and fallback.image.size == (150, 150)
    expected = plain.crop((50, 0, 350, 300)).resize((150, 150), Image.LANCZOS)
    assert np.array_equal(np.asarray(fallback.image), np.asarray(expected))
    np.testing.assert_allclose(fallback.quad, [[50, 0], [50, 300], [350, 300], [350, 0]])


def test_align_largest_face_and_custom_detector(astronaut, faces):
    assert np.allclose(align_largest_face(astronaut, 64).quad, align_face(astronaut, faces[0], 64).quad)

    class Fixed:
        def detect(self, image):
            return [faces[0].scaled(0.5), faces[0]]  # deliberately smallest first

    assert isinstance(Fixed(), LandmarkDetector)
    ranked = detect_faces(astronaut, Fixed())
    assert ranked[0].eye_distance == pytest.approx(faces[0].eye_distance)


def test_user_predictor_file_checked(tmp_path, astronaut):
    with pytest.raises(FileProblem, match="predictor file not found"):
        DlibDetector(tmp_path / "missing.dat")
    bogus = tmp_path / "bogus.dat"
    bogus.write_bytes(b"not a model" * 100)
    with pytest.raises(FileProblem, match="not a dlib shape predictor"):
        DlibDetector(bogus).detect(astronaut)
    assert find_predictor(packaged_predictor_path()) == packaged_predictor_path()


def test_cli_list_and_align(tmp_path, capsys):
    assert main(["align", str(ASTRONAUT), "--list"]) == 0
    listing = capsys.readouterr().out
    assert "2 face(s)" in listing and "  1: box (175, 76)" in listing and "non-commercial" in listing
    out = tmp_path / "face.png"
    assert main(["align", str(ASTRONAUT), "-o", str(out), "--size", "128"]) == 0
    assert "wrote" in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.size == (128, 128)
    assert main(["align", str(ASTRONAUT), "-o", str(out), "--face", "5"]) == 2
    assert "--face 5 does not exist, 2 face(s) found" in capsys.readouterr().err


def test_cli_no_face_and_bad_photo(tmp_path, capsys):
    plain = tmp_path / "plain.png"
    Image.new("RGB", (200, 120), (90, 120, 150)).save(plain)
    out = tmp_path / "out.png"
    assert main(["align", str(plain), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no face found" in err and "--centre-crop" in err and err.count("\n") == 1
    assert not out.exists()
    assert main(["align", str(plain), "-o", str(out), "--centre-crop", "--size", "64"]) == 0
    with Image.open(out) as im:
        assert im.size == (64, 64)
    (tmp_path / "bad.jpg").write_bytes(b"nope")
    assert main(["align", str(tmp_path / "bad.jpg"), "-o", str(out)]) == 2
    assert "bad.jpg: not an image" in capsys.readouterr().err
