"""IR-SE backbone (ArcFace-style ResNet with squeeze-excitation), as used by pSp/e4e encoders.

Module and parameter names follow the published e4e checkpoints: ``input_layer.{0,1,2}``,
``body.{i}.res_layer.{0..5}`` (BN -> conv3x3 -> PReLU -> conv3x3(stride) -> BN -> SE) and
``body.{i}.shortcut_layer`` (MaxPool(1, stride) when the width is unchanged, else conv1x1 + BN).
IR-SE50 is ``units=(3, 4, 14, 3)``, ``widths=(64, 128, 256, 512)``; smaller variants of the same code
are used by tests.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

IRSE50_UNITS = (3, 4, 14, 3)
IRSE50_WIDTHS = (64, 128, 256, 512)


class SqueezeExcite(nn.Module):
    """Channel gating: x * sigmoid(fc2(relu(fc1(mean(x))))) with 1x1 convs without bias."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(g))))


class BottleneckIRSE(nn.Module):
    """One IR-SE unit: residual branch + shortcut."""

    def __init__(self, in_ch: int, depth: int, stride: int, se_reduction: int = 16) -> None:
        super().__init__()
        if in_ch == depth:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(nn.Conv2d(in_ch, depth, 1, stride, bias=False),
                                                nn.BatchNorm2d(depth))
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(in_ch),
            nn.Conv2d(in_ch, depth, 3, 1, 1, bias=False),
            nn.PReLU(depth),
            nn.Conv2d(depth, depth, 3, stride, 1, bias=False),
            nn.BatchNorm2d(depth),
            SqueezeExcite(depth, se_reduction),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class IRSEBackbone(nn.Module):
    """Stem + four stages; ``forward`` returns the output of every stage (strides 2, 4, 8, 16)."""

    def __init__(self, units: Sequence[int] = IRSE50_UNITS, widths: Sequence[int] = IRSE50_WIDTHS,
                 stem_width: int | None = None) -> None:
        super().__init__()
        if len(units) != 4 or len(widths) != 4:
            raise ValueError("IR-SE backbone needs four stages")
        stem = stem_width or widths[0]
        self.units, self.widths = tuple(units), tuple(widths)
        self.input_layer = nn.Sequential(nn.Conv2d(3, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem),
                                         nn.PReLU(stem))
        modules, in_ch, ends = [], stem, []
        for n, depth in zip(units, widths, strict=True):
            for k in range(n):
                modules.append(BottleneckIRSE(in_ch if k == 0 else depth, depth, 2 if k == 0 else 1))
            in_ch = depth
            ends.append(len(modules) - 1)
        self.body = nn.Sequential(*modules)
        #: index of the last unit of each stage (6, 20, 23 for IR-SE50 are the e4e FPN taps)
        self.stage_ends = tuple(ends)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.input_layer(x)
        outs = []
        for i, unit in enumerate(self.body):
            x = unit(x)
            if i in self.stage_ends:
                outs.append(x)
        return outs
