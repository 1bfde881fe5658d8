"""Import direction files released with the StyleDomain / HyperDomainNet code, as they are.

Layout (``torch.save`` dict, read with ``torch.load(weights_only=True)``)::

    {'model_type': 'parametrization', 'patch_key': 's_delta' | 'cin_mult',
     'state_dict': {'heads.conv_{k}.params_in': tensor}, 'sg2_params': {...}, 'da_type': ...,
     'style_latents'?: [1, 11, 512]}

``k`` numbers the modulated 3x3 convs in synthesis order (the layout's ``conv_index``): all of
them are read (the reference notebook's editor drops the last one; we do not). ``s_delta`` heads
are [1, c_in]; ``cin_mult`` (DomMod) heads are [1, 1, c_in, 1, 1]. The generator layout is
rebuilt from the head widths (``sg2_params`` is cross-checked when present).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from engine.errors import FileProblem
from engine.generator import GeneratorConfig
from engine.stylespace import StyleLayer, style_layout, total_channels

from .direction import Direction, require_finite

_HEAD = re.compile(r"^heads\.conv_(\d+)\.params_in$")
HEAD_SHAPES = {"s_delta": lambda c: (1, c), "cin_mult": lambda c: (1, 1, c, 1, 1)}


def layout_from_head_widths(widths: list[int]) -> list[StyleLayer]:
    """Rebuild the StyleSpace layer table from the input widths of the 17 (or 2*log2(size)-3) convs."""
    n = len(widths)
    log = (n + 3) / 2
    if n < 3 or log != int(log):
        raise ValueError(f"{n} conv heads do not match any StyleGAN2 resolution (expected 2*log2(size)-3)")
    size = 2 ** int(log)
    resolutions = [2**i for i in range(2, int(log) + 1)]
    channels = {4: widths[0]}
    for j, res in enumerate(resolutions[1:]):
        if widths[2 * j + 1] != channels[resolutions[j]]:
            raise ValueError(f"head conv_{2 * j + 1} has {widths[2 * j + 1]} channels but conv_{2 * j} "
                             f"implies {channels[resolutions[j]]}")
        channels[res] = widths[2 * j + 2]
    return style_layout(GeneratorConfig(size=size, channels=channels))


def _as_dict(obj: object, path: Path) -> dict:
    if not isinstance(obj, dict):
        raise FileProblem(path, f"not a StyleDomain direction file (top level is {type(obj).__name__}, not a dict)")
    return obj


def _check_sg2_params(path: Path, params: object, layers: list[StyleLayer]) -> None:
    if not isinstance(params, dict) or "img_size" not in params:
        return
    size = max(lay.resolution for lay in layers)
    try:
        declared = int(params["img_size"])
    except (TypeError, ValueError):
        return
    if declared != size:
        raise FileProblem(path, f"sg2_params says {declared} px but the heads fit a {size} px generator")


def direction_from_styledomain_dict(obj: dict, path: Path) -> Direction:
    """Convert the released dict (already loaded safely) to a :class:`Direction`."""
    obj = _as_dict(obj, path)
    model_type = obj.get("model_type")
    if model_type != "parametrization":
        hint = " (a full fine-tune: load it as a model instead)" if model_type == "original" else ""
        raise FileProblem(path, f"model_type is {model_type!r}, expected 'parametrization'{hint}")
    kind = obj.get("patch_key")
    if kind not in HEAD_SHAPES:
        raise FileProblem(path, f"patch_key {kind!r} is not supported (supported: s_delta, cin_mult)")
    sd = obj.get("state_dict")
    if not isinstance(sd, dict) or not sd:
        raise FileProblem(path, "no state_dict with direction heads")
    heads: dict[int, torch.Tensor] = {}
    for key, value in sd.items():
        m = _HEAD.match(str(key))
        if not m:
            raise FileProblem(path, f"unexpected entry {key!r} in state_dict (expected heads.conv_K.params_in)")
        if not isinstance(value, torch.Tensor):
            raise FileProblem(path, f"{key} is not a tensor")
        heads[int(m.group(1))] = value
    if sorted(heads) != list(range(len(heads))):
        missing = sorted(set(range(max(heads) + 1)) - set(heads))
        raise FileProblem(path, f"conv heads are not numbered 0..{len(heads) - 1} (missing conv_{missing[0]})")
    widths = []
    for k in range(len(heads)):
        t = heads[k]
        if not t.is_floating_point():
            raise FileProblem(path, f"heads.conv_{k}.params_in has dtype {t.dtype}, expected a float type")
        c = t.shape[2] if kind == "cin_mult" and t.ndim == 5 else t.shape[-1] if t.ndim else 0
        if tuple(t.shape) != HEAD_SHAPES[kind](c):
            want = "[1, c_in]" if kind == "s_delta" else "[1, 1, c_in, 1, 1]"
            raise FileProblem(path, f"heads.conv_{k}.params_in has shape {list(t.shape)}, expected {want} "
                                    f"for patch_key {kind}")
        require_finite(t, f"heads.conv_{k}.params_in", path)
        widths.append(int(c))
    try:
        layers = layout_from_head_widths(widths)
    except ValueError as exc:
        raise FileProblem(path, str(exc)) from None
    _check_sg2_params(path, obj.get("sg2_params"), layers)
    values = torch.zeros(total_channels(layers))
    for lay in layers:
        if lay.kind == "conv":
            values[lay.offset : lay.offset + lay.channels] = heads[lay.conv_index].reshape(-1).float()
    style_latents = obj.get("style_latents")
    if style_latents is not None:
        if not isinstance(style_latents, torch.Tensor) or not style_latents.is_floating_point():
            raise FileProblem(path, "style_latents is not a float tensor")
        if style_latents.ndim == 2:
            style_latents = style_latents.unsqueeze(0)
        if style_latents.ndim != 3 or style_latents.shape[1] > max(lay.w_index for lay in layers) + 1:
            raise FileProblem(path, f"style_latents has shape {list(style_latents.shape)}, expected [1, k, w_dim]")
        require_finite(style_latents, "style_latents", path)
        style_latents = style_latents.detach().float().clone()
    extra = {"imported_from": "styledomain", "patch_key": kind}
    for key in ("da_type", "adaptive"):
        if isinstance(obj.get(key), (str, bool, int, float)):
            extra[key] = obj[key]
    params = obj.get("sg2_params")
    if isinstance(params, dict):
        extra["sg2_params"] = {k: v for k, v in params.items()
                               if isinstance(v, (str, int, float, bool)) and k != "device"}
    return Direction(layers, values, kind, path.stem, False, f"StyleDomain file {path.name}", "",
                     None, style_latents, extra)


def load_styledomain_direction(path: Path) -> Direction:
    from engine.checkpoints.rosinality import torch_load_safely

    return direction_from_styledomain_dict(torch_load_safely(path), path)
