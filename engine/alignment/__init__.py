"""Offline face alignment (FFHQ procedure), landmark detection behind a small interface, and paste-back."""

from .faces import (
    MIN_EYE_DISTANCE,
    Face,
    FaceTooSmall,
    LandmarkDetector,
    NoFaceFound,
    default_detector,
    detect_faces,
)
from .ffhq import AlignedFace, align_centre_crop, align_face, align_largest_face, ffhq_quad
from .models import LANDMARK_MODELS, ModelRecord, find_predictor
from .paste import EXPORT_CHOICES, export_edit, extract_aligned, feather_mask, paste_back

__all__ = [
    "EXPORT_CHOICES", "LANDMARK_MODELS", "MIN_EYE_DISTANCE", "AlignedFace", "Face", "FaceTooSmall",
    "LandmarkDetector", "ModelRecord", "NoFaceFound", "align_centre_crop", "align_face", "align_largest_face",
    "default_detector", "detect_faces", "export_edit", "extract_aligned", "feather_mask", "ffhq_quad",
    "find_predictor", "paste_back",
]
