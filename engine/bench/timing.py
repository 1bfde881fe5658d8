"""Timing helpers for benchmarks: median of timed repeats after warm-up, machine description, ratios."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable

import torch

from engine.generator import Generator, GeneratorConfig
from engine.rng import seeded_global_rng


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> float:
    """Median wall time of ``fn`` in milliseconds (synchronised around each call on CUDA)."""
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


def machine_description(device: torch.device) -> dict:
    info = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine()}
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
    return info


def random_config_f(size: int = 1024, seed: int = 0) -> Generator:
    """A config-f generator with random weights (seeded; the global RNG state is restored afterwards)."""
    with seeded_global_rng(seed):
        return Generator(GeneratorConfig(size=size)).eval().requires_grad_(False)


def speedups(results: list[dict]) -> dict[str, float]:
    """``{"<task>-<res>px-b<batch>": reference_ms / fast_ms}`` for every pair measured both ways."""
    ms = {(r["task"], r.get("resolution"), r.get("batch"), r.get("impl")): r["ms_per_image"]
          for r in results if "ms_per_image" in r}
    out = {}
    for (task, res, batch, impl), fast in ms.items():
        ref = ms.get((task, res, batch, "reference"))
        if impl == "fast" and ref and fast > 0:
            out[f"{task}-{res}px-b{batch}"] = round(ref / fast, 3)
    return out
