"""Applying and blending directions: ``s' = s + strength * sum_j c_j * M_j(d_j)``.

``c_j`` is the per-direction weight, ``M_j`` its layer selection (:mod:`engine.domains.layers`),
``strength`` the global strength (the paper's alpha / "power"). DomMod (``cin_mult``) directions
blend the same way into one per-input-channel multiplier ``1 + strength * sum_j c_j * M_j(d_j)``
on the conv weights (``Generator.synthesize(conv_scales=...)``). Several directions mix linearly, as in the
paper's multiple morphing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from engine.errors import UserError
from engine.generator import Generator
from engine.stylespace import StyleLayer, layout_fingerprint, total_channels

from .direction import Direction, check_fits
from .layers import mask_vector


@dataclass(frozen=True)
class DirectionTerm:
    """One direction in a blend: weight ``c_j``, layer selection, and the amount of style-latent mixing.

    ``origin`` (the file path) and ``sha256`` serve error messages and recipes only.
    """

    direction: Direction
    weight: float = 1.0
    layers: str = "all"
    origin: str = ""
    style_mix: float = 0.0  # mix_style_latents amount; 0 = none
    sha256: str = ""


@dataclass
class StyleEdit:
    """A blend reduced to flat vectors over the layout: an S offset and DomMod weight-scale deltas."""

    layout: list[StyleLayer]
    s_offset: torch.Tensor  # [total]
    scale_delta: torch.Tensor | None = None  # [total]; conv multiplier = 1 + scale_delta

    def styles(self, styles: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Add the S offset to each layer's style vectors ([B, C] each)."""
        if len(styles) != len(self.layout):
            raise ValueError(f"expected {len(self.layout)} style vectors, got {len(styles)}")
        out = []
        for lay, s in zip(self.layout, styles, strict=True):
            off = self.s_offset[lay.offset : lay.offset + lay.channels]
            out.append(s + off.to(device=s.device, dtype=s.dtype) if bool(off.ne(0).any()) else s)
        return out

    def in_scales(self) -> list[torch.Tensor | None]:
        """Per layer ``1 + delta`` for conv layers a DomMod direction touches, else None."""
        if self.scale_delta is None:
            return [None] * len(self.layout)
        out: list[torch.Tensor | None] = []
        for lay in self.layout:
            d = self.scale_delta[lay.offset : lay.offset + lay.channels]
            out.append(1.0 + d if lay.kind == "conv" and bool(d.ne(0).any()) else None)
        return out

    def synthesize(self, gen: Generator, styles: Sequence[torch.Tensor], **synth_kwargs) -> torch.Tensor:
        """Edited styles through the generator, with DomMod scales when any."""
        return gen.synthesize(self.styles(styles), conv_scales=self.in_scales(), **synth_kwargs)


def build_edit(terms: Sequence[DirectionTerm], layout: list[StyleLayer], strength: float = 1.0) -> StyleEdit:
    """Reduce weighted, masked directions to one :class:`StyleEdit` for ``layout``."""
    if not math.isfinite(strength):
        raise UserError(f"strength must be a finite number, got {strength}")
    fp = layout_fingerprint(layout)
    total = total_channels(layout)
    s_offset = torch.zeros(total)
    scale_delta = None
    for term in terms:
        if not math.isfinite(term.weight):
            raise UserError(f"weight of direction {term.direction.name!r} must be a finite number")
        if term.direction.fingerprint != fp:
            check_fits(term.direction, layout, term.origin)
        coef = float(strength) * float(term.weight)
        masked = term.direction.values * mask_vector(term.layers, layout)
        if term.direction.kind == "cin_mult":
            scale_delta = (torch.zeros(total) if scale_delta is None else scale_delta) + coef * masked
        else:
            s_offset = s_offset + coef * masked
    return StyleEdit(layout, s_offset, scale_delta)


def sparsify(direction: Direction, keep: float) -> tuple[Direction, float]:
    """Keep the top ``keep`` fraction of channels by |d|, globally across the covered layers.

    As StyleSpaceSparse's ``pruned_offsets(perc)`` with ``perc = 1 - keep``: the
    ``int(n * (1 - keep))`` smallest-magnitude entries are zeroed. Returns the new direction and
    the kept fraction (kept entries / covered entries).
    """
    if not (0.0 < keep <= 1.0) or not math.isfinite(keep):
        raise UserError(f"keep fraction must be in (0, 1], got {keep}")
    covered = direction.covered_mask()
    vals = direction.values[covered]
    n = vals.numel()
    n_zero = int(n * (1.0 - keep))
    order = torch.argsort(vals.abs(), stable=True)  # ascending magnitude
    kept_vals = vals.clone()
    kept_vals[order[:n_zero]] = 0.0
    new = direction.values.clone()
    new[covered] = kept_vals
    fraction = (n - n_zero) / n if n else 0.0
    extra = dict(direction.extra)
    extra["sparsified_keep"] = fraction
    return direction.with_values(new, extra=extra), fraction


def mix_style_latents(w_plus: torch.Tensor, direction: Direction, amount: float) -> torch.Tensor:
    """MTG reference mix: the last k W+ rows -> ``amount * style_latents + (1 - amount) * w``."""
    if direction.style_latents is None or amount == 0:
        return w_plus
    ref = direction.style_latents.to(device=w_plus.device, dtype=w_plus.dtype)
    k = ref.shape[1]
    if k > w_plus.shape[1] or ref.shape[2] != w_plus.shape[2]:
        raise UserError(f"style latents {list(ref.shape)} do not fit W+ {list(w_plus.shape)}")
    out = w_plus.clone()
    out[:, -k:] = amount * ref + (1 - amount) * w_plus[:, -k:]
    return out
