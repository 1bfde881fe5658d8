"""A compact encoder for any generator: a small residual conv net predicting W+ offsets around w_avg.

Output: ``w_avg + w_scale * head(features)`` reshaped to [num_ws, w_dim], where ``w_scale`` is the
per-dimension spread of the generator's W (so the network works in normalised units) and the last
layer starts at zero (an untrained encoder returns w_avg). Saved as ``.safetensors`` with JSON
metadata: ``format`` = ``styledomain.encoder``, ``architecture``, ``generator_fingerprint``
(StyleSpace layout), ``generator_sha256``, ``generator_name``, ``training``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from engine.checkpoints.errors import ModelFileError
from engine.fileio import read_safetensors, read_safetensors_metadata, save_safetensors

from .base import LatentEncoder

FORMAT_NAME = "styledomain.encoder"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SmallEncoderConfig:
    input_size: int = 64
    num_ws: int = 10
    w_dim: int = 512
    base_width: int = 32
    max_width: int = 256
    hidden: int = 512

    def __post_init__(self) -> None:
        log = math.log2(self.input_size)
        if self.input_size < 16 or log != int(log):
            raise ValueError(f"encoder input size must be a power of two >= 16, got {self.input_size}")

    def widths(self) -> list[int]:
        """Channel width after each 2x downsampling, input_size -> 4."""
        n = int(math.log2(self.input_size)) - 2
        return [min(self.max_width, self.base_width * 2 ** (i + 1)) for i in range(n)]


class DownBlock(nn.Module):
    """conv3x3 -> lrelu -> conv3x3 stride 2 -> lrelu, plus an average-pooled 1x1 skip."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, in_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(in_ch, out_ch, 3, 2, 1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.leaky_relu(self.conv2(F.leaky_relu(self.conv1(x), 0.2)), 0.2)
        return (y + self.skip(F.avg_pool2d(x, 2))) / math.sqrt(2)


class SmallEncoder(LatentEncoder):
    kind = "styledomain"

    def __init__(self, cfg: SmallEncoderConfig, w_avg: torch.Tensor | None = None,
                 w_scale: torch.Tensor | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.input_size, self.num_ws, self.w_dim = cfg.input_size, cfg.num_ws, cfg.w_dim
        self.name = "encoder"
        self.meta: dict[str, str] = {}
        self.stem = nn.Conv2d(3, cfg.base_width, 3, 1, 1)
        blocks, ch = [], cfg.base_width
        for out in cfg.widths():
            blocks.append(DownBlock(ch, out))
            ch = out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(ch * 16, cfg.hidden)
        self.out = nn.Linear(cfg.hidden, cfg.num_ws * cfg.w_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim) if w_avg is None else w_avg.detach().clone().float())
        self.register_buffer("w_scale", torch.ones(cfg.w_dim) if w_scale is None else w_scale.detach().clone().float())

    def offsets(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised offsets [B, num_ws, w_dim] (W+ = w_avg + w_scale * offsets)."""
        h = self.blocks(F.leaky_relu(self.stem(x), 0.2))
        h = F.leaky_relu(self.fc(h.flatten(1)), 0.2)
        return self.out(h).view(-1, self.num_ws, self.w_dim)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_avg + self.w_scale * self.offsets(x)


def save_encoder(enc: SmallEncoder, path: str | os.PathLike, *, generator_fingerprint: str,
                 generator_sha256: str, generator_name: str = "", training: dict | None = None,
                 half: bool = True) -> None:
    """Write atomically (temp file + rename). ``half``: weights as float16 (w_avg, w_scale stay float32)."""
    path = Path(path)
    keep = ("w_avg", "w_scale")
    tensors = {k: v.detach().cpu().to(torch.float16 if half and k not in keep else torch.float32).contiguous()
               for k, v in enc.state_dict().items()}
    meta = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION),
            "weights_dtype": "float16" if half else "float32",
            "architecture": json.dumps({"name": "small-resnet", **asdict(enc.cfg)}),
            "generator_fingerprint": generator_fingerprint, "generator_sha256": generator_sha256,
            "generator_name": generator_name, "training": json.dumps(training or {})}
    save_safetensors(tensors, path, meta)


def read_encoder_metadata(path: Path) -> dict[str, str]:
    return read_safetensors_metadata(path, error=ModelFileError)


def load_small_encoder(path: str | os.PathLike) -> SmallEncoder:
    path = Path(path)
    tensors, meta = read_safetensors(path, error=ModelFileError)
    if meta.get("format") != FORMAT_NAME:
        raise ModelFileError(path, f"safetensors file is not a StyleDomain encoder (format={meta.get('format')!r})")
    if int(meta.get("format_version", "0") or 0) > FORMAT_VERSION:
        raise ModelFileError(path, f"encoder format version {meta.get('format_version')} is newer than this "
                                   f"program understands ({FORMAT_VERSION})")
    try:
        arch = json.loads(meta["architecture"])
        arch.pop("name", None)
        cfg = SmallEncoderConfig(**arch)
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelFileError(path, f"unknown encoder architecture in metadata ({exc})") from None
    enc = SmallEncoder(cfg)
    try:
        enc.load_state_dict(tensors, strict=True)
    except Exception as exc:  # noqa: BLE001
        raise ModelFileError(path, f"weights do not match the stored architecture "
                                   f"({str(exc).strip().splitlines()[0][:160]})") from None
    enc.name, enc.meta = path.name, meta
    return enc.eval().requires_grad_(False)
