"""What an adaptation trains: parameterisations over a frozen generator, always as deltas.

Every parameterisation keeps its trainable tensors *beside* the generator and renders through
:func:`torch.func.functional_call` with ``theta_0.detach() + delta`` for the chosen parameters and
``theta_0.detach()`` for all others, so the caller's generator is never written to, its ``.grad``
fields stay empty and no copy of the model is made. (During one render call ``functional_call``
temporarily swaps the module's attributes, then restores them; do not render the same generator
from another thread while an adaptation runs.)

* ``affine``: weight + bias of the affine (``modulation``) layer of every modulated conv, toRGBs
  included unless ``torgb=False`` (paper: Affine, ``synt_affine,tRGB_affine``).
* ``affinelight``: affines frozen; a rank-``r`` offset ``U @ V`` on each affine weight, ``U`` zero,
  ``V`` random with unit rows (DissimilarDomains' ``affine_out_in_5_1_additive``).
* ``stylespace``: one offset ``d`` over the conv StyleSpace channels, ``s' = s + d`` (toRGB too with
  ``torgb=True``).
* ``full``: every synthesis parameter (not the mapping network); for comparison only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call

from engine.errors import UserError
from engine.generator import Generator
from engine.stylespace import style_layout

PARAMS = ("affine", "affinelight", "stylespace", "full")


class _Render(nn.Module):
    """W+ -> image through ``gen`` (a holder so that ``functional_call`` can reach styles + synthesize)."""

    def __init__(self, gen: Generator) -> None:
        super().__init__()
        self.gen = gen

    def forward(self, w_plus: torch.Tensor, style_offsets: Sequence[torch.Tensor | None] | None = None,
                impl: str = "fast", max_resolution: int | None = None) -> torch.Tensor:
        styles = self.gen.styles(w_plus)
        if style_offsets is not None:
            styles = [s if d is None else s + d.to(s.dtype) for s, d in zip(styles, style_offsets, strict=True)]
        return self.gen.synthesize(styles, "const", impl=impl, max_resolution=max_resolution)


def affine_names(gen: Generator, torgb: bool = True) -> list[str]:
    """Parameter names of the affine layers (weight, bias), in StyleSpace order."""
    names = []
    for name, _, _ in gen.style_modules():
        if name.startswith("to_rgb") and not torgb:
            continue
        names += [f"{name}.conv.modulation.weight", f"{name}.conv.modulation.bias"]
    return names


def synthesis_names(gen: Generator) -> list[str]:
    return [n for n, _ in gen.named_parameters() if not n.startswith("style.")]


class Parameterisation:
    """Trainable tensors over a frozen generator; :meth:`render` is differentiable in them only."""

    name = ""

    def __init__(self, gen: Generator) -> None:
        self.gen = gen
        self._holder = _Render(gen)
        self._base = {f"gen.{k}": v.detach() for k, v in gen.named_parameters()}
        self._base.update({f"gen.{k}": v.detach() for k, v in gen.named_buffers()})

    # ---- subclasses --------------------------------------------------------------------------------
    def trainable(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def param_deltas(self) -> dict[str, torch.Tensor]:
        """``{generator parameter name: delta}`` (empty for StyleSpace)."""
        return {}

    def style_offsets(self) -> list[torch.Tensor | None] | None:
        return None

    # ---- shared ------------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return sum(t.numel() for t in self.trainable().values())

    def render(self, w_plus: torch.Tensor, impl: str = "fast", max_resolution: int | None = None) -> torch.Tensor:
        """W+ [B, num_ws, D] -> adapted image [B, 3, H, W]."""
        params = dict(self._base)
        for k, d in self.param_deltas().items():
            params[f"gen.{k}"] = self._base[f"gen.{k}"] + d
        return functional_call(self._holder, params, (w_plus, self.style_offsets(), impl, max_resolution))

    def render_source(self, w_plus: torch.Tensor, impl: str = "fast",
                      max_resolution: int | None = None) -> torch.Tensor:
        """The unadapted generator's image (no graph through the generator's own parameters)."""
        return functional_call(self._holder, self._base, (w_plus, None, impl, max_resolution))

    def state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.trainable().items()}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for k, v in self.trainable().items():
                v.copy_(state[k])

    def finite(self) -> bool:
        return all(bool(torch.isfinite(v).all()) for v in self.trainable().values())


class DeltaParams(Parameterisation):
    """Additive deltas on named generator parameters (``affine``, ``full``)."""

    def __init__(self, gen: Generator, names: Sequence[str], name: str) -> None:
        super().__init__(gen)
        self.name = name
        params = dict(gen.named_parameters())
        self.deltas = {k: torch.zeros_like(params[k].detach(), requires_grad=True) for k in names}

    def trainable(self) -> dict[str, torch.Tensor]:
        return self.deltas

    def param_deltas(self) -> dict[str, torch.Tensor]:
        return self.deltas


class AffineLight(Parameterisation):
    """Rank-r offsets ``U @ V`` on each affine weight; ``U`` starts at zero, ``V`` with unit-norm rows."""

    name = "affinelight"

    def __init__(self, gen: Generator, rank: int = 5, torgb: bool = True, generator: torch.Generator | None = None):
        super().__init__(gen)
        if rank < 1:
            raise UserError(f"affinelight rank must be at least 1, got {rank}")
        params = dict(gen.named_parameters())
        self.rank = rank
        self.factors: dict[str, torch.Tensor] = {}
        self.weights = [n for n in affine_names(gen, torgb) if n.endswith(".weight")]
        for k in self.weights:
            out_dim, in_dim = params[k].shape
            dev = params[k].device
            v = torch.randn(rank, in_dim, generator=generator)
            v = v / v.norm(dim=1, keepdim=True)
            self.factors[f"{k}.U"] = torch.zeros(out_dim, rank, device=dev, requires_grad=True)
            self.factors[f"{k}.V"] = v.to(dev).requires_grad_(True)

    def trainable(self) -> dict[str, torch.Tensor]:
        return self.factors

    def param_deltas(self) -> dict[str, torch.Tensor]:
        return {k: self.factors[f"{k}.U"] @ self.factors[f"{k}.V"] for k in self.weights}


class StyleSpaceOffset(Parameterisation):
    """One offset per StyleSpace channel of the conv layers (and toRGBs with ``torgb``): ``s' = s + d``."""

    name = "stylespace"

    def __init__(self, gen: Generator, torgb: bool = False) -> None:
        super().__init__(gen)
        self.layout = style_layout(gen.config)
        self.torgb = torgb
        dev = gen.w_avg.device
        self.offsets: dict[str, torch.Tensor] = {}
        for lay in self.layout:
            if lay.kind == "conv" or torgb:
                self.offsets[lay.name] = torch.zeros(lay.channels, device=dev, requires_grad=True)

    def trainable(self) -> dict[str, torch.Tensor]:
        return self.offsets

    def style_offsets(self) -> list[torch.Tensor | None]:
        return [self.offsets.get(lay.name) for lay in self.layout]

    def flat(self) -> torch.Tensor:
        """The offsets as one [total channels] CPU vector in layout order (zeros where not trained)."""
        parts = [self.offsets[lay.name].detach().cpu() if lay.name in self.offsets else torch.zeros(lay.channels)
                 for lay in self.layout]
        return torch.cat(parts).float()


def make_param(kind: str, gen: Generator, *, torgb: bool | None = None, rank: int = 5,
               generator: torch.Generator | None = None) -> Parameterisation:
    """``kind`` in :data:`PARAMS`. ``torgb`` None = the default of that kind (affine: yes, stylespace: no)."""
    if kind == "affine":
        return DeltaParams(gen, affine_names(gen, True if torgb is None else torgb), "affine")
    if kind == "affinelight":
        return AffineLight(gen, rank, True if torgb is None else torgb, generator)
    if kind == "stylespace":
        return StyleSpaceOffset(gen, bool(torgb))
    if kind == "full":
        return DeltaParams(gen, synthesis_names(gen), "full")
    raise UserError(f"unknown parameterisation {kind!r} (choose {', '.join(PARAMS)})")
