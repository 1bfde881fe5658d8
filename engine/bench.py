"""Render benchmarks: ms/image at several resolutions and batch sizes, fast path vs reference path.

Timing: warm-up calls, then the median of timed repeats; on CUDA, synchronised around each call.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable

import torch

from engine.generator import Generator, GeneratorConfig


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> float:
    """Median wall time of ``fn`` in milliseconds."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def bench_render(gen: Generator, device: torch.device, resolutions: list[int], batches: list[int],
                 impls: list[str], dtype: torch.dtype = torch.float32, warmup: int = 2, repeats: int = 5,
                 progress: Callable[[str], None] | None = None) -> list[dict]:
    """One row per (resolution, batch, impl): synthesis from fixed styles, early exit below full size."""
    results = []
    gen = gen.to(device)
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
                    progress(f"render {res:>4}px batch {batch:<2} {impl:<9} {ms:9.2f} ms/image")
    return results


def machine_description(device: torch.device) -> dict:
    info = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine()}
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
    return info


def random_config_f(size: int = 1024) -> Generator:
    torch.manual_seed(0)
    return Generator(GeneratorConfig(size=size)).eval().requires_grad_(False)


def speedups(results: list[dict]) -> dict[str, float]:
    """``{"<res>px/b<batch>": reference_ms / fast_ms}`` for every pair measured both ways."""
    ms = {(r["task"], r["resolution"], r["batch"], r["impl"]): r["ms_per_image"] for r in results}
    out = {}
    for (task, res, batch, impl), fast in ms.items():
        ref = ms.get((task, res, batch, "reference"))
        if impl == "fast" and ref and fast > 0:
            out[f"{task}-{res}px-b{batch}"] = round(ref / fast, 3)
    return out
