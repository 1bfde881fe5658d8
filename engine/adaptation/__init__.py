"""Quick domain adaptation: train affine layers, low-rank affine offsets or one StyleSpace direction.

Entry point :func:`adapt` (see :mod:`engine.adaptation.api`); parameterisations in
:mod:`~engine.adaptation.params`, losses in :mod:`~engine.adaptation.losses`, CLIP loading in
:mod:`~engine.adaptation.clip`, optimiser presets in :mod:`~engine.adaptation.presets`.
"""

from .api import AdaptResult, adapt
from .distil import distil_direction, render_adapted
from .losses import LOSSES
from .params import PARAMS, make_param
from .presets import PRESETS, Preset
from .references import Reference

__all__ = ["LOSSES", "PARAMS", "PRESETS", "AdaptResult", "Preset", "Reference", "adapt", "distil_direction",
           "make_param", "render_adapted"]
