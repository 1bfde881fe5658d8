"""Seeds to latents, following NVIDIA's ``generate.py`` conventions (seed 42 here is seed 42 there)."""

from __future__ import annotations

import numpy as np
import torch

from engine.generator import Generator


def z_from_seed(seed: int, z_dim: int) -> np.ndarray:
    """``np.random.RandomState(seed).randn(1, z_dim)``: seed 42 here is seed 42 in NVIDIA's tools."""
    return np.random.RandomState(seed).randn(1, z_dim)


def z_batch_from_seeds(seeds, z_dim: int) -> torch.Tensor:
    """[len(seeds), z_dim] float32: one :func:`z_from_seed` row per seed."""
    return torch.from_numpy(np.concatenate([z_from_seed(int(s), z_dim) for s in seeds])).float()


def w_plus_from_seed(gen: Generator, seed: int, psi: float = 1.0, cutoff: int | None = None) -> torch.Tensor:
    """The truncated W+ [1, num_ws, w_dim] of ``seed`` on the generator's device."""
    device = gen.w_avg.device
    z = torch.from_numpy(z_from_seed(seed, gen.config.style_dim)).float().to(device)
    with torch.no_grad():
        return gen.truncate(gen.mapping(z), psi, cutoff)


def sample_w(gen: Generator, n: int, seed: int) -> torch.Tensor:
    """[n, w_dim] W of ``n`` seeded z (``torch.randn`` from a private ``torch.Generator``, so the global RNG
    is untouched) through the mapping, on the generator's device; for statistics such as spreads."""
    z = torch.randn(n, gen.config.style_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return gen.mapping(z.to(gen.w_avg.device))
