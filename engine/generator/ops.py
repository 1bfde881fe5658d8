"""Pure-PyTorch StyleGAN2 primitives: FIR resampling and the biased leaky ReLU.

No custom CUDA extensions and no JIT compile: these run anywhere PyTorch runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)


def make_kernel(taps: Sequence[float]) -> torch.Tensor:
    """Separable FIR kernel from 1-D taps, normalised to sum 1."""
    k = torch.tensor(list(taps), dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(
    x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """Upsample by zero insertion, pad (negative values crop), FIR filter (true convolution), decimate.

    Same semantics as rosinality's / NVIDIA's ``upfirdn2d`` with equal x/y factors and padding.
    Output size per axis: ``(in * up + pad0 + pad1 - k + down) // down``.
    """
    n, c, h, w = x.shape
    if up > 1:
        z = x.new_zeros(n, c, h * up, w * up)
        z[:, :, ::up, ::up] = x
        x = z
    p0, p1 = pad
    x = F.pad(x, [max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)])
    if p0 < 0 or p1 < 0:
        x = x[:, :, max(-p0, 0) : x.shape[2] - max(-p1, 0), max(-p0, 0) : x.shape[3] - max(-p1, 0)]
    kh, kw = kernel.shape
    weight = torch.flip(kernel, [0, 1]).to(x.dtype).view(1, 1, kh, kw).expand(c, 1, kh, kw)
    x = F.conv2d(x, weight, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def bias_leaky_relu(
    x: torch.Tensor, bias: torch.Tensor, clamp: float | None = None, gain: float = LRELU_GAIN
) -> torch.Tensor:
    """``leaky_relu(x + bias, 0.2) * gain``, bias on dim 1, then an optional symmetric clamp.

    The clamp reproduces NVIDIA's ``bias_act(..., clamp=conv_clamp * gain)``.
    """
    shape = [1, -1] + [1] * (x.ndim - 2)
    x = F.leaky_relu(x + bias.view(shape).to(x.dtype), LRELU_SLOPE) * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x

