"""StyleDomain Studio engine: PyTorch + numpy only (never Qt).

Data path: photo -> aligned -> latent (W+) -> styles (S) -> image.
"""

__version__ = "0.1.0"
