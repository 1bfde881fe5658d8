"""Reconstruction losses for inversion: LPIPS-VGG when VGG16 weights are available, else a fallback.

* :class:`LPIPSVGG` follows LPIPS v0.1 (Zhang et al. 2018): inputs in [-1, 1] shifted/scaled per
  channel, VGG16 features at relu1_2, relu2_2, relu3_3, relu4_3, relu5_3, each unit-normalised over
  channels, squared difference weighted by a learned 1x1 head, averaged over space, summed.
  The VGG16 backbone comes from a torchvision ``vgg16`` state dict file the user imports; the linear
  heads from the pip ``lpips`` package's ``weights/v0.1/vgg.pth`` (BSD-2), read without importing it.
* :class:`PyramidLoss` (fallback, no weights needed): mean L1 + mean L2 at every level of an image
  pyramid (2x average pooling down to 8 px), so coarse structure and fine detail both count.
* :class:`DiscriminatorFeatureLoss`: L2 between a rosinality discriminator's block features, when the
  checkpoint carries ``d``; added to the pyramid loss.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from engine.checkpoints.errors import ModelFileError
from engine.fileio import require_file
from engine.generator.ops import bias_leaky_relu, upfirdn2d
from engine.rng import keep_global_rng

LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)
#: torchvision ``vgg16().features`` cut points after relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
VGG_SLICES = (4, 9, 16, 23, 30)
VGG_CHANNELS = (64, 128, 256, 512, 512)
VGG_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


def pyramid(x: torch.Tensor, min_size: int = 8) -> list[torch.Tensor]:
    levels = [x]
    while levels[-1].shape[-1] >= 2 * min_size:
        levels.append(F.avg_pool2d(levels[-1], 2))
    return levels


class PyramidLoss(nn.Module):
    """Sum over pyramid levels of mean |a-b| + mean (a-b)^2."""

    name = "pyramid-l1l2"

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        total = a.new_zeros(())
        for x, y in zip(pyramid(a), pyramid(b), strict=True):
            d = x - y
            total = total + d.abs().mean() + d.pow(2).mean()
        return total


def _vgg16_features() -> nn.Sequential:
    """torchvision's ``vgg16().features`` layer list (indices match its state dict)."""
    layers: list[nn.Module] = []
    in_ch = 3
    for v in VGG_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(in_ch, v, 3, padding=1), nn.ReLU(inplace=False)]
            in_ch = v
    return nn.Sequential(*layers)


def lpips_heads_path() -> Path | None:
    """``weights/v0.1/vgg.pth`` inside the installed ``lpips`` package, if present."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or spec.origin is None:
        return None
    p = Path(spec.origin).parent / "weights" / "v0.1" / "vgg.pth"
    return p if p.is_file() else None


class LPIPSVGG(nn.Module):
    """LPIPS v0.1 with a VGG16 trunk. ``forward(a, b)`` -> mean distance over the batch."""

    name = "lpips-vgg"

    def __init__(self, vgg_state: dict[str, torch.Tensor] | None = None,
                 heads_state: dict[str, torch.Tensor] | None = None) -> None:
        super().__init__()
        self.features = _vgg16_features()[: VGG_SLICES[-1]]
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in VGG_CHANNELS)
        self.register_buffer("shift", torch.tensor(LPIPS_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(LPIPS_SCALE).view(1, 3, 1, 1))
        if vgg_state is not None:
            self.features.load_state_dict(vgg_state, strict=True)
        if heads_state is not None:
            for i, head in enumerate(self.heads):
                head.weight.data.copy_(heads_state[f"lin{i}.model.1.weight"])
        self.requires_grad_(False).eval()

    def layer_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.shift) / self.scale
        outs, start = [], 0
        for end in VGG_SLICES:
            x = self.features[start:end](x)
            outs.append(x)
            start = end
        return outs

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Per-sample LPIPS distance [B]."""
        total = a.new_zeros(a.shape[0])
        for head, fa, fb in zip(self.heads, self.layer_features(a), self.layer_features(b), strict=True):
            na = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            nb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + head((na - nb).pow(2)).mean(dim=(1, 2, 3))
        return total

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if a.shape[-1] > 256:  # as NVIDIA's projector: compare at 256 px
            a = F.adaptive_avg_pool2d(a, 256)
            b = F.adaptive_avg_pool2d(b, 256)
        return self.distance(a, b).mean()


def load_vgg16_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The ``features.*`` part of a torchvision ``vgg16`` state dict file (weights_only)."""
    p = require_file(path)
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise ModelFileError(p, f"not a readable PyTorch weights file ({str(exc).splitlines()[0][:120]})") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ModelFileError(p, "not a VGG16 state dict")
    feats = {k[len("features."):]: v for k, v in obj.items() if str(k).startswith("features.")}
    expected = _vgg16_features()[: VGG_SLICES[-1]].state_dict()
    if set(feats) < set(expected) or any(feats[k].shape != v.shape for k, v in expected.items()):
        raise ModelFileError(p, "not a torchvision VGG16 state dict (features.* weights missing or misshapen)")
    return {k: feats[k] for k in expected}


@keep_global_rng()  # VGG layers are built (random init) before the file's weights go in
def make_lpips(vgg16_path: str | os.PathLike, heads_path: str | os.PathLike | None = None) -> LPIPSVGG:
    """LPIPS-VGG from a torchvision VGG16 file and the v0.1 linear heads (from ``lpips`` or a file)."""
    vgg = load_vgg16_state(vgg16_path)
    hp = Path(heads_path) if heads_path else lpips_heads_path()
    if hp is None:
        raise ModelFileError(vgg16_path, "LPIPS linear heads not found (install the 'lpips' package or "
                                         "give the v0.1 vgg.pth file)")
    heads = torch.load(require_file(hp), map_location="cpu", weights_only=True)
    if not all(f"lin{i}.model.1.weight" in heads for i in range(5)):
        raise ModelFileError(hp, "not LPIPS v0.1 VGG linear heads (lin0..lin4 missing)")
    return LPIPSVGG(vgg, heads)


# ---- discriminator features (rosinality layout) ------------------------------------------------------
_RESBLOCK = re.compile(r"^convs\.(\d+)\.conv1\.0\.weight$")


class DiscriminatorFeatures(nn.Module):
    """The residual trunk of a rosinality ``Discriminator`` (``convs.*`` of its state dict)."""

    def __init__(self, d_state: dict[str, torch.Tensor], max_blocks: int | None = None) -> None:
        super().__init__()
        blocks = sorted(int(m.group(1)) for k in d_state if (m := _RESBLOCK.match(k)))
        if "convs.0.0.weight" not in d_state or not blocks:
            raise ValueError("not a rosinality discriminator state dict")
        self.size = 2 ** (len(blocks) + 2)
        self.blocks = blocks[:max_blocks] if max_blocks else blocks
        self.params = {k: v.float() for k, v in d_state.items() if k.startswith("convs.")}
        kernel = self.params.get(f"convs.{blocks[0]}.conv2.0.kernel")
        self.kernel = kernel if kernel is not None else torch.outer(*(torch.tensor([1., 3, 3, 1]),) * 2) / 64

    def to(self, *args, **kwargs):  # noqa: D401 - keep the plain tensors on the module's device
        self.params = {k: v.to(*args, **kwargs) for k, v in self.params.items()}
        self.kernel = self.kernel.to(*args, **kwargs)
        return self

    def _conv(self, x, prefix: str, down: bool, act: bool, k: int) -> torch.Tensor:
        p = self.params
        w = p[f"{prefix}.{1 if down else 0}.weight"]
        scale = 1 / math.sqrt(w.shape[1] * w.shape[2] * w.shape[3])
        if down:
            pad = (len(self.kernel) - 2) + (k - 1)
            x = upfirdn2d(x, self.kernel, pad=((pad + 1) // 2, pad // 2))
            x = F.conv2d(x, w * scale, stride=2)
        else:
            x = F.conv2d(x, w * scale, padding=k // 2)
        if act:
            return bias_leaky_relu(x, p[f"{prefix}.{2 if down else 1}.bias"])
        return x

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        x = self._conv(x, "convs.0", down=False, act=True, k=1)
        feats = []
        for i in self.blocks:
            out = self._conv(x, f"convs.{i}.conv1", down=False, act=True, k=3)
            out = self._conv(out, f"convs.{i}.conv2", down=True, act=True, k=3)
            skip = self._conv(x, f"convs.{i}.skip", down=True, act=False, k=1)
            x = (out + skip) / math.sqrt(2)
            feats.append(x)
        return feats


class DiscriminatorFeatureLoss(nn.Module):
    """Pyramid L1/L2 + weight * mean squared difference of discriminator block features."""

    name = "pyramid-l1l2+d-features"

    def __init__(self, d_state: dict[str, torch.Tensor], weight: float = 0.1, max_blocks: int = 4) -> None:
        super().__init__()
        self.d = DiscriminatorFeatures(d_state, max_blocks)
        self.pixel = PyramidLoss()
        self.weight = weight

    def to(self, *args, **kwargs):
        self.d.to(*args, **kwargs)
        return self

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        total = self.pixel(a, b)
        for fa, fb in zip(self.d(a), self.d(b), strict=True):
            total = total + self.weight * (fa - fb).pow(2).mean()
        return total


def default_loss(discriminator: dict | None = None, vgg16_path: str | os.PathLike | None = None) -> nn.Module:
    """LPIPS-VGG when VGG16 weights are given; else pyramid L1/L2 (+ D features when available)."""
    if vgg16_path:
        return make_lpips(vgg16_path)
    if discriminator:
        try:
            return DiscriminatorFeatureLoss(discriminator)
        except (ValueError, KeyError):
            pass
    return PyramidLoss()
