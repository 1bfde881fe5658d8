"""Real photos in: encoders (e4e, our small per-generator encoder) and optimisation-based projection."""

from .api import DEFAULT_STEPS, InversionResult, image_to_tensor, invert_image, invert_photo
from .base import LatentEncoder
from .e4e import E4EEncoder, Encoder4Editing, load_e4e
from .encoders import check_encoder_fits, find_default_encoder, load_encoder
from .projector import MODES, ProjectionResult, ProjectionSettings, project

__all__ = [
    "DEFAULT_STEPS", "MODES", "E4EEncoder", "Encoder4Editing", "InversionResult", "LatentEncoder",
    "ProjectionResult", "ProjectionSettings", "check_encoder_fits", "find_default_encoder", "image_to_tensor",
    "invert_image", "invert_photo", "load_e4e", "load_encoder", "project",
]
