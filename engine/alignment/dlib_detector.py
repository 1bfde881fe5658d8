"""Reference :class:`LandmarkDetector`: dlib's HOG face detector + its 68-point shape predictor.

Memory and speed on big photos: faces are detected on a copy reduced to ``max_side`` pixels (HOG with
one upsampling finds faces down to about 40 px there), then each face's landmarks are predicted on a
crop of the full-resolution photo around it (reduced so the face box is about ``refine_side`` px), so
a 50 MP photo is never handed to dlib whole.
"""

from __future__ import annotations

import hashlib
import os
import threading

import numpy as np
from PIL import Image

from engine.errors import FileProblem, UserError

from .faces import Face
from .models import find_predictor, frontal_detector_file


def _dlib():
    try:
        import dlib
    except ImportError:
        raise UserError("face detection needs dlib: install it with `pip install dlib-bin`") from None
    return dlib


#: loaded (detector, predictor) pairs by predictor path; one lock so two threads never load twice
_MODELS: dict[str, tuple] = {}
_MODELS_LOCK = threading.Lock()


def _frontal_detector(dlib):
    """dlib's HOG frontal detector: from the shipped file when it is intact (about 1 ms), else built.

    ``dlib.get_frontal_face_detector()`` unpacks its compressed built-in copy, about 0.8 s with the GIL
    held; the shipped file is that same detector saved by ``fhog_object_detector.save`` (same results).
    """
    path = frontal_detector_file()
    if path is not None:
        try:
            if hashlib.sha256(path.read_bytes()).hexdigest() == FRONTAL_DETECTOR_SHA256:
                return dlib.fhog_object_detector(str(path))
        except (OSError, RuntimeError):
            pass
    return dlib.get_frontal_face_detector()


#: sha256 of resources/detectors/dlib-frontal-face-detector.svm (tools/make_face_detector_file.py)
FRONTAL_DETECTOR_SHA256 = "f3f7aa833fb4a14a46fc48689f45b98d85ef72d6dfaf8bdc012b7d3c522a5426"


def _load_models(predictor_path: str) -> tuple:
    """The (detector, predictor) pair for ``predictor_path``, loaded once per process (thread-safe).

    Loading the 68-point predictor (~100 MB) takes about 1.3 s and holds the GIL throughout (dlib
    offers no GIL-releasing load), so the studio does it early, on its worker (:func:`warm_up`).
    """
    with _MODELS_LOCK:
        found = _MODELS.get(predictor_path)
        if found is None:
            dlib = _dlib()
            try:
                predictor = dlib.shape_predictor(predictor_path)
            except RuntimeError as exc:
                reason = f"not a dlib shape predictor file ({str(exc).strip()[:120]})"
                raise FileProblem(predictor_path, reason) from None
            found = _MODELS[predictor_path] = (_frontal_detector(dlib), predictor)
        return found


def models_loaded(predictor_path: str | os.PathLike | None = None) -> bool:
    """Whether the models for ``predictor_path`` (default: the packaged one) are loaded in this process."""
    try:
        key = str(find_predictor(predictor_path))
    except UserError:
        return False
    with _MODELS_LOCK:
        return key in _MODELS


def warm_up(predictor_path: str | os.PathLike | None = None) -> bool:
    """Load the detector and predictor now, so the first :meth:`DlibDetector.detect` does not wait.

    False (nothing raised) when dlib or the predictor file is missing or unreadable; a later detect
    then reports the reason. Blocks for about 1.3 s the first time, holding the GIL.
    """
    try:
        _load_models(str(find_predictor(predictor_path)))
    except UserError:
        return False
    return True


def _index_scale(points: np.ndarray, factor: float) -> np.ndarray:
    """Pixel-index coordinates (centres at integers) in an image resized by ``factor``."""
    return (points + 0.5) * factor - 0.5


class DlibDetector:
    """HOG frontal detector (``upsample`` times) + 68-point predictor (packaged or ``predictor_path``)."""

    def __init__(self, predictor_path: str | os.PathLike | None = None, *, upsample: int = 1,
                 max_side: int = 1280, refine_side: int = 400) -> None:
        self.predictor_path = str(find_predictor(predictor_path))
        self.upsample = upsample
        self.max_side = max_side
        self.refine_side = refine_side

    def detect(self, image: Image.Image) -> list[Face]:
        detector, predictor = _load_models(self.predictor_path)
        image = image if image.mode == "RGB" else image.convert("RGB")
        k = min(1.0, self.max_side / max(image.size))
        small = image
        if k < 1.0:
            size = (max(1, round(image.width * k)), max(1, round(image.height * k)))
            small = image.resize(size, Image.BILINEAR, reducing_gap=2.0)
        kx, ky = small.width / image.width, small.height / image.height
        rects, scores, _ = detector.run(np.asarray(small), self.upsample, 0.0)
        faces = []
        for rect, score in zip(rects, scores, strict=True):
            box = np.array([rect.left(), rect.top(), rect.right(), rect.bottom()], dtype=np.float64)
            box = _index_scale(box.reshape(2, 2), np.array([1 / kx, 1 / ky])).reshape(4)
            faces.append(self._landmarks(image, box, predictor, float(score)))
        return sorted(faces, key=lambda f: f.size, reverse=True)

    def _landmarks(self, image: Image.Image, box: np.ndarray, predictor, score: float) -> Face:
        """Predict landmarks on a full-resolution crop around ``box`` (photo coordinates)."""
        dlib = _dlib()
        side = max(box[2] - box[0], box[3] - box[1], 1.0)
        margin = 0.6 * side
        x0 = max(0, int(np.floor(box[0] - margin)))
        y0 = max(0, int(np.floor(box[1] - margin)))
        x1 = min(image.width, int(np.ceil(box[2] + margin)) + 1)
        y1 = min(image.height, int(np.ceil(box[3] + margin)) + 1)
        crop = image.crop((x0, y0, x1, y1))
        f = min(1.0, self.refine_side / side)
        if f < 1.0:
            crop = crop.resize((max(1, round(crop.width * f)), max(1, round(crop.height * f))),
                               Image.LANCZOS, reducing_gap=2.0)
        fx, fy = crop.width / (x1 - x0), crop.height / (y1 - y0)
        local = _index_scale((box.reshape(2, 2) - [x0, y0]), np.array([fx, fy])).reshape(4)
        rect = dlib.rectangle(*(int(round(v)) for v in local))
        shape = predictor(np.ascontiguousarray(np.asarray(crop)), rect)
        if shape.num_parts != 68:
            raise FileProblem(self.predictor_path, f"predictor gives {shape.num_parts} points; "
                              "FFHQ alignment needs a 68-point model")
        pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
        pts = _index_scale(pts, np.array([1 / fx, 1 / fy])) + [x0, y0]
        return Face(pts, tuple(float(v) for v in box), score)
