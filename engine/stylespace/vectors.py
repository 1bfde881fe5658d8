"""Moving between the per-layer list of style vectors and one flat StyleSpace vector."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .layout import StyleLayer


def flatten_styles(styles: Sequence[torch.Tensor]) -> torch.Tensor:
    """List of [B, C_l] -> [B, sum C_l] (9088 at 1024 config-f)."""
    return torch.cat(list(styles), dim=1)


def unflatten_styles(flat: torch.Tensor, layers: Sequence[StyleLayer]) -> list[torch.Tensor]:
    """[B, sum C_l] -> list of [B, C_l] in StyleSpace order."""
    total = sum(lay.channels for lay in layers)
    if flat.shape[-1] != total:
        raise ValueError(f"flat StyleSpace vector has {flat.shape[-1]} channels, layout needs {total}")
    return [flat[:, lay.offset : lay.offset + lay.channels] for lay in layers]
