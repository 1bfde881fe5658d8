"""e4e (Encoder4Editing, Tov et al. 2021) with an IR-SE backbone, loading published checkpoints as is.

Published layout (``e4e_ffhq_encode.pt``): ``{'state_dict': {'encoder.*', 'decoder.*'}, 'opts': dict,
'latent_avg': [num_ws, 512]}``. The encoder maps a 256x256 face in [-1, 1] to W+:
``w_0 = styles[0](c3)``; row ``i`` = ``w_0 + styles[i](features_i)`` where coarse rows (0-2) read the
stride-16 map, middle rows (3-6) the FPN stride-8 map and fine rows the FPN stride-4 map; then
``+ latent_avg``. The pSp ``GradualStyleEncoder`` (same weights layout, every row predicted directly)
is supported too. Everything is loaded with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from engine.checkpoints.errors import ModelFileError
from engine.checkpoints.rosinality import build_from_state_dict, torch_load_safely
from engine.fileio import require_file
from engine.generator import Generator
from engine.generator.stylegan2 import EqualLinear

from .base import LatentEncoder
from .irse import IRSE50_UNITS, IRSE50_WIDTHS, IRSEBackbone

COARSE_END, MIDDLE_END = 3, 7
_STYLE_KEY = re.compile(r"^styles\.(\d+)\.linear\.weight$")
_BODY_KEY = re.compile(r"^body\.(\d+)\.res_layer\.1\.weight$")
_HEAD_CONV_KEY = re.compile(r"^styles\.0\.convs\.(\d+)\.weight$")


class GradualStyleBlock(nn.Module):
    """log2(spatial) stride-2 conv3x3 + LeakyReLU(0.01) down to 1x1, then an equalised linear layer."""

    def __init__(self, in_ch: int, out_ch: int, spatial: int) -> None:
        super().__init__()
        n = int(math.log2(spatial))
        layers: list[nn.Module] = []
        for k in range(n):
            layers += [nn.Conv2d(in_ch if k == 0 else out_ch, out_ch, 3, 2, 1), nn.LeakyReLU(0.01)]
        self.convs = nn.Sequential(*layers)
        self.linear = EqualLinear(out_ch, out_ch)
        self.out_ch = out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(x).reshape(-1, self.out_ch))


def _upsample_add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=y.shape[-2:], mode="bilinear", align_corners=True) + y


class Encoder4Editing(nn.Module):
    """Backbone + FPN + per-row GradualStyleBlocks. ``forward`` returns offsets (no latent_avg)."""

    def __init__(self, style_count: int = 18, units: Sequence[int] = IRSE50_UNITS,
                 widths: Sequence[int] = IRSE50_WIDTHS, style_dim: int = 512, input_size: int = 256,
                 progressive: bool = True) -> None:
        super().__init__()
        if input_size % 16 or input_size < 32:
            raise ValueError("e4e input size must be a multiple of 16, at least 32")
        self.style_count, self.style_dim, self.input_size = style_count, style_dim, input_size
        self.progressive = progressive
        self.units, self.widths = tuple(units), tuple(widths)
        backbone = IRSEBackbone(units, widths)
        # Registered directly under the published names (input_layer.*, body.*).
        self.input_layer, self.body = backbone.input_layer, backbone.body
        self.stage_ends = backbone.stage_ends
        top = widths[-1]
        self.styles = nn.ModuleList()
        for i in range(style_count):
            spatial = input_size // (16 if i < COARSE_END else 8 if i < MIDDLE_END else 4)
            self.styles.append(GradualStyleBlock(top, style_dim, spatial))
        self.latlayer1 = nn.Conv2d(widths[2], top, 1)
        self.latlayer2 = nn.Conv2d(widths[1], top, 1)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """c1 (stride 4), c2 (stride 8), c3 (stride 16): outputs of stages 2, 3 and 4."""
        x = self.input_layer(x)
        taps = {}
        for i, unit in enumerate(self.body):
            x = unit(x)
            if i in self.stage_ends[1:]:
                taps[i] = x
        return taps[self.stage_ends[1]], taps[self.stage_ends[2]], taps[self.stage_ends[3]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1, c2, c3 = self.features(x)
        p2 = _upsample_add(c3, self.latlayer1(c2))
        p1 = _upsample_add(p2, self.latlayer2(c1))
        level = [c3] * COARSE_END + [p2] * (MIDDLE_END - COARSE_END) + [p1] * max(0, self.style_count - MIDDLE_END)
        w0 = self.styles[0](c3)
        rows = [w0]
        for i in range(1, self.style_count):
            out = self.styles[i](level[i])
            rows.append(w0 + out if self.progressive else out)
        return torch.stack(rows, dim=1)


class E4EEncoder(LatentEncoder):
    """A loaded e4e/pSp checkpoint: resize to the encoder input, predict, add ``latent_avg``."""

    kind = "e4e"

    def __init__(self, net: Encoder4Editing, latent_avg: torch.Tensor | None, opts: dict, name: str = "e4e"):
        super().__init__()
        self.net = net
        self.register_buffer("latent_avg", torch.zeros(net.style_count, net.style_dim) if latent_avg is None
                             else latent_avg.reshape(-1, net.style_dim).expand(net.style_count, -1).clone())
        self.add_avg = latent_avg is not None
        self.opts = opts
        self.name = name
        self.input_size, self.num_ws, self.w_dim = net.input_size, net.style_count, net.style_dim

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return out + self.latent_avg if self.add_avg else out


def _plain_opts(opts: object) -> dict:
    if isinstance(opts, argparse.Namespace):
        opts = vars(opts)
    if not isinstance(opts, dict):
        return {}
    return {str(k): v for k, v in opts.items() if isinstance(v, (int, float, str, bool, type(None)))}


def infer_architecture(sd: dict[str, torch.Tensor]) -> dict:
    """Style count, stage units/widths, style dim and input size read off an encoder state dict."""
    style_ids = sorted(int(m.group(1)) for k in sd if (m := _STYLE_KEY.match(k)))
    body_ids = sorted(int(m.group(1)) for k in sd if (m := _BODY_KEY.match(k)))
    if not style_ids or style_ids != list(range(len(style_ids))):
        raise ValueError("no style heads styles.{i}.linear")
    if not body_ids or body_ids != list(range(len(body_ids))):
        raise ValueError("no backbone units body.{i}")
    if sd["input_layer.0.weight"].shape[1] != 3:
        raise ValueError(f"{sd['input_layer.0.weight'].shape[1]}-channel input (ReStyle encoders are not e4e)")
    depths = [sd[f"body.{i}.res_layer.1.weight"].shape[0] for i in body_ids]
    widths, units = [], []
    for d in depths:
        if widths and widths[-1] == d:
            units[-1] += 1
        else:
            widths.append(d)
            units.append(1)
    if len(widths) != 4:
        raise ValueError(f"backbone has {len(widths)} stages, expected 4")
    head_convs = [int(m.group(1)) for k in sd if (m := _HEAD_CONV_KEY.match(k))]
    style_dim = sd["styles.0.linear.weight"].shape[0]
    return {"style_count": len(style_ids), "units": tuple(units), "widths": tuple(widths),
            "style_dim": style_dim, "input_size": 16 * 2 ** len(head_convs)}


def load_e4e(path: str | os.PathLike) -> tuple[E4EEncoder, Generator | None, torch.Tensor | None]:
    """Load an e4e/pSp checkpoint as published -> (encoder, decoder generator or None, latent_avg or None)."""
    p = require_file(path)
    obj = torch_load_safely(p)
    if not isinstance(obj, dict) or not isinstance(obj.get("state_dict"), dict):
        raise ModelFileError(p, "not an e4e checkpoint (expected {'state_dict', 'opts', 'latent_avg'})")
    full = obj["state_dict"]
    enc_sd = {k[len("encoder."):]: v for k, v in full.items() if str(k).startswith("encoder.")}
    dec_sd = {k[len("decoder."):]: v for k, v in full.items() if str(k).startswith("decoder.")}
    if not enc_sd:
        raise ModelFileError(p, "checkpoint has no encoder.* weights")
    opts = _plain_opts(obj.get("opts"))
    etype = opts.get("encoder_type", "Encoder4Editing")
    if etype not in ("Encoder4Editing", "GradualStyleEncoder"):
        raise ModelFileError(p, f"encoder type {etype!r} is not supported (Encoder4Editing or GradualStyleEncoder)")
    try:
        arch = infer_architecture(enc_sd)
        net = Encoder4Editing(progressive=etype == "Encoder4Editing", **arch)
        net.load_state_dict(enc_sd, strict=True)
    except (KeyError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(p, f"unknown encoder architecture ({first[:200]})") from None
    latent_avg = obj.get("latent_avg")
    if latent_avg is not None and (not torch.is_tensor(latent_avg) or latent_avg.shape[-1] != arch["style_dim"]
                                   or latent_avg.numel() not in (arch["style_dim"],
                                                                 arch["style_dim"] * arch["style_count"])):
        raise ModelFileError(p, f"latent_avg has shape {list(getattr(latent_avg, 'shape', []))}, expected "
                                f"[{arch['style_count']}, {arch['style_dim']}]")
    decoder = build_from_state_dict(dec_sd, latent_avg, p) if dec_sd else None
    start_avg = bool(opts.get("start_from_latent_avg", True))
    if latent_avg is None and start_avg and decoder is not None:
        latent_avg = decoder.w_avg.clone()  # as e4e does: the decoder's mean latent
    if latent_avg is None and start_avg:
        raise ModelFileError(p, "checkpoint has no latent_avg and no decoder to compute it from")
    avg = latent_avg.float().reshape(-1, arch["style_dim"]) if (latent_avg is not None and start_avg) else None
    encoder = E4EEncoder(net.eval(), avg, opts, name=Path(p).name).eval().requires_grad_(False)
    return encoder, decoder, avg.expand(arch["style_count"], -1).clone() if avg is not None else None
