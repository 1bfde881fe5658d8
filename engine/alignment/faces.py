"""Faces found in a photo, and the small interface any landmark detector implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from engine.errors import UserError
from engine.jobs import CancelToken, ProgressFn, check_cancel, report

#: Faces whose eye centres are closer than this (in photo pixels) are refused by alignment.
MIN_EYE_DISTANCE = 16.0


class NoFaceFound(UserError):
    """No face was detected; the centred square crop (``align_centre_crop``) is the fallback."""


class FaceTooSmall(UserError):
    """The face is too small in the photo to give a usable aligned crop."""


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face in photo pixel coordinates (pixel centres at integers, as dlib reports).

    ``landmarks``: [68, 2] (x, y) in the iBUG 300-W / dlib order; ``box``: (left, top, right, bottom).
    """

    landmarks: np.ndarray
    box: tuple[float, float, float, float]
    score: float = 0.0

    def __post_init__(self) -> None:
        lm = np.asarray(self.landmarks, dtype=np.float64)
        if lm.shape != (68, 2):
            raise ValueError(f"expected [68, 2] landmarks, got {list(lm.shape)}")
        object.__setattr__(self, "landmarks", lm)

    @property
    def eye_left(self) -> np.ndarray:
        """Centre of the eye on the image's left (the subject's right eye)."""
        return self.landmarks[36:42].mean(axis=0)

    @property
    def eye_right(self) -> np.ndarray:
        return self.landmarks[42:48].mean(axis=0)

    @property
    def mouth_left(self) -> np.ndarray:
        return self.landmarks[48]

    @property
    def mouth_right(self) -> np.ndarray:
        return self.landmarks[54]

    @property
    def mouth_centre(self) -> np.ndarray:
        return (self.mouth_left + self.mouth_right) / 2

    @property
    def eye_distance(self) -> float:
        return float(np.linalg.norm(self.eye_right - self.eye_left))

    @property
    def size(self) -> float:
        """Face size in px: half the side of its FFHQ crop, ``max(2 |eye_to_eye|, 1.8 |eye_to_mouth|)``.

        Faces are ranked by this rather than by the detector's box, whose sizes come in coarse steps."""
        eye_to_mouth = self.mouth_centre - (self.eye_left + self.eye_right) / 2
        return max(2.0 * self.eye_distance, 1.8 * float(np.linalg.norm(eye_to_mouth)))

    @property
    def area(self) -> float:
        left, top, right, bottom = self.box
        return max(0.0, right - left) * max(0.0, bottom - top)

    def scaled(self, factor: float, offset: tuple[float, float] = (0.0, 0.0)) -> Face:
        """This face in another image's coordinates: ``p * factor + offset``."""
        off = np.asarray(offset, dtype=np.float64)
        box = np.asarray(self.box, dtype=np.float64) * factor + np.tile(off, 2)
        return Face(self.landmarks * factor + off, tuple(float(v) for v in box), self.score)

    @property
    def alignable(self) -> bool:
        """Whether the face is large enough for :func:`engine.alignment.align_face`."""
        return self.eye_distance >= MIN_EYE_DISTANCE

    def describe(self) -> str:
        left, top, right, bottom = (int(round(v)) for v in self.box)
        return (f"box ({left}, {top})-({right}, {bottom}), {right - left}x{bottom - top} px, "
                f"eye distance {self.eye_distance:.0f} px, score {self.score:.2f}")


@runtime_checkable
class LandmarkDetector(Protocol):
    """Anything that finds faces with 68 landmarks in an RGB image, largest first."""

    def detect(self, image: Image.Image) -> list[Face]: ...


_DEFAULT: LandmarkDetector | None = None


def default_detector() -> LandmarkDetector:
    """The shared dlib detector (models load on first use, once)."""
    global _DEFAULT
    if _DEFAULT is None:
        from .dlib_detector import DlibDetector

        _DEFAULT = DlibDetector()
    return _DEFAULT


def detect_faces(image: Image.Image, detector: LandmarkDetector | None = None, *,
                 progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> list[Face]:
    """All faces in ``image`` with their landmarks, largest (:attr:`Face.size`) first.

    Progress (job ``"detect"``): a report before and after; a cancel raises :class:`engine.jobs.Cancelled`
    (checked before and after the detector, whose single call cannot be interrupted).
    """
    check_cancel(cancel, "detect")
    report(progress, "detect", 0, 1, "finding faces")
    faces = list((detector or default_detector()).detect(image))
    check_cancel(cancel, "detect")
    report(progress, "detect", 1, 1, f"{len(faces)} face(s) found")
    return sorted(faces, key=lambda f: f.size, reverse=True)
