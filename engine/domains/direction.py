"""Domain directions: per-channel offsets in StyleSpace, with metadata, in our own safetensors format.

A :class:`Direction` holds one flat vector over the whole StyleSpace layout (all 26 layers at
1024 config-f, 9088 channels). Conv layers always carry values (6048 at 1024); toRGB layers carry
values only when ``covers_torgb`` (otherwise they are zero and are not written to disk).

``kind``:

* ``"s_delta"`` (StyleDomain StyleSpace direction): ``s' = s + alpha * d`` right after the affine.
* ``"cin_mult"`` (HyperDomainNet DomMod): the demodulated conv weight is scaled by ``(1 + alpha * d)``
  per input channel (``Generator.synthesize(conv_scales=...)``); toRGB layers are never touched.

File format (``.safetensors``, never unpickled): one float32 tensor ``layer.<StyleSpace name>`` per
covered layer, optional ``style_latents`` [1, k, w_dim] (MTG reference latents) and optional
``thumbnail_png`` (uint8 bytes of a PNG). String metadata: ``format`` = ``styledomain.direction``,
``format_version``, ``name``, ``kind``, ``layout_fingerprint``, ``layout`` (JSON layer table),
``covers_torgb``, ``source``, ``license``, ``extra`` (JSON object).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from engine.errors import FileProblem, UserError
from engine.fileio import read_safetensors, save_safetensors
from engine.stylespace import StyleLayer, layout_as_dicts, layout_fingerprint, total_channels

FORMAT_NAME = "styledomain.direction"
FORMAT_VERSION = 1
KINDS = ("s_delta", "cin_mult")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Direction:
    """A StyleSpace direction fitted to one layer table (see module docstring)."""

    layout: list[StyleLayer]
    values: torch.Tensor  # [total channels] float32, layout order
    kind: str = "s_delta"
    name: str = ""
    covers_torgb: bool = False
    source: str = ""
    license: str = ""
    thumbnail_png: bytes | None = None
    style_latents: torch.Tensor | None = None  # [1, k, w_dim]
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UserError(f"unknown direction kind {self.kind!r} (known: {', '.join(KINDS)})")
        if self.kind == "cin_mult" and self.covers_torgb:
            raise UserError("cin_mult (DomMod) directions act on conv layers only")
        total = total_channels(self.layout)
        if self.values.shape != (total,):
            raise UserError(f"direction values have shape {list(self.values.shape)}, layout needs [{total}]")
        self.values = self.values.detach().to("cpu", torch.float32).contiguous()
        if not self.covers_torgb:
            for lay in self.layout:
                if lay.kind == "torgb" and bool(self.layer_values(lay).ne(0).any()):
                    raise UserError(f"direction has toRGB values in {lay.name} but covers_torgb is False")

    @property
    def fingerprint(self) -> str:
        return layout_fingerprint(self.layout)

    def covered_layers(self) -> list[StyleLayer]:
        return [lay for lay in self.layout if lay.kind == "conv" or self.covers_torgb]

    def covered_mask(self) -> torch.Tensor:
        """Boolean [total] marking the channels this direction may change."""
        mask = torch.zeros(self.values.shape[0], dtype=torch.bool)
        for lay in self.covered_layers():
            mask[lay.offset : lay.offset + lay.channels] = True
        return mask

    def layer_values(self, layer: StyleLayer) -> torch.Tensor:
        return self.values[layer.offset : layer.offset + layer.channels]

    def per_layer(self) -> list[torch.Tensor]:
        return [self.layer_values(lay) for lay in self.layout]

    def with_values(self, values: torch.Tensor, **changes) -> Direction:
        return replace(self, values=values, **changes)


# ---- fit checks ------------------------------------------------------------------------------------

def describe_mismatch(have: list[StyleLayer], want: list[StyleLayer]) -> str:
    """One sentence naming the first layer whose channel count differs (``have`` = the direction)."""
    if len(have) != len(want):
        res_h = max(lay.resolution for lay in have)
        res_w = max(lay.resolution for lay in want)
        return (f"direction has {len(have)} StyleSpace layers ({res_h} px generator), "
                f"the model has {len(want)} ({res_w} px)")
    for a, b in zip(have, want, strict=True):
        if (a.kind, a.channels, a.resolution) != (b.kind, b.channels, b.resolution):
            return (f"layer {b.index} {b.name} ({b.module}): direction has {a.channels} channels, "
                    f"the model has {b.channels}")
    return "the layer tables differ"


def check_fits(direction: Direction, model_layout: list[StyleLayer], origin: str | os.PathLike = "") -> None:
    """Raise a clear error unless ``direction`` fits a generator with ``model_layout``."""
    if direction.fingerprint == layout_fingerprint(model_layout):
        return
    reason = (f"direction {direction.name!r} does not fit this model: "
              f"{describe_mismatch(direction.layout, model_layout)}")
    if origin:
        raise FileProblem(origin, reason)
    raise UserError(reason)


def require_finite(t: torch.Tensor, what: str, origin: str | os.PathLike) -> None:
    bad = ~torch.isfinite(t)
    if bool(bad.any()):
        raise FileProblem(origin, f"{what} contains {int(bad.sum())} NaN/Inf value(s)")


# ---- our format ------------------------------------------------------------------------------------

def save_direction(direction: Direction, path: str | os.PathLike) -> None:
    """Write atomically (temp file beside the target, then rename)."""
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {
        f"layer.{lay.name}": direction.layer_values(lay).clone() for lay in direction.covered_layers()
    }
    if direction.style_latents is not None:
        tensors["style_latents"] = direction.style_latents.detach().to("cpu", torch.float32).contiguous()
    if direction.thumbnail_png:
        tensors["thumbnail_png"] = torch.frombuffer(bytearray(direction.thumbnail_png), dtype=torch.uint8)
    meta = {
        "format": FORMAT_NAME, "format_version": str(FORMAT_VERSION), "name": direction.name,
        "kind": direction.kind, "layout_fingerprint": direction.fingerprint,
        "layout": json.dumps(layout_as_dicts(direction.layout)),
        "covers_torgb": "true" if direction.covers_torgb else "false",
        "source": direction.source, "license": direction.license, "extra": json.dumps(direction.extra),
    }
    save_safetensors(tensors, path, meta)


def _layout_from_meta(path: Path, meta: dict[str, str]) -> list[StyleLayer]:
    try:
        layers = [StyleLayer(**d) for d in json.loads(meta["layout"])]
    except (KeyError, TypeError, ValueError) as exc:
        raise FileProblem(path, f"direction metadata has no readable layer table ({exc})") from None
    if layout_fingerprint(layers) != meta.get("layout_fingerprint"):
        raise FileProblem(path, "direction layer table does not match its stored fingerprint")
    return layers


def load_native_direction(path: Path) -> Direction:
    tensors, meta = read_safetensors(path)
    if meta.get("format") != FORMAT_NAME:
        raise FileProblem(path, f"safetensors file is not a StyleDomain direction (format={meta.get('format')!r})")
    try:
        version = int(meta.get("format_version", ""))
    except ValueError:
        raise FileProblem(path, f"unreadable direction format version {meta.get('format_version')!r}") from None
    if version != FORMAT_VERSION:
        raise FileProblem(path, f"direction format version {version} is not supported "
                                f"(this program reads version {FORMAT_VERSION})")
    layers = _layout_from_meta(path, meta)
    kind = meta.get("kind", "")
    if kind not in KINDS:
        raise FileProblem(path, f"unknown direction kind {kind!r} (known: {', '.join(KINDS)})")
    covers_torgb = meta.get("covers_torgb") == "true"
    values = torch.zeros(total_channels(layers))
    expected = {f"layer.{lay.name}": lay for lay in layers if lay.kind == "conv" or covers_torgb}
    extra_keys = set(tensors) - set(expected) - {"style_latents", "thumbnail_png"}
    if extra_keys:
        raise FileProblem(path, f"unexpected tensors in direction file: {sorted(extra_keys)[:3]}")
    for key, lay in expected.items():
        if key not in tensors:
            raise FileProblem(path, f"direction file lacks layer {lay.name}")
        t = tensors[key]
        if not t.is_floating_point():
            raise FileProblem(path, f"{key} has dtype {t.dtype}, expected a float type")
        if tuple(t.shape) != (lay.channels,):
            raise FileProblem(path, f"{key} has shape {list(t.shape)}, expected [{lay.channels}]")
        require_finite(t, key, path)
        values[lay.offset : lay.offset + lay.channels] = t.float()
    style_latents = tensors.get("style_latents")
    if style_latents is not None:
        if not style_latents.is_floating_point() or style_latents.ndim != 3:
            raise FileProblem(path, f"style_latents must be a float [1, k, w_dim] tensor, got "
                                    f"{style_latents.dtype} {list(style_latents.shape)}")
        require_finite(style_latents, "style_latents", path)
        style_latents = style_latents.float()
    thumb = tensors.get("thumbnail_png")
    thumb_bytes = None
    if thumb is not None:
        thumb_bytes = bytes(thumb.to(torch.uint8).numpy().tobytes())
        if not thumb_bytes.startswith(PNG_SIGNATURE):
            raise FileProblem(path, "thumbnail is not a PNG image")
    try:
        extra = json.loads(meta.get("extra") or "{}")
    except ValueError:
        raise FileProblem(path, "direction metadata 'extra' is not valid JSON") from None
    return Direction(layers, values, kind, meta.get("name") or path.stem, covers_torgb, meta.get("source", ""),
                     meta.get("license", ""), thumb_bytes, style_latents, extra if isinstance(extra, dict) else {})


def load_direction(path: str | os.PathLike) -> Direction:
    """Any supported direction file: ours (``.safetensors``) or a StyleDomain ``.pt`` (converted on load)."""
    from engine.fileio import require_file, sniff

    p = require_file(path)
    kind = sniff(p)
    if kind == "safetensors":
        return load_native_direction(p)
    if kind in ("zip", "pickle"):
        from .styledomain_import import load_styledomain_direction

        return load_styledomain_direction(p)
    raise FileProblem(p, "not a direction file (expected our .safetensors or a StyleDomain .pt)")


def norm_summary(direction: Direction) -> list[dict]:
    """Per covered layer: name, channels, L2 norm, max |d|, nonzero count (for ``direction info``)."""
    rows = []
    for lay in direction.covered_layers():
        v = direction.layer_values(lay)
        rows.append({"index": lay.index, "name": lay.name, "channels": lay.channels,
                     "norm": float(v.norm()), "max_abs": float(v.abs().max()) if v.numel() else 0.0,
                     "nonzero": int(v.ne(0).sum())})
    return rows
