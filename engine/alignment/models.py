"""Landmark model files: where they come from and under which terms (shown by the studio's model manager)."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from engine.errors import FileProblem, UserError


@dataclass(frozen=True)
class ModelRecord:
    """A model file the studio uses but does not train: what it is, its licence and origin."""

    name: str
    file: str
    licence: str
    source: str
    note: str = ""


#: dlib's 68-point face landmark predictor, as shipped in the ``face_recognition_models`` wheel.
DLIB_68_LANDMARKS = ModelRecord(
    name="dlib 68-point face landmarks",
    file="shape_predictor_68_face_landmarks.dat",
    licence="Model trained on the iBUG 300-W dataset, whose terms exclude commercial use; the dlib code "
            "and the face_recognition_models package are under the Boost Software Licence / MIT, which does "
            "not lift the dataset's restriction. Treat the model as non-commercial.",
    source="pip package face_recognition_models 0.3.0 (models/shape_predictor_68_face_landmarks.dat), "
           "originally dlib.net/files/shape_predictor_68_face_landmarks.dat.bz2 by Davis King",
    note="Used for FFHQ-style alignment (eyes and mouth corners). Replaceable by a user-supplied 68-point "
         "dlib predictor file or another LandmarkDetector.",
)

#: dlib's HOG + linear SVM frontal face detector, built into the dlib (dlib-bin) library itself.
DLIB_HOG_DETECTOR = ModelRecord(
    name="dlib HOG frontal face detector",
    file="(built into dlib)",
    licence="Boost Software Licence 1.0 (dlib)",
    source="pip package dlib-bin (dlib.get_frontal_face_detector); the same detector saved as "
           "resources/detectors/dlib-frontal-face-detector.svm, which loads in milliseconds",
    note="Finds roughly frontal faces of about 40 px and larger (upsampled once).",
)

LANDMARK_MODELS: tuple[ModelRecord, ...] = (DLIB_HOG_DETECTOR, DLIB_68_LANDMARKS)


def packaged_predictor_path() -> Path | None:
    """The 68-point predictor inside ``face_recognition_models``, found without importing the package

    (its ``__init__`` needs ``pkg_resources``, which is absent without setuptools)."""
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    folders = list(spec.submodule_search_locations or [])
    if spec.origin and spec.origin not in ("namespace", "built-in"):
        folders.append(os.path.dirname(spec.origin))
    for folder in folders:
        candidate = Path(folder) / "models" / DLIB_68_LANDMARKS.file
        if candidate.is_file():
            return candidate
    return None


#: dlib's frontal detector saved by ``fhog_object_detector.save`` (tools/make_face_detector_file.py)
FRONTAL_DETECTOR_FILE = "dlib-frontal-face-detector.svm"


def frontal_detector_file() -> Path | None:
    """The shipped copy of dlib's frontal face detector under ``resources/detectors/``, if present."""
    from engine.resources import resources_dir

    path = resources_dir() / "detectors" / FRONTAL_DETECTOR_FILE
    return path if path.is_file() else None


def find_predictor(path: str | os.PathLike | None = None) -> Path:
    """A user-supplied predictor ``path`` (checked), else the packaged one; a clear error if neither."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise FileProblem(p, "landmark predictor file not found")
        return p
    found = packaged_predictor_path()
    if found is None:
        raise UserError("the 68-point landmark model is missing: install it with "
                        "`pip install face_recognition_models`, or pass a dlib predictor .dat file")
    return found
