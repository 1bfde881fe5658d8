"""Generator architecture description: everything needed to rebuild a StyleGAN2 generator.

A :class:`GeneratorConfig` is inferred from a checkpoint's tensor shapes (see
``engine.checkpoints``) and stored as JSON in our own safetensors files.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

#: rosinality's default channel table, multiplied by ``channel_multiplier`` from 64 px up.
_BASE_CHANNELS = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}


def default_channels(size: int, channel_multiplier: int = 2) -> dict[int, int]:
    """Channel width per resolution exactly as rosinality's ``Generator(channel_multiplier=...)``."""
    out = {}
    for res, ch in _BASE_CHANNELS.items():
        if res > size:
            break
        out[res] = ch if res <= 32 else ch * channel_multiplier
    return out


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture of a StyleGAN2 generator (skip architecture, rosinality parameter layout)."""

    size: int = 1024
    style_dim: int = 512
    n_mlp: int = 8
    channels: dict[int, int] = field(default_factory=lambda: default_channels(1024))
    lr_mlp: float = 0.01
    blur_kernel: tuple[int, ...] = (1, 3, 3, 1)
    #: NVIDIA ``conv_clamp``: conv activations (after bias, lrelu and the sqrt(2) gain) and toRGB outputs
    #: clamped to +-conv_clamp.
    conv_clamp: float | None = None
    #: ``"rosinality"`` (TF): eps added to sum((scale*w*s)^2); ``"nvidia"``: eps added to sum((w*s)^2).
    demod_eps_mode: str = "rosinality"

    def __post_init__(self) -> None:
        log = math.log2(self.size)
        if self.size < 8 or log != int(log):
            raise ValueError(f"resolution must be a power of two >= 8, got {self.size}")
        # JSON round-trips turn int keys into strings: normalise here.
        object.__setattr__(self, "channels", {int(k): int(v) for k, v in self.channels.items()})
        object.__setattr__(self, "blur_kernel", tuple(int(t) for t in self.blur_kernel))
        missing = [r for r in self.resolutions if r not in self.channels]
        if missing:
            raise ValueError(f"channel width missing for resolutions {missing}")
        if self.demod_eps_mode not in ("rosinality", "nvidia"):
            raise ValueError(f"unknown demod_eps_mode {self.demod_eps_mode!r}")

    @property
    def log_size(self) -> int:
        return int(math.log2(self.size))

    @property
    def resolutions(self) -> list[int]:
        """Synthesis block resolutions, 4 .. size."""
        return [2**i for i in range(2, self.log_size + 1)]

    @property
    def num_ws(self) -> int:
        """Rows of W+ (18 at 1024 px)."""
        return self.log_size * 2 - 2

    @property
    def num_noise(self) -> int:
        return self.log_size * 2 - 3

    def to_json(self) -> dict:
        d = asdict(self)
        d["channels"] = {str(k): v for k, v in self.channels.items()}
        d["blur_kernel"] = list(self.blur_kernel)
        return d

    @classmethod
    def from_json(cls, d: dict) -> GeneratorConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown generator config keys {sorted(unknown)}")
        return cls(**d)
