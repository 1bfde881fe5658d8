"""DomMod (HyperDomainNet ``cin_mult``) synthesis without editing the generator.

DomMod scales the *demodulated* conv weight per input channel: ``W'' = W_demod * (1 + d)``, with
the demodulation computed from the unscaled modulated weight. For a conv (also a transposed one),
scaling weight input channel ``i`` by ``m_i`` equals scaling input activation channel ``i`` by
``m_i``::

    conv(x, W_demod * m) = conv(x * m, W_demod) = conv(x * m * s, g*W) * demod(s)

So the generator's own modulated conv, fed ``x * m`` with the unchanged style ``s``, computes
DomMod exactly: demodulation still sees only ``s``. We scale the input of each StyledConv with a
temporary forward pre-hook and run the generator's normal ``synthesize``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch

from engine.generator import Generator
from engine.stylespace import style_layout


def _conv_modules(gen: Generator) -> list[tuple[int, torch.nn.Module]]:
    """(StyleSpace index, StyledConv module) for each conv layer."""
    mods = dict(gen.named_modules())
    return [(lay.index, mods[lay.module]) for lay in style_layout(gen.config) if lay.kind == "conv"]


def install_weight_scales(gen: Generator, in_scales: Sequence[torch.Tensor | None]) -> list:
    """Register the DomMod input-scaling hooks; returns the handles (call ``.remove()`` on each)."""
    layout = style_layout(gen.config)
    for lay, scale in zip(layout, in_scales, strict=True):
        if scale is not None and lay.kind != "conv":
            raise ValueError(f"weight scales apply to conv layers only, got one for {lay.name}")
    return [module.register_forward_pre_hook(_scaler(in_scales[index]))
            for index, module in _conv_modules(gen) if in_scales[index] is not None]


@contextmanager
def weight_scales(gen: Generator, in_scales: Sequence[torch.Tensor | None]) -> Iterator[None]:
    """While active, conv layer ``l`` uses weights scaled by ``in_scales[l]`` per input channel.

    ``in_scales`` is one entry per StyleSpace layer (``[C]`` or ``[B, C]``; None = unchanged).
    Entries for toRGB layers must be None.
    """
    handles = install_weight_scales(gen, in_scales)
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _scaler(scale: torch.Tensor):
    def hook(_module, args):
        x = args[0]
        m = scale.to(device=x.device, dtype=x.dtype)
        m = m.view(1, -1, 1, 1) if m.ndim == 1 else m.view(m.shape[0], -1, 1, 1)
        return (x * m, *args[1:])

    return hook


def synthesize_with_weight_scales(gen: Generator, styles: Sequence[torch.Tensor],
                                  in_scales: Sequence[torch.Tensor | None], **synth_kwargs) -> torch.Tensor:
    """``gen.synthesize(styles, **synth_kwargs)`` with DomMod per-input-channel weight scales."""
    with weight_scales(gen, in_scales):
        return gen.synthesize(styles, **synth_kwargs)
