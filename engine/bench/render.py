"""Render benchmark: ms/image at several resolutions and batch sizes, fast path vs reference path."""

from __future__ import annotations

from collections.abc import Callable

import torch

from engine.errors import UserError
from engine.generator import Generator

from .registry import BenchOptions
from .timing import time_call

DEFAULT_RESOLUTIONS = (256, 512, 1024)


def bench_render(gen: Generator, device: torch.device, resolutions: list[int], batches: list[int],
                 impls: list[str], dtype: torch.dtype = torch.float32, warmup: int = 2, repeats: int = 5,
                 progress: Callable[[str], None] | None = None) -> list[dict]:
    """One row per (resolution, batch, impl): synthesis from fixed styles, early exit below full size.

    ``gen`` must already be on ``device``. ``progress`` gets one line per row.
    """
    results = []
    for res in resolutions:
        for batch in batches:
            z = torch.randn(batch, gen.config.style_dim, generator=torch.Generator().manual_seed(0)).to(device)
            with torch.no_grad():
                styles = gen.styles(gen.truncate(gen.mapping(z)))
            for impl in impls:
                def call(styles=styles, impl=impl, res=res):
                    with torch.no_grad():
                        return gen.synthesize(styles, "const", max_resolution=res, impl=impl, dtype=dtype)

                ms = time_call(call, device, warmup, repeats) / batch
                row = {"task": "render", "resolution": res, "batch": batch, "impl": impl,
                       "ms_per_image": round(ms, 3)}
                results.append(row)
                if progress:
                    progress(format_render(row))
    return results


def fitting_resolutions(gen: Generator, asked: list[int] | None) -> list[int]:
    """The asked resolutions (all must fit), or by default those of 256/512/1024 that fit, else the model's size."""
    have = list(gen.config.resolutions)
    if asked is None:
        return [r for r in DEFAULT_RESOLUTIONS if r in have] or [gen.config.size]
    bad = [r for r in asked if r not in have]
    if bad:
        raise UserError(f"the model is a {gen.config.size} px generator: it cannot render at "
                        f"{', '.join(map(str, bad))} px (--resolutions takes {', '.join(map(str, have))})")
    return asked


def run(opts: BenchOptions) -> list[dict]:
    gen = opts.generator()
    return bench_render(gen, opts.device, fitting_resolutions(gen, opts.resolutions), opts.batches, opts.impls,
                        opts.dtype, warmup=opts.warmup, repeats=opts.repeats)


def format_render(row: dict) -> str:
    return (f"render {row['resolution']:>4}px batch {row['batch']:<2} {row['impl']:<9} "
            f"{row['ms_per_image']:9.2f} ms/image")
