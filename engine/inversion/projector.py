"""Optimisation-based projection into W, W+ or W+ and noise (NVIDIA ``projector.py`` schedule).

Schedule (t = step / steps): lr(t) = lr0 * min(1, t / rampup) * 0.5 * (1 - cos(pi * min(1, (1 - t) / rampdown)));
Gaussian noise of std ``w_std * initial_noise_factor * max(0, 1 - t / noise_ramp)^2`` added to the latent
each step (exploration, decaying to zero). Mode ``"noise"`` also optimises the noise maps, with
NVIDIA's regulariser (squared autocorrelation at 1-pixel shifts, over a 2x pyramid down to 8 px)
and per-step renormalisation to zero mean, unit variance.

Modes: ``"w"`` optimises one 512-vector added to every row of the starting W+ (pure W when the start is
w_avg), ``"w+"`` every row, ``"noise"`` every row and the noise maps. Optimisation may run at a lower
resolution than the generator's (synthesis stops early there): the target is area-downsampled to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from engine.generator import Generator
from engine.jobs import CancelToken, ProgressFn, is_cancelled, report

from .losses import PyramidLoss

MODES = ("w", "w+", "noise")


@dataclass
class ProjectionSettings:
    steps: int = 100
    mode: str = "w+"
    lr: float = 0.1
    lr_rampup: float = 0.05
    lr_rampdown: float = 0.25
    initial_noise_factor: float = 0.05
    noise_ramp: float = 0.75
    noise_reg_weight: float = 1e5
    resolution: int | None = None  # optimise at this synthesis resolution (None: the generator's)
    preview_every: int = 0
    impl: str = "fast"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.steps < 0:
            raise ValueError("steps must be >= 0")


@dataclass
class ProjectionResult:
    w_plus: torch.Tensor  # [num_ws, w_dim]
    noise: list[torch.Tensor] | None  # optimised noise maps in mode "noise"
    steps_done: int
    cancelled: bool
    losses: list[float] = field(default_factory=list)
    kept_start: bool = False  # the optimised latent reconstructed worse than the start, which is returned


def learning_rate(t: float, s: ProjectionSettings) -> float:
    ramp = min(1.0, (1.0 - t) / s.lr_rampdown)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return s.lr * ramp * min(1.0, t / s.lr_rampup) if s.lr_rampup > 0 else s.lr * ramp


def noise_regularisation(noises: list[torch.Tensor]) -> torch.Tensor:
    """Sum over maps and pyramid levels (down to 8 px) of squared 1-pixel autocorrelations."""
    total = noises[0].new_zeros(())
    for n in noises:
        while True:
            total = total + (n * torch.roll(n, 1, dims=3)).mean().pow(2) + (n * torch.roll(n, 1, dims=2)).mean().pow(2)
            if n.shape[-1] <= 8:
                break
            n = F.avg_pool2d(n, 2)
    return total


def w_spread(gen: Generator, n: int = 2000, seed: int = 123) -> float:
    """NVIDIA's ``w_std``: sqrt(mean over samples of ||w - w_avg||^2)."""
    from engine.pipeline.seeds import sample_w

    w = sample_w(gen, n, seed)
    return float(((w - w.mean(0)).pow(2).sum(1).mean()).sqrt())


def fit_target(target: torch.Tensor, resolution: int) -> torch.Tensor:
    if target.shape[-1] == resolution and target.shape[-2] == resolution:
        return target
    return F.interpolate(target, size=(resolution, resolution), mode="bilinear", align_corners=False,
                         antialias=True)


def project(gen: Generator, target: torch.Tensor, init_w_plus: torch.Tensor | None = None,
            settings: ProjectionSettings | None = None, loss_fn: torch.nn.Module | None = None,
            progress: ProgressFn | None = None, cancel: CancelToken | None = None, w_std: float | None = None,
            seed: int = 0) -> ProjectionResult:
    """Fit W+ (and noise) so that ``gen`` reproduces ``target`` ([1, 3, H, W] in [-1, 1]).

    Progress (job ``"project"``): one report per step with ``values={"loss": ...}`` and, every
    ``settings.preview_every`` steps, a ``preview`` ([1, 3, r, r] in [-1, 1]). A cancel (checked before
    every step) does not raise: the result so far comes back with ``cancelled=True``.
    """
    s = settings or ProjectionSettings()
    device = gen.w_avg.device
    res = s.resolution or gen.config.size
    if res not in gen.config.resolutions:
        raise ValueError(f"resolution must be one of {gen.config.resolutions}, got {res}")
    loss_fn = loss_fn or PyramidLoss()
    target = fit_target(target.to(device, torch.float32), res)
    start = (gen.w_avg.expand(gen.num_ws, -1) if init_w_plus is None else init_w_plus.reshape(gen.num_ws, -1))
    start = start.detach().to(device, torch.float32).clone()
    if s.mode == "w":
        delta = torch.zeros(1, start.shape[-1], device=device, requires_grad=True)
        params = [delta]
    else:
        w_opt = start.clone().requires_grad_(True)
        params = [w_opt]
    noise_const = [n.detach().clone() for n in gen.make_noise(1, "const")]
    noises: list[torch.Tensor] | None = None
    if s.mode == "noise":
        noises = [((n - n.mean()) / n.std().clamp_min(1e-8)).requires_grad_(True) for n in noise_const]
        params += noises
    opt = torch.optim.Adam(params, betas=(0.9, 0.999), lr=s.lr)
    w_std = w_spread(gen) if w_std is None else w_std
    rng = torch.Generator().manual_seed(seed)

    def current() -> torch.Tensor:
        return start + delta if s.mode == "w" else w_opt

    losses: list[float] = []
    done, cancelled = 0, False
    for step in range(s.steps):
        if is_cancelled(cancel):
            cancelled = True
            break
        t = step / s.steps
        for g in opt.param_groups:
            g["lr"] = learning_rate(t, s)
        noise_scale = w_std * s.initial_noise_factor * max(0.0, 1.0 - t / s.noise_ramp) ** 2
        w = current()
        w = w + torch.randn(w.shape, generator=rng).to(device) * noise_scale
        img = gen.synthesize(gen.styles(w.unsqueeze(0)), noise=noises or noise_const, max_resolution=res,
                             impl=s.impl)
        loss = loss_fn(img, target)
        total = loss + s.noise_reg_weight * noise_regularisation(noises) if noises else loss
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        if noises:
            with torch.no_grad():
                for n in noises:
                    n -= n.mean()
                    n *= n.square().mean().rsqrt()
        losses.append(loss.item())
        done = step + 1
        if progress is not None:
            preview = None
            if s.preview_every and (done % s.preview_every == 0 or done == s.steps):
                with torch.no_grad():
                    preview = gen.synthesize(gen.styles(current().detach().unsqueeze(0)),
                                             noise=noises or noise_const, max_resolution=res, impl=s.impl)
            report(progress, "project", done, s.steps, "optimising", {"loss": losses[-1]}, preview)
    w_final = current().detach()
    final_noise = [n.detach() for n in noises] if noises else None
    if done:  # never hand back something worse (by the loss, without exploration noise) than the start
        with torch.no_grad():
            def plain_loss(w, nz):
                img = gen.synthesize(gen.styles(w.unsqueeze(0)), noise=nz, max_resolution=res, impl=s.impl)
                return float(loss_fn(img, target))

            if plain_loss(start, noise_const) < plain_loss(w_final, final_noise or noise_const):
                return ProjectionResult(start, None, done, cancelled, losses, kept_start=True)
    return ProjectionResult(w_final, final_noise, done, cancelled, losses)
