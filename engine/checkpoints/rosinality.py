"""rosinality/stylegan2-pytorch ``.pt`` checkpoints (also StyleGAN-NADA, StyleDomain, e4e's decoder).

Layout: ``{'g_ema': state_dict, 'latent_avg'?: [512], 'g'?, 'd'?, 'args'?: argparse.Namespace, ...}``.
Loaded with ``torch.load(weights_only=True)``; ``argparse.Namespace`` is the only extra global allowed.
The architecture (resolution, style dim, mapping depth, every channel width) is read off tensor shapes.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch

from engine.fileio import torch_load_safely  # noqa: F401  (re-exported: loaders import it from here)
from engine.generator import Generator, GeneratorConfig

from .errors import ModelFileError

_CONVS = re.compile(r"^convs\.(\d+)\.conv\.weight$")
_STYLE = re.compile(r"^style\.(\d+)\.weight$")
_TO_RGBS = re.compile(r"^to_rgbs\.(\d+)\.conv\.weight$")


def infer_config(sd: dict[str, torch.Tensor], **overrides) -> GeneratorConfig:
    """Read the generator architecture off a rosinality ``g_ema`` state dict."""
    if "conv1.conv.weight" not in sd or "input.input" not in sd:
        raise ValueError("no StyleGAN2 synthesis weights (conv1.conv.weight, input.input)")
    conv_ids = sorted(int(m.group(1)) for k in sd if (m := _CONVS.match(k)))
    rgb_ids = sorted(int(m.group(1)) for k in sd if (m := _TO_RGBS.match(k)))
    mlp_ids = sorted(int(m.group(1)) for k in sd if (m := _STYLE.match(k)))
    if len(conv_ids) != 2 * len(rgb_ids) or conv_ids != list(range(len(conv_ids))):
        raise ValueError(f"inconsistent synthesis layers: {len(conv_ids)} convs, {len(rgb_ids)} toRGBs")
    if mlp_ids != list(range(1, len(mlp_ids) + 1)) or not mlp_ids:
        raise ValueError("mapping network layers style.1..N missing or out of order")
    style_dim = sd["conv1.conv.modulation.weight"].shape[1]
    channels = {4: sd["conv1.conv.weight"].shape[1]}
    for j in range(len(rgb_ids)):
        channels[2 ** (j + 3)] = sd[f"convs.{2 * j}.conv.weight"].shape[1]
    size = 2 ** (len(rgb_ids) + 2)
    return GeneratorConfig(size=size, style_dim=style_dim, n_mlp=len(mlp_ids), channels=channels, **overrides)


def build_from_state_dict(sd: dict[str, torch.Tensor], latent_avg: torch.Tensor | None, origin: Path,
                          **config_overrides) -> Generator:
    """Instantiate, load strictly (kernel buffers may be absent), set ``w_avg``."""
    try:
        cfg = infer_config(sd, **config_overrides)
    except (KeyError, ValueError, IndexError) as exc:
        raise ModelFileError(origin, f"unknown generator architecture ({exc})") from None
    gen = Generator(cfg)
    own = gen.state_dict()
    missing = [k for k in own if k not in sd and not k.endswith(".kernel")]
    unexpected = [k for k in sd if k not in own]
    if missing or unexpected:
        what = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise ModelFileError(origin, f"unknown generator architecture ({what})")
    for k, v in sd.items():
        if own[k].shape != v.shape:
            raise ModelFileError(origin, f"tensor {k} has shape {list(v.shape)}, expected {list(own[k].shape)}")
    gen.load_state_dict(sd, strict=False)
    if latent_avg is not None:
        gen.w_avg.copy_(latent_avg.reshape(-1, cfg.style_dim)[0].float())
    else:
        gen.w_avg.copy_(gen.compute_w_avg())
    return gen.eval().requires_grad_(False)


def classify_rosinality(obj: object) -> str:
    """'generator', 'e4e', 'discriminator' or 'unknown' for a loaded ``.pt`` object."""
    if not isinstance(obj, dict):
        return "unknown"
    if isinstance(obj.get("g_ema"), dict):
        return "generator"
    if isinstance(obj.get("state_dict"), dict) and any(str(k).startswith("encoder.") for k in obj["state_dict"]):
        return "e4e"
    if "conv1.conv.weight" in obj and "style.1.weight" in obj:
        return "bare_generator"
    if isinstance(obj.get("d"), dict) or any(str(k).startswith("convs.0.0") for k in obj):
        return "discriminator"
    return "unknown"


def load_rosinality(path: Path, obj: object) -> tuple[Generator, dict]:
    """Generator + extras (``d`` state dict, ``args`` as dict) from a loaded rosinality object."""
    kind = classify_rosinality(obj)
    if kind == "e4e":
        raise ModelFileError(path, "this is an e4e encoder checkpoint, not a generator (use it with --encoder)")
    if kind == "discriminator":
        raise ModelFileError(path, "discriminator-only checkpoint: no generator weights ('g_ema') inside")
    if kind == "unknown":
        keys = list(obj)[:5] if isinstance(obj, dict) else type(obj).__name__
        raise ModelFileError(path, f"not a StyleGAN2 generator checkpoint (top-level keys: {keys})")
    sd = obj if kind == "bare_generator" else obj["g_ema"]
    latent_avg = obj.get("latent_avg") if kind == "generator" else None
    gen = build_from_state_dict(sd, latent_avg, path)
    extras: dict = {}
    if kind == "generator" and isinstance(obj.get("d"), dict):
        extras["discriminator"] = obj["d"]
    if kind == "generator" and isinstance(obj.get("args"), argparse.Namespace):
        extras["args"] = {k: v for k, v in vars(obj["args"]).items() if isinstance(v, (int, float, str, bool))}
    return gen, extras
