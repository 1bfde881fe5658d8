"""Domain directions in StyleSpace: load, apply, blend, morph (see the modules' docstrings)."""

from .blend import DirectionTerm, StyleEdit, build_edit, mix_style_latents, sparsify
from .blendpad import BlendPad, bilinear_weights, inverse_distance_weights
from .direction import Direction, check_fits, load_direction, save_direction
from .layers import mask_vector, selected_layers

__all__ = [
    "BlendPad", "Direction", "DirectionTerm", "StyleEdit", "bilinear_weights", "build_edit", "check_fits",
    "inverse_distance_weights", "load_direction", "mask_vector", "mix_style_latents", "save_direction",
    "selected_layers", "sparsify",
]
