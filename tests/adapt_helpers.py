"""Shared helpers for the adaptation tests."""

from __future__ import annotations

import torch

from engine.adaptation import Reference


def negative_reference(gen) -> Reference:
    """A reference the generator cannot already draw: the negative of its own render of a fixed latent."""
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        w = gen.truncate(gen.mapping(torch.randn(1, gen.config.style_dim, generator=g)))[0]
        img = gen.synthesize(gen.styles(w[None]), "const").clamp(-1, 1)
    return Reference(-img, w, "ref", "0" * 64)
