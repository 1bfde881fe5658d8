"""Test helpers for directions: StyleDomain-layout files and a literal synthesis oracle (no engine code paths)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from reference_stylegan2 import _depthwise, _fir, _zero_insert

# StyleSpace order of a StyleGAN2 generator with n resolutions above 4 px:
# conv(4), torgb(4), then per resolution conv0, conv1, torgb. Written out independently of the engine.


def conv_positions(n_blocks: int) -> list[int]:
    """StyleSpace indices of the convs, in StyleDomain head order k = 0, 1, ..."""
    out = [0]
    for j in range(n_blocks):
        out += [2 + 3 * j, 3 + 3 * j]
    return out


def conv_in_channels(channels: dict[int, int]) -> list[int]:
    """Input width of each modulated 3x3 conv in head order (4 px conv, then conv0/conv1 per block)."""
    res = sorted(channels)
    widths = [channels[4]]
    for prev, cur in zip(res, res[1:], strict=False):
        widths += [channels[prev], channels[cur]]
    return widths


def styledomain_file(path, channels: dict[int, int], kind: str = "s_delta", seed: int = 0,
                     style_latents: torch.Tensor | None = None, scale: float = 0.5) -> list[torch.Tensor]:
    """torch.save a dict in the released StyleDomain layout; returns the head tensors (flattened)."""
    g = torch.Generator().manual_seed(seed)
    heads, flat = {}, []
    for k, c in enumerate(conv_in_channels(channels)):
        shape = (1, c) if kind == "s_delta" else (1, 1, c, 1, 1)
        t = torch.randn(shape, generator=g) * scale
        heads[f"heads.conv_{k}.params_in"] = t
        flat.append(t.reshape(-1).clone())
    obj = {"model_type": "parametrization", "patch_key": kind, "state_dict": heads, "adaptive": False,
           "sg2_params": {"img_size": max(channels), "latent_size": 16, "map_layers": 2, "channel_multiplier": 2,
                          "device": "cuda:0", "checkpoint_path": "pretrained/StyleGAN2/x.pt"},
           "da_type": "im2im" if style_latents is not None else "td"}
    if style_latents is not None:
        obj["style_latents"] = style_latents
    torch.save(obj, path)
    return flat


def _modconv(x, sd, prefix, s, demod=True, up=False, mult=None):
    """Per-sample modulated conv; DomMod ``mult`` scales the demodulated weight per input channel."""
    weight = sd[f"{prefix}.conv.weight"][0].double()
    out_c, in_c, k, _ = weight.shape
    wt = weight / math.sqrt(in_c * k * k) * s.double()[None, :, None, None]
    if demod:
        wt = wt / torch.sqrt((wt**2).sum(dim=[1, 2, 3], keepdim=True) + 1e-8)
    if mult is not None:
        wt = wt * mult.double()[None, :, None, None]
    if up:
        y = F.pad(_zero_insert(x)[None], [k - 1, k - 2, k - 1, k - 2])
        y = F.conv2d(y, torch.flip(wt, [2, 3]))[0]
        return _depthwise(y, _fir() * 4, (1, 1))
    return F.conv2d(x[None], wt, padding=k // 2)[0]


def literal_synthesize(sd: dict, styles: list[torch.Tensor], n_blocks: int, mults: dict | None = None):
    """One sample from a list of style vectors [C] (StyleSpace order), const noise, float64.

    ``mults``: {StyleSpace index: [C_in] multiplier} for DomMod.
    """
    mults = mults or {}

    def styled(x, prefix, si, i, up=False):
        x = _modconv(x, sd, prefix, styles[si], up=up, mult=mults.get(si))
        x = x + sd[f"{prefix}.noise.weight"].double() * sd[f"noises.noise_{i}"][0].double()
        return F.leaky_relu(x + sd[f"{prefix}.activate.bias"].double()[:, None, None], 0.2) * math.sqrt(2)

    def rgb(x, prefix, si):
        return _modconv(x, sd, prefix, styles[si], demod=False) + sd[f"{prefix}.bias"].double()[0]

    x = sd["input.input"][0].double()
    x = styled(x, "conv1", 0, 0)
    img = rgb(x, "to_rgb1", 1)
    for j in range(n_blocks):
        x = styled(x, f"convs.{2 * j}", 2 + 3 * j, 2 * j + 1, up=True)
        x = styled(x, f"convs.{2 * j + 1}", 3 + 3 * j, 2 * j + 2)
        skip = F.pad(_zero_insert(img)[None], [2, 1, 2, 1])[0]
        skip = _depthwise(skip, _fir() * 4, (0, 0))
        img = rgb(x, f"to_rgbs.{j}", 4 + 3 * j) + skip
    return img
