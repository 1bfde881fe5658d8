"""StyleGAN2 generator (pure PyTorch)."""

from .config import GeneratorConfig, default_channels
from .stylegan2 import IMPLS, NOISE_MODES, Generator

__all__ = ["IMPLS", "NOISE_MODES", "Generator", "GeneratorConfig", "default_channels"]
