"""Reconstruction quality: PSNR and SSIM (Gaussian window 11, sigma 1.5, as Wang et al. 2004)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1], clamped."""
    return ((x.float() + 1) / 2).clamp(0, 1)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of two [B, 3, H, W] images in [-1, 1], on the [0, 1] scale, averaged over the batch."""
    mse = (_unit(a) - _unit(b)).pow(2).mean(dim=(1, 2, 3)).clamp_min(1e-12)
    return float((10 * torch.log10(1.0 / mse)).mean())


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 11, sigma: float = 1.5) -> float:
    """Mean SSIM over channels, pixels and batch of two images in [-1, 1] (valid windows only)."""
    x, y = _unit(a), _unit(b)
    window = min(window, x.shape[-1], x.shape[-2])
    coords = torch.arange(window, dtype=torch.float32) - (window - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    k = (g[:, None] * g[None, :]).to(x.device).expand(x.shape[1], 1, window, window)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, k, groups=x.shape[1])

    c1, c2 = 0.01**2, 0.03**2
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return float(s.mean())
