"""Inversion benchmarks (tasks ``e4e`` and ``projector``): e4e forward, projector step, demo inversion.

Rows look like the render rows: ``{"task", "resolution", "batch", "impl", "ms_per_image", ...}``.
Targets (issue 4): e4e <= 10 ms per 256 px image at batch 8 and a projector step at 1024 <= 20 ms on a
GPU; demo-model inversion <= 5 s on a 2-core CPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from engine.errors import UserError
from engine.generator import Generator
from engine.inversion.e4e import Encoder4Editing
from engine.inversion.losses import PyramidLoss
from engine.inversion.metrics import psnr, ssim
from engine.inversion.projector import ProjectionSettings, noise_regularisation
from engine.rng import seeded_global_rng

from .registry import BenchOptions
from .timing import time_call


def bench_e4e(device: torch.device, batch: int = 8, warmup: int = 1, repeats: int = 3,
              dtype: torch.dtype = torch.float32, net: Encoder4Editing | None = None) -> dict:
    """Full-size e4e (IR-SE50, 18 styles, random weights) forward at 256 px."""
    if net is None:
        with seeded_global_rng(0):  # seeded random weights, global RNG state restored
            net = Encoder4Editing()
    net = net.eval().requires_grad_(False).to(device)
    rng = torch.Generator().manual_seed(0)
    x = (torch.rand(batch, 3, net.input_size, net.input_size, generator=rng) * 2 - 1).to(device)

    def call():
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            return net(x)

    ms = time_call(call, device, warmup, repeats) / batch
    return {"task": "e4e", "resolution": net.input_size, "batch": batch, "impl": "fast", "ms_per_image": round(ms, 3)}


def bench_projector_step(gen: Generator, device: torch.device, resolution: int | None = None,
                         loss_fn: torch.nn.Module | None = None, mode: str = "noise", warmup: int = 2,
                         repeats: int = 5) -> dict:
    """One optimisation step (synthesis, loss, backward, Adam, noise renormalisation) at ``resolution``.

    ``gen`` must already be on ``device``; its weights are not changed.
    """
    res = resolution or gen.config.size
    if res not in gen.config.resolutions:
        raise UserError(f"the model is a {gen.config.size} px generator: no projector step at {res} px")
    loss_fn = (loss_fn or PyramidLoss()).to(device)
    target = (torch.rand(1, 3, res, res, generator=torch.Generator().manual_seed(0)) * 2 - 1).to(device)
    w = gen.w_avg.expand(gen.num_ws, -1).clone().requires_grad_(True)
    noises = [n.detach().clone().requires_grad_(mode == "noise") for n in gen.make_noise(1, "const")]
    params = [w] + (noises if mode == "noise" else [])
    opt = torch.optim.Adam(params, lr=0.01)
    s = ProjectionSettings(mode=mode)

    def step():
        img = gen.synthesize(gen.styles(w.unsqueeze(0)), noise=noises, max_resolution=res, impl="fast")
        loss = loss_fn(img, target)
        if mode == "noise":
            loss = loss + s.noise_reg_weight * noise_regularisation(noises)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    ms = time_call(step, device, warmup, repeats)
    return {"task": "projector_step", "resolution": res, "batch": 1, "impl": "fast", "mode": mode,
            "loss": getattr(loss_fn, "name", type(loss_fn).__name__), "ms_per_image": round(ms, 3)}


def bench_inversion(loaded, images: list[torch.Tensor], encoder=None, steps: int = 40,
                    progress: Callable[[str], None] | None = None) -> dict:
    """Whole inversion (encoder + ``steps`` projector steps) of each image; mean seconds, PSNR and SSIM."""
    from engine.inversion.api import invert_image

    secs, p, s, p_enc, s_enc = [], [], [], [], []
    gen = loaded.generator
    for i, img in enumerate(images):
        t0 = time.perf_counter()
        res = invert_image(img, loaded, encoder, steps)
        secs.append(time.perf_counter() - t0)
        rec = res.reconstruction
        target = img.to(rec.device)
        p.append(psnr(rec, target))
        s.append(ssim(rec, target))
        if steps:
            res0 = invert_image(img, loaded, encoder, 0)
            p_enc.append(res0.psnr)
            s_enc.append(res0.ssim)
        if progress:
            progress(f"invert {i + 1}/{len(images)}: {secs[-1]:.2f} s, PSNR {p[-1]:.2f} dB, SSIM {s[-1]:.3f}")
    mean = lambda xs: round(sum(xs) / len(xs), 3) if xs else None  # noqa: E731
    return {"task": "invert", "resolution": gen.config.size, "batch": 1, "impl": "fast", "steps": steps,
            "images": len(images), "ms_per_image": round(1000 * sum(secs) / len(secs), 1),
            "psnr": mean(p), "ssim": mean(s), "psnr_encoder_only": mean(p_enc), "ssim_encoder_only": mean(s_enc)}


def run_e4e(opts: BenchOptions) -> dict:
    return bench_e4e(opts.device, batch=8, warmup=opts.warmup, repeats=opts.repeats, dtype=opts.dtype)


def format_e4e(row: dict) -> str:
    return f"e4e   {row['resolution']}px batch {row['batch']} {row['ms_per_image']:9.2f} ms/image"


def run_projector(opts: BenchOptions) -> dict:
    gen = opts.generator()
    res = max(opts.resolutions) if opts.resolutions else None
    return bench_projector_step(gen, opts.device, resolution=res, warmup=opts.warmup, repeats=opts.repeats)


def format_projector(row: dict) -> str:
    return f"projector step {row['resolution']}px {row['ms_per_image']:9.2f} ms"
