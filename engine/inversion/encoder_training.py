"""Train a :class:`SmallEncoder` for a generator on the generator's own samples.

Samples: z mapped to W, truncated with a random psi in [psi_min, 1] and, for half of them, mixed with a
second W from a random row on (style mixing); the target is the generator's render. The loss is
``latent_weight * mean(((W+_pred - W+) / w_scale)^2) + image_weight * pyramid L1/L2(G(W+_pred), target)``.
With ``pool > 0`` a fixed pool of samples is rendered once (cheap steps on a CPU) and the image term,
which back-propagates through the generator, is added every ``image_every`` steps; with ``pool = 0``
every step draws fresh samples. Adam with a cosine learning-rate decay over the steps or the time limit,
whichever ends first; progress and cancel follow :mod:`engine.jobs` and are honoured between steps.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from engine.generator import Generator
from engine.jobs import CancelToken, ProgressFn, is_cancelled, report
from engine.rng import seeded_global_rng

from .losses import PyramidLoss
from .metrics import psnr
from .projector import fit_target
from .small_encoder import SmallEncoder, SmallEncoderConfig


@dataclass
class EncoderTrainingSettings:
    steps: int = 2000
    batch: int = 16
    lr: float = 2e-3
    psi_min: float = 0.6
    mix_prob: float = 0.5
    latent_weight: float = 1.0
    image_weight: float = 1.0
    image_res: int = 64  # resolution of the image loss (capped at the generator's)
    image_every: int = 1  # add the image term every N steps
    pool: int = 0  # > 0: render this many samples once and draw batches from them
    time_limit: float | None = None  # seconds
    seed: int = 0


@torch.no_grad()
def w_statistics(gen: Generator, n: int = 4000, seed: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and per-dimension std of W over ``n`` seeded samples."""
    from engine.pipeline.seeds import sample_w

    return gen.w_avg.clone(), sample_w(gen, n, seed).std(0).clamp_min(1e-3)


@torch.no_grad()
def sample_w_plus(gen: Generator, batch: int, rng: torch.Generator, psi_min: float = 0.6,
                  mix_prob: float = 0.5) -> torch.Tensor:
    """Random W+ [B, num_ws, D]: truncated with a random psi, style-mixed for part of the batch."""
    d, n = gen.config.style_dim, gen.num_ws
    dev = gen.w_avg.device

    def draw() -> torch.Tensor:
        w = gen.mapping(torch.randn(batch, d, generator=rng).to(dev))
        psi = (psi_min + (1 - psi_min) * torch.rand(batch, 1, generator=rng)).to(dev)
        return gen.w_avg + psi * (w - gen.w_avg)

    wp = draw().unsqueeze(1).repeat(1, n, 1)
    other = draw()
    cross = torch.randint(1, n, (batch,), generator=rng)
    mix = torch.rand(batch, generator=rng) < mix_prob
    rows = torch.arange(n)
    mask = (mix[:, None] & (rows[None, :] >= cross[:, None])).to(dev)
    return torch.where(mask[..., None], other[:, None, :], wp)


def render(gen: Generator, w_plus: torch.Tensor, res: int) -> torch.Tensor:
    return gen.synthesize(gen.styles(w_plus), "const", max_resolution=res, impl="fast")


@torch.no_grad()
def render_pool(gen: Generator, n: int, batch: int, res: int, rng: torch.Generator, s: EncoderTrainingSettings,
                cancel: CancelToken | None, t0: float, progress: ProgressFn | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` sampled W+ (CPU float32) and their renders (CPU float16), stopping early on cancel/time."""
    ws, imgs = [], []
    for start in range(0, n, batch):
        if is_cancelled(cancel) or (s.time_limit is not None and time.perf_counter() - t0 >= s.time_limit):
            break
        wp = sample_w_plus(gen, batch, rng, s.psi_min, s.mix_prob)
        img = render(gen, wp, res)
        ws.append(wp.cpu())
        imgs.append(img.to(torch.float16).cpu())
        report(progress, "train-encoder", 0, s.steps, f"rendered {min(n, start + batch)}/{n} training samples")
    if not ws:
        return torch.zeros(0), torch.zeros(0)
    return torch.cat(ws)[:n], torch.cat(imgs)[:n]


def train_encoder(gen: Generator, cfg: SmallEncoderConfig | None = None,
                  settings: EncoderTrainingSettings | None = None,
                  progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> tuple[SmallEncoder, dict]:
    """Returns the trained encoder (eval mode) and a summary dict (steps done, seconds, last losses).

    Progress (job ``"train-encoder"``): one report per step, ``values`` = ``loss``, ``latent``, ``image``.
    A cancel (checked before every step and every pool batch) does not raise: the encoder trained so far
    comes back, with ``summary["cancelled"] = True``. ``gen`` is only read; the global RNG is untouched.
    """
    s = settings or EncoderTrainingSettings()
    cfg = cfg or SmallEncoderConfig(input_size=min(gen.config.size, 64), num_ws=gen.num_ws,
                                    w_dim=gen.config.style_dim)
    dev = gen.w_avg.device
    w_avg, w_scale = w_statistics(gen)
    with seeded_global_rng(s.seed):  # seeded initial weights; the caller's RNG state is restored
        enc = SmallEncoder(cfg, w_avg, w_scale)
    enc = enc.to(dev).train()
    opt = torch.optim.Adam(enc.parameters(), lr=s.lr, betas=(0.9, 0.99))
    pixel = PyramidLoss()
    res = max(r for r in gen.config.resolutions if r <= max(8, min(s.image_res, gen.config.size)))
    rng = torch.Generator().manual_seed(s.seed)
    t0 = time.perf_counter()
    target_res = max(r for r in gen.config.resolutions if r <= max(8, min(cfg.input_size, gen.config.size)))
    pool_w, pool_img = (render_pool(gen, s.pool, s.batch, target_res, rng, s, cancel, t0, progress) if s.pool > 0
                        else (None, None))
    done, last = 0, {}
    t_train = time.perf_counter()
    for step in range(s.steps):
        if is_cancelled(cancel) or (s.time_limit is not None and time.perf_counter() - t0 >= s.time_limit):
            break
        frac = step / s.steps
        if s.time_limit:  # the schedule follows whichever budget runs out first
            frac = max(frac, (time.perf_counter() - t_train) / max(1e-6, s.time_limit - (t_train - t0)))
        for g in opt.param_groups:
            g["lr"] = s.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))
        if pool_w is not None and len(pool_w) > 0:
            idx = torch.randint(0, len(pool_w), (s.batch,), generator=rng)
            wp, target = pool_w[idx].to(dev), pool_img[idx].to(dev).float()
        else:
            wp = sample_w_plus(gen, s.batch, rng, s.psi_min, s.mix_prob)
            with torch.no_grad():
                target = render(gen, wp, target_res)
        pred = enc.encode(target)
        latent = ((pred - wp) / enc.w_scale).pow(2).mean()
        loss = s.latent_weight * latent
        image = torch.zeros(())
        if s.image_weight > 0 and step % max(1, s.image_every) == 0:
            image = pixel(render(gen, pred, res), fit_target(target, res))
            loss = loss + s.image_weight * image
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(enc.parameters(), 5.0)
        opt.step()
        done = step + 1
        last = {"loss": loss.item(), "latent": latent.item(), "image": image.item()}
        report(progress, "train-encoder", done, s.steps, "training", last)
    enc.eval().requires_grad_(False)
    summary = {"steps_done": done, "cancelled": is_cancelled(cancel), "seconds": round(time.perf_counter() - t0, 1),
               "image_res": res,
               **{f"final_{k}": round(v, 5) for k, v in last.items()}, "settings": asdict(s)}
    return enc, summary


@torch.no_grad()
def evaluate_encoder(gen: Generator, enc, n: int = 32, seed: int = 12345, psi_min: float = 0.6) -> dict:
    """Held-out samples: image MSE/PSNR of the encoder's reconstruction vs the w_avg baseline."""
    rng = torch.Generator().manual_seed(seed)
    wp = sample_w_plus(gen, n, rng, psi_min, mix_prob=0.0)
    res = gen.config.size
    target = render(gen, wp, res)
    rec = render(gen, enc.encode(target), res)
    base = render(gen, gen.w_avg.expand(n, gen.num_ws, -1), res)
    return {"samples": n, "mse": float(F.mse_loss(rec, target)), "mse_w_avg": float(F.mse_loss(base, target)),
            "psnr": round(psnr(rec, target), 2), "psnr_w_avg": round(psnr(base, target), 2)}
