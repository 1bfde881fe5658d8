"""Plain data passed between the GUI thread and the worker (CPU-only, never device tensors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class DirectionSpec:
    """One enabled direction: a file (loaded and cached on the worker), weight and layer range."""

    path: str
    weight: float = 1.0
    layers: str = "all"
    style_mix: float = 0.0


@dataclass(frozen=True)
class DeltaSpec:
    path: str
    weight: float = 1.0


@dataclass(frozen=True, eq=False)
class RenderSpec:
    """Everything needed to render one edit. ``w_plus``: CPU [num_ws, w_dim] before truncation."""

    model_path: str
    seed: int | None = 0
    w_plus: torch.Tensor | None = None
    directions: tuple[DirectionSpec, ...] = ()
    deltas: tuple[DeltaSpec, ...] = ()
    strength: float = 1.0
    psi: float = 1.0
    noise_mode: str = "const"
    noise_seed: int = 0
    photo_path: str | None = None
    alignment: dict | None = None
    keep: float = 1.0  # each direction pruned to this fraction of its channels (1 = none)

    def without_edit(self) -> RenderSpec:
        """The same latent with no directions or deltas (the "before" image)."""
        return RenderSpec(self.model_path, self.seed, self.w_plus, (), (), 1.0, self.psi, self.noise_mode,
                          self.noise_seed, self.photo_path, self.alignment)

    def latent_key(self) -> tuple:
        w = None if self.w_plus is None else (id(self.w_plus), tuple(self.w_plus.shape))
        return (self.model_path, self.seed, w, self.psi, self.noise_mode, self.noise_seed, self.photo_path)


@dataclass(frozen=True, eq=False)
class PreviewRequest:
    """A preview to render. ``draft``: low-resolution early exit (while dragging)."""

    id: int
    spec: RenderSpec
    draft: bool = False
    paste_back: bool = False
    want_before: bool = False


@dataclass(eq=False)
class PreviewResult:
    """A rendered preview. ``image``/``before`` are QImages (safe to create off the GUI thread)."""

    id: int
    image: Any
    before: Any = None
    resolution: int = 0
    draft: bool = False
    seconds: float = 0.0
    pasted: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class JobProgress:
    """Throttled progress of a queued job, relayed to the GUI thread."""

    job_id: int
    name: str
    step: int
    total: int | None
    message: str
    values: dict
    fraction: float | None
    eta_seconds: float | None
    elapsed_seconds: float
    preview: Any = None  # QImage or None
