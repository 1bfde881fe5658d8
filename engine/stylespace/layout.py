"""The StyleSpace layer table: which affine output feeds which layer, its size and its W+ row.

Order is NVIDIA's / StyleSpace's: ``b4.conv1, b4.torgb, b8.conv0, b8.conv1, b8.torgb, ...``.
At 1024 config-f: 26 vectors, 9088 channels, 6048 of them in the 17 conv layers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from engine.generator.config import GeneratorConfig


@dataclass(frozen=True)
class StyleLayer:
    """One StyleSpace vector."""

    index: int  # position in StyleSpace order
    name: str  # StyleCLIP-style name, e.g. "conv0_resolution_8", "toRGB_resolution_8"
    module: str  # rosinality module name, e.g. "convs.0", "to_rgbs.0"
    resolution: int
    kind: str  # "conv" | "torgb"
    channels: int  # input channels of the layer = length of s
    w_index: int  # W+ row feeding it
    conv_index: int | None  # StyleDomain head number k in ``heads.conv_{k}`` (convs only)
    offset: int  # start of this layer in the flattened 9088-vector

    def to_json(self) -> dict:
        return {"name": self.name, "resolution": self.resolution, "kind": self.kind,
                "channels": self.channels, "w_index": self.w_index}


def style_layout(cfg: GeneratorConfig) -> list[StyleLayer]:
    """Layer table for a generator config."""
    ch = cfg.channels
    rows: list[tuple[str, str, int, str, int, int]] = [
        ("conv1_resolution_4", "conv1", 4, "conv", ch[4], 0),
        ("toRGB_resolution_4", "to_rgb1", 4, "torgb", ch[4], 1),
    ]
    prev = ch[4]
    for j, res in enumerate(cfg.resolutions[1:]):
        rows.append((f"conv0_resolution_{res}", f"convs.{2 * j}", res, "conv", prev, 2 * j + 1))
        rows.append((f"conv1_resolution_{res}", f"convs.{2 * j + 1}", res, "conv", ch[res], 2 * j + 2))
        rows.append((f"toRGB_resolution_{res}", f"to_rgbs.{j}", res, "torgb", ch[res], 2 * j + 3))
        prev = ch[res]
    layers, offset, conv_k = [], 0, 0
    for i, (name, module, res, kind, c, w) in enumerate(rows):
        k = None
        if kind == "conv":
            k, conv_k = conv_k, conv_k + 1
        layers.append(StyleLayer(i, name, module, res, kind, c, w, k, offset))
        offset += c
    return layers


def total_channels(layers: list[StyleLayer], kind: str | None = None) -> int:
    return sum(lay.channels for lay in layers if kind is None or lay.kind == kind)


def conv_layers(layers: list[StyleLayer]) -> list[StyleLayer]:
    return [lay for lay in layers if lay.kind == "conv"]


def layout_fingerprint(layers: list[StyleLayer]) -> str:
    """Short stable hash of the layer table: directions fit any generator with the same fingerprint."""
    table = [[lay.kind, lay.resolution, lay.channels, lay.w_index] for lay in layers]
    return hashlib.sha256(json.dumps(table).encode()).hexdigest()[:16]


def layout_as_dicts(layers: list[StyleLayer]) -> list[dict]:
    return [asdict(lay) for lay in layers]
