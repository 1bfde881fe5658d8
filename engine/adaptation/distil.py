"""Render adapted results without touching the generator, and distil a parameter delta into a direction.

``distil_direction`` turns an affine (or affinelight) delta into a StyleSpace direction: the mean offset
``s_adapted(w) - s_source(w)`` over many random latents (toRGB layers too when the delta changed them),
and reports how close the direction renders to the delta on held-out seeds.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from engine.domains.direction import Direction
from engine.domains.param_delta import ParamDelta, check_delta_fits
from engine.generator import Generator
from engine.stylespace import style_layout

from .losses import sample_w


class _Styles(nn.Module):
    def __init__(self, gen: Generator) -> None:
        super().__init__()
        self.gen = gen

    def forward(self, w_plus: torch.Tensor) -> list[torch.Tensor]:
        return self.gen.styles(w_plus)


class _Synth(nn.Module):
    def __init__(self, gen: Generator) -> None:
        super().__init__()
        self.gen = gen

    def forward(self, styles: list[torch.Tensor]) -> torch.Tensor:
        return self.gen.synthesize(styles, "const", impl="fast")


def _params(gen: Generator, delta: ParamDelta | None, weight: float = 1.0) -> dict[str, torch.Tensor]:
    out = {f"gen.{k}": v.detach() for k, v in gen.named_parameters()}
    out.update({f"gen.{k}": v.detach() for k, v in gen.named_buffers()})
    if delta is not None:
        for k, d in delta.deltas.items():
            out[f"gen.{k}"] = out[f"gen.{k}"] + weight * d.to(out[f"gen.{k}"].device)
    return out


@torch.no_grad()
def render_adapted(gen: Generator, w_plus: torch.Tensor, delta: ParamDelta | None = None,
                   direction: Direction | None = None, weight: float = 1.0) -> torch.Tensor:
    """Images [B, 3, H, W] of ``w_plus`` under a parameter delta and/or a direction (``s + weight * d``)."""
    if delta is not None:
        check_delta_fits(delta, gen)
    params = _params(gen, delta, weight)
    styles = functional_call(_Styles(gen), params, (w_plus,))
    if direction is not None:
        offs = direction.per_layer()
        styles = [s + weight * d.to(s.device, s.dtype) for s, d in zip(styles, offs, strict=True)]
    return torch.cat([functional_call(_Synth(gen), params, ([s[i : i + 1] for s in styles],))
                      for i in range(w_plus.shape[0])])


@torch.no_grad()
def distil_direction(gen: Generator, delta: ParamDelta, n: int = 256, seed: int = 0,
                     held_out: torch.Tensor | None = None, name: str = "") -> tuple[Direction, dict]:
    """(direction, closeness report) for ``delta``; ``held_out`` W+ [K, num_ws, D] (default: 16 fresh latents).

    Report: ``l1_delta_direction`` = mean L1 (0..255) between delta and direction renders,
    ``l1_delta_source`` = the same between delta and unadapted renders, and their ratio
    (0 = the direction reproduces the delta, 1 = no better than no edit).
    """
    check_delta_fits(delta, gen)
    layout = style_layout(gen.config)
    rng = torch.Generator().manual_seed(int(seed))
    total = None
    styles_mod = _Styles(gen)
    base, adapted = _params(gen, None), _params(gen, delta)
    for start in range(0, n, 64):
        w = sample_w(gen, min(64, n - start), rng)
        s0 = torch.cat(functional_call(styles_mod, base, (w,)), dim=1)
        s1 = torch.cat(functional_call(styles_mod, adapted, (w,)), dim=1)
        part = (s1 - s0).sum(0).cpu()
        total = part if total is None else total + part
    values = (total / n).float()
    touched_rgb = any(k.startswith("to_rgb") and ".modulation." in k for k in delta.deltas)
    if not touched_rgb:
        for lay in layout:
            if lay.kind == "torgb":
                values[lay.offset : lay.offset + lay.channels] = 0
    direction = Direction(layout, values, "s_delta", name or f"{delta.name}-distilled", touched_rgb,
                          "styledomain adapt --distil-direction", "", None, None,
                          {"distilled_from": delta.name, "latents": n, "seed": int(seed)})
    if held_out is None:
        held_out = sample_w(gen, 16, torch.Generator().manual_seed(int(seed) + 99991))
    a = render_adapted(gen, held_out, delta)
    b = render_adapted(gen, held_out, None, direction)
    c = render_adapted(gen, held_out)
    l1_ab = float((a - b).abs().mean() * 127.5)
    l1_ac = float((a - c).abs().mean() * 127.5)
    report = {"l1_delta_direction": round(l1_ab, 3), "l1_delta_source": round(l1_ac, 3),
              "ratio": round(l1_ab / l1_ac, 4) if l1_ac > 0 else 0.0, "held_out": int(held_out.shape[0])}
    return direction, report
