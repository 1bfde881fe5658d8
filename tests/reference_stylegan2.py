"""An independent, deliberately literal StyleGAN2 forward pass used as the tests' oracle.

Written from the equations (rosinality / TF semantics), per sample, with explicit zero-insertion
upsampling instead of transposed convolutions. It shares no code with ``engine``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _fir(k=(1, 3, 3, 1)) -> torch.Tensor:
    k = torch.tensor(k, dtype=torch.float64)
    k = torch.outer(k, k)
    return k / k.sum()


def _zero_insert(x: torch.Tensor) -> torch.Tensor:
    c, h, w = x.shape
    out = torch.zeros(c, 2 * h, 2 * w, dtype=x.dtype)
    out[:, ::2, ::2] = x
    return out


def _depthwise(x: torch.Tensor, k: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
    x = F.pad(x[None], [pad[0], pad[1], pad[0], pad[1]])
    c = x.shape[1]
    return F.conv2d(x, torch.flip(k, [0, 1]).expand(c, 1, *k.shape), groups=c)[0]


def _dense(x, weight, bias, lr_mul=1.0):
    return x @ (weight.double() * lr_mul / math.sqrt(weight.shape[1])).t() + bias.double() * lr_mul


def _lrelu(x):
    return F.leaky_relu(x, 0.2) * math.sqrt(2)


def mapping(sd: dict, z: torch.Tensor, n_mlp: int, lr_mlp: float = 0.01) -> torch.Tensor:
    x = z.double()
    x = x / torch.sqrt((x**2).mean(dim=1, keepdim=True) + 1e-8)
    for i in range(1, n_mlp + 1):
        x = _lrelu(_dense(x, sd[f"style.{i}.weight"], sd[f"style.{i}.bias"], lr_mlp))
    return x


def _modconv(x, sd, prefix, w, demod=True, up=False):
    weight = sd[f"{prefix}.conv.weight"][0].double()
    out_c, in_c, k, _ = weight.shape
    s = _dense(w, sd[f"{prefix}.conv.modulation.weight"], sd[f"{prefix}.conv.modulation.bias"])
    wt = weight / math.sqrt(in_c * k * k) * s[None, :, None, None]
    if demod:
        wt = wt / torch.sqrt((wt**2).sum(dim=[1, 2, 3], keepdim=True) + 1e-8)
    if up:  # transposed conv == zero-insert, pad k-1, conv with the spatially flipped kernel
        y = F.pad(_zero_insert(x)[None], [k - 1, k - 2, k - 1, k - 2])
        y = F.conv2d(y, torch.flip(wt, [2, 3]))[0]
        return _depthwise(y, _fir() * 4, (1, 1))
    return F.conv2d(x[None], wt, padding=k // 2)[0]


def synthesize(sd: dict, w_plus: torch.Tensor, n_blocks: int, noise: list | None) -> torch.Tensor:
    """One sample: w_plus [num_ws, D] -> image [3, H, W] (float64). ``noise``: None = const buffers."""
    def styled(x, prefix, w, i, up=False):
        x = _modconv(x, sd, prefix, w, up=up)
        nz = sd[f"noises.noise_{i}"][0].double() if noise is None else noise[i]
        x = x + sd[f"{prefix}.noise.weight"].double() * nz
        return _lrelu(x + sd[f"{prefix}.activate.bias"].double()[:, None, None])

    def rgb(x, prefix, w):
        return _modconv(x, sd, prefix, w, demod=False) + sd[f"{prefix}.bias"].double()[0]

    w_plus = w_plus.double()
    x = sd["input.input"][0].double()
    x = styled(x, "conv1", w_plus[0], 0)
    img = rgb(x, "to_rgb1", w_plus[1])
    for j in range(n_blocks):
        x = styled(x, f"convs.{2 * j}", w_plus[2 * j + 1], 2 * j + 1, up=True)
        x = styled(x, f"convs.{2 * j + 1}", w_plus[2 * j + 2], 2 * j + 2)
        skip = F.pad(_zero_insert(img)[None], [2, 1, 2, 1])[0]
        skip = _depthwise(skip, _fir() * 4, (0, 0))
        img = rgb(x, f"to_rgbs.{j}", w_plus[2 * j + 3]) + skip
    return img
