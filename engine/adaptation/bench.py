"""Bench task ``adapt``: ms per adaptation step and peak memory (``styledomain bench --tasks adapt``).

On CUDA: MTG + Affine with two randomly initialised ViT-B CLIPs (B/32 and B/16), batch 4, on the bench's
generator (1024 config-f by default); issue target <= 25 ms/step, 250 steps <= 10 s, peak <= 12 GB.
On a CPU, where that would take minutes per step, the CLIP-free JoJo loss on the bench's generator.
"""

from __future__ import annotations

import resource
import sys
import time

import torch

from engine.bench.registry import BenchOptions
from engine.rng import seeded_global_rng

VIT_B = {"embed_dim": 512, "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8,
                                         "layers": 12}}


def _vit_b(patch: int):
    from .clip import ClipEncoder, build_clip

    cfg = dict(VIT_B, vision_cfg={"image_size": 224, "layers": 12, "width": 768, "patch_size": patch,
                                  "head_width": 64})
    with seeded_global_rng(patch):  # random weights without disturbing the global RNG
        return ClipEncoder(build_clip(cfg), 224, f"ViT-B/{patch} (random)")


def _peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024


def run(opts: BenchOptions) -> list[dict]:
    from .api import adapt
    from .references import Reference

    gen = opts.generator()
    dev = gen.w_avg.device
    args = opts.args
    batch = int(getattr(args, "adapt_batch", None) or 4)
    steps = max(3, opts.warmup + opts.repeats + 2)
    gpu = dev.type == "cuda"
    clips = [_vit_b(32).to(dev), _vit_b(16).to(dev)] if gpu else []
    rng = torch.Generator().manual_seed(0)
    size = gen.config.size
    ref = Reference((torch.rand(1, 3, size, size, generator=rng) * 2 - 1).to(dev),
                    gen.w_avg.expand(gen.num_ws, -1).clone(), "random", "")
    stamps: list[float] = []
    if gpu:
        torch.cuda.reset_peak_memory_stats(dev)

    def progress(p) -> None:
        if gpu:
            torch.cuda.synchronize(dev)
        stamps.append(time.perf_counter())

    t0 = time.perf_counter()
    res = adapt(gen, [ref], param="affine", loss="mtg" if gpu else "jojo", clip=clips, steps=steps, batch=batch,
                progress=progress)
    total = time.perf_counter() - t0
    timed = stamps[opts.warmup:]
    ms = 1000 * (timed[-1] - timed[0]) / max(1, len(timed) - 1) if len(timed) > 1 else float("nan")
    return [{"task": "adapt", "resolution": size, "batch": batch, "loss": res.loss, "param": res.param,
             "clips": len(clips), "ms_per_step": round(ms, 2), "est_250_steps_s": round(ms * 250 / 1000, 2),
             "run_s": round(total, 2), "peak_mb": round(_peak_mb(dev), 1), "device": str(dev)}]


def format_adapt(row: dict) -> str:
    return (f"adapt {row['resolution']} px, {row['param']} + {row['loss']} ({row['clips']} CLIPs), batch "
            f"{row['batch']}: {row['ms_per_step']} ms/step, 250 steps ~{row['est_250_steps_s']} s, peak "
            f"{row['peak_mb']} MB on {row['device']}")
