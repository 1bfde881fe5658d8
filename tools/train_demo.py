"""Train the built-in demo generator by distillation from the procedural face renderer.

Each seed ``s`` gives ``z = np.random.RandomState(s).randn(1, z_dim)`` (NVIDIA's ``generate.py``
convention, the same as ``styledomain render --seed``) and the face ``FaceParams.from_z(z)``. The
generator (our own StyleGAN2 architecture) learns ``z -> render(FaceParams.from_z(z))`` with an L1
loss at 64/32/16 px plus an L1 loss on image gradients; the saved weights are an exponential
moving average. Deterministic: fixed torch seed, a fixed pool of training seeds, one data order.
``--init`` continues from an earlier checkpoint (a second stage with its own schedule).

    PYTHONPATH=. python tools/train_demo.py --steps 1500 --out resources/models/demo-faces-64.safetensors

The shipped model's exact two-stage commands are in ``resources/models/demo-faces-64.md``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.checkpoints import load_native, save_native
from engine.demo_world.faces import FaceParams, render_photo
from engine.fileio import sha256_of
from engine.generator import Generator, GeneratorConfig
from engine.pipeline.seeds import z_batch_from_seeds, z_from_seed


def demo_config(size: int, width: int, z_dim: int) -> GeneratorConfig:
    """A small StyleGAN2: ``width`` channels up to 16 px, halving per octave above (at least 32)."""
    ch, c = {}, width
    for res in [2**i for i in range(2, int(math.log2(size)) + 1)]:
        if res >= 32:
            c = max(32, c // 2)
        ch[res] = c
    return GeneratorConfig(size=size, style_dim=z_dim, n_mlp=4, channels=ch, lr_mlp=0.01)


def seed_latents(seeds: np.ndarray, z_dim: int) -> torch.Tensor:
    return z_batch_from_seeds(seeds, z_dim)


def render_targets(seeds: np.ndarray, z_dim: int, size: int, log=None) -> torch.Tensor:
    """Renderer images for ``seeds`` as [N, 3, size, size] in [-1, 1] (uint8 storage in memory)."""
    out = np.empty((len(seeds), size, size, 3), np.uint8)
    t0 = time.time()
    for i, s in enumerate(seeds):
        z = z_from_seed(int(s), z_dim)
        out[i] = render_photo(FaceParams.from_z(z[0]), size)
        if log and (i + 1) % 1000 == 0:
            log(f"rendered {i + 1}/{len(seeds)} targets ({time.time() - t0:.0f} s)")
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def cached_targets(seeds: np.ndarray, args: argparse.Namespace, log) -> torch.Tensor:
    """Render the pool, or reuse ``--target-cache`` when it holds exactly this pool (same renders)."""
    cache = Path(args.target_cache) if args.target_cache else None
    key = f"pool{len(seeds)}-z{args.z_dim}-s{args.size}"
    if cache and cache.is_file():
        with np.load(cache, allow_pickle=False) as f:
            if str(f["key"]) == key:
                log(f"targets from cache {cache}")
                return torch.from_numpy(f["targets"])
    targets = render_targets(seeds, args.z_dim, args.size, log)
    if cache:
        np.savez(cache, key=np.array(key), targets=targets.numpy())
    return targets


def as_float(batch_u8: torch.Tensor) -> torch.Tensor:
    return batch_u8.float() / 127.5 - 1.0


def distill_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """L1 at full, half and quarter size + L1 between horizontal/vertical image gradients."""
    loss = F.l1_loss(fake, real)
    f, r = fake, real
    for _ in range(2):
        f, r = F.avg_pool2d(f, 2), F.avg_pool2d(r, 2)
        loss = loss + F.l1_loss(f, r)
    dx = F.l1_loss(fake[..., :, 1:] - fake[..., :, :-1], real[..., :, 1:] - real[..., :, :-1])
    dy = F.l1_loss(fake[..., 1:, :] - fake[..., :-1, :], real[..., 1:, :] - real[..., :-1, :])
    return loss + 0.5 * (dx + dy)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=1500, help="optimizer steps (the LR schedule depends on it)")
    p.add_argument("--seed", type=int, default=0, help="torch seed for the initial weights and data order")
    p.add_argument("--size", type=int, default=64, help="output resolution (power of two)")
    p.add_argument("--width", type=int, default=256, help="channels up to 16 px (halved per octave above)")
    p.add_argument("--z-dim", type=int, default=128)
    p.add_argument("--pool", type=int, default=8000, help="training seeds 0..pool-1, rendered once")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--mapping-lr", type=float, default=0.5, help="mapping LR relative to --lr")
    p.add_argument("--rgb-init", type=float, default=0.1, help="scale of the initial toRGB weights")
    p.add_argument("--ema", type=float, default=0.995, help="EMA decay of the saved weights")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--stop-at", type=int, default=0,
                   help="stop after this many steps of the --steps schedule (reproduces a time-limited run)")
    p.add_argument("--time-limit", type=float, default=0.0,
                   help="minutes; stop early (saving what exists) when exceeded; 0 = no limit")
    p.add_argument("--save-every", type=int, default=200, help="write the checkpoint every N steps")
    p.add_argument("--init", default="",
                   help="start from this demo checkpoint (our .safetensors) instead of random weights; "
                        "the architecture is taken from it")
    p.add_argument("--target-cache", default="", help="optional .npz to keep the rendered pool between runs")
    p.add_argument("--out", default="resources/models/demo-faces-64.safetensors")
    return p.parse_args(argv)


def save(ema: Generator, out: Path, args: argparse.Namespace, info: dict) -> None:
    ema.w_avg.copy_(ema.compute_w_avg(4096, seed=0))
    notes = (f"Built-in demo model: StyleGAN2 distilled from the StyleDomain Studio procedural face renderer. "
             f"tools/train_demo.py {json.dumps(info)}")
    save_native(ema, out, source_format="styledomain-demo", source_name="procedural faces (engine.demo_world)",
                license_note="generated by StyleDomain Studio (project licence); no third-party data",
                notes=notes, extra_metadata={"demo": "true", "training": json.dumps(info)})


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t_start = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - t_start:7.1f}s] {msg}", flush=True)

    init_sha = sha256_of(args.init) if args.init else ""
    if args.init:
        gen, _ = load_native(Path(args.init))
        gen.train().requires_grad_(True)
        cfg = gen.config
        log(f"starting from {args.init}")
    else:
        cfg = demo_config(args.size, args.width, args.z_dim)
        gen = Generator(cfg).train()
        with torch.no_grad():  # quiet toRGB layers at the start: no colour noise to unlearn
            for rgb in [gen.to_rgb1, *gen.to_rgbs]:
                rgb.conv.weight.mul_(args.rgb_init)
    ema = copy.deepcopy(gen).eval().requires_grad_(False)
    log(f"config {cfg.to_json()}  parameters {sum(p.numel() for p in gen.parameters()):,}")

    seeds = np.arange(args.pool)
    targets = cached_targets(seeds, args, log)
    latents = seed_latents(seeds, args.z_dim)
    log(f"rendered {len(seeds)} targets")

    # Equalised LR: the mapping's applied step is lr * lr_mlp; undo that so it learns at lr * mapping_lr.
    mapping = [p for n, p in gen.named_parameters() if n.startswith("style.")]
    synthesis = [p for n, p in gen.named_parameters() if not n.startswith("style.")]
    opt = torch.optim.Adam([{"params": synthesis, "lr": args.lr},
                            {"params": mapping, "lr": args.lr * args.mapping_lr / cfg.lr_mlp}], betas=(0.9, 0.99))
    base = [g["lr"] for g in opt.param_groups]
    order = torch.Generator().manual_seed(args.seed)
    step, loss_avg = 0, None
    while step < args.steps:
        frac = step / args.steps
        warm = min(1.0, (step + 1) / 100)
        for g, lr in zip(opt.param_groups, base, strict=True):
            g["lr"] = lr * warm * (0.5 * (1 + math.cos(math.pi * frac)) * 0.9 + 0.1)
        idx = torch.randint(0, len(seeds), (args.batch,), generator=order)
        fake = gen(latents[idx], noise_mode="const", impl="fast")
        loss = distill_loss(fake, as_float(targets[idx]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            decay = min(args.ema, (1 + step) / (10 + step))
            for pe, pg in zip(ema.parameters(), gen.parameters(), strict=True):
                pe.lerp_(pg, 1 - decay)
        step += 1
        loss_avg = loss.item() if loss_avg is None else 0.98 * loss_avg + 0.02 * loss.item()
        elapsed = time.time() - t_start
        if step % 25 == 0:
            log(f"step {step}/{args.steps} loss {loss_avg:.4f}")
        over = (args.time_limit > 0 and elapsed > args.time_limit * 60) or step == args.stop_at
        if step % args.save_every == 0 or step == args.steps or over:
            info = {"command": " ".join(["tools/train_demo.py", *(argv if argv is not None else sys.argv[1:])]),
                    "steps_done": step, "steps": args.steps, "seed": args.seed, "pool": args.pool,
                    "batch": args.batch, "lr": args.lr, "width": cfg.channels[4], "rgb_init": args.rgb_init,
                    "mapping_lr": args.mapping_lr, "init": args.init, "init_sha256": init_sha,
                    "wall_seconds": round(elapsed),
                    "threads": args.threads, "torch": torch.__version__, "machine": platform.machine(),
                    "final_loss": round(loss_avg, 5), "stopped_early": bool(over)}
            save(ema, out, args, info)
            log(f"saved {out} at step {step}")
        if over:
            log("stopped early (time limit or --stop-at)")
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
