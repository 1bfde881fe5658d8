"""The face detector loads fast from the shipped file, gives dlib's own detections, and loads once."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

dlib = pytest.importorskip("dlib")

from engine.alignment import dlib_detector as dd  # noqa: E402
from engine.alignment.models import frontal_detector_file, packaged_predictor_path  # noqa: E402
from engine.resources import resources_dir  # noqa: E402

ASTRONAUT = resources_dir() / "samples" / "astronaut.png"


def _run(detector) -> tuple:
    image = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    rects, scores, kinds = detector.run(image, 1, 0.0)
    return [(r.left(), r.top(), r.right(), r.bottom()) for r in rects], list(scores), list(kinds)


def test_shipped_detector_is_intact_and_detects_like_dlibs_builtin():
    path = frontal_detector_file()
    assert path is not None
    import hashlib

    assert hashlib.sha256(path.read_bytes()).hexdigest() == dd.FRONTAL_DETECTOR_SHA256
    shipped = dd._frontal_detector(dlib)
    assert isinstance(shipped, dlib.fhog_object_detector)
    got, want = _run(shipped), _run(dlib.get_frontal_face_detector())
    assert got == want and len(got[0]) >= 1


def test_a_damaged_shipped_detector_falls_back_to_the_builtin(tmp_path, monkeypatch):
    bad = tmp_path / "dlib-frontal-face-detector.svm"
    bad.write_bytes(frontal_detector_file().read_bytes()[:-10] + b"0123456789")  # same size, other bytes
    monkeypatch.setattr(dd, "frontal_detector_file", lambda: bad)
    calls = []
    real = dlib.fhog_object_detector
    monkeypatch.setattr(dlib, "fhog_object_detector", lambda *a: calls.append(a) or real(*a))
    detector = dd._frontal_detector(dlib)
    assert calls == []  # the hash check kept the damaged file away from dlib's parser
    assert _run(detector)[0]  # the built-in detector still finds the astronaut


def test_warm_up_without_a_predictor_says_false(tmp_path):
    assert dd.warm_up(tmp_path / "missing.dat") is False
    assert dd.models_loaded(tmp_path / "missing.dat") is False


def test_warm_up_loads_once_even_from_two_threads(monkeypatch):
    if packaged_predictor_path() is None:
        pytest.skip("face_recognition_models is not installed")
    monkeypatch.setattr(dd, "_MODELS", {})
    loads = []
    real = dlib.shape_predictor
    monkeypatch.setattr(dlib, "shape_predictor", lambda p: loads.append(p) or real(p))
    assert not dd.models_loaded()
    threads = [threading.Thread(target=dd.warm_up) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert dd.models_loaded() and len(loads) == 1
    faces = dd.DlibDetector(max_side=512).detect(Image.open(ASTRONAUT))
    assert faces and len(loads) == 1  # detection after the warm-up reuses the loaded models
