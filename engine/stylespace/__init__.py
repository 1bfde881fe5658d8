"""StyleSpace (S): the affine outputs that modulate every synthesis layer."""

from .layout import (
    StyleLayer,
    conv_layers,
    layout_as_dicts,
    layout_fingerprint,
    style_layout,
    total_channels,
)
from .vectors import flatten_styles, unflatten_styles

__all__ = [
    "StyleLayer", "conv_layers", "flatten_styles", "layout_as_dicts", "layout_fingerprint",
    "style_layout", "total_channels", "unflatten_styles",
]
