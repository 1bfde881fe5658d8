"""Device choice: CUDA, then MPS, then CPU, unless the user names one."""

from __future__ import annotations

import torch

from engine.errors import UserError

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def pick_device(name: str | None = None) -> torch.device:
    """``None``/``"auto"`` picks the best available; otherwise validates the named device."""
    if name in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name!r} requested but CUDA is not available")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError(f"device {name!r} requested but MPS is not available")
    return dev


def cpu_has_fast_bf16() -> bool:
    """True where oneDNN has native bf16 kernels (AVX512-BF16 / AMX): bf16 previews pay off there."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(check and check())
    except RuntimeError:
        return False


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    """fp32 everywhere (the default); fp16/bf16 on CUDA; bf16 previews on CPUs with native bf16."""
    if name not in DTYPES:
        raise UserError(f"unknown precision {name!r} (use {', '.join(DTYPES)})")
    if name == "fp32" or device.type == "cuda":
        return DTYPES[name]
    if name == "bf16" and device.type == "cpu" and cpu_has_fast_bf16():
        return DTYPES[name]
    raise UserError(f"precision {name} is not supported on this {device.type} device (use fp32)")


#: CPU generators up to this size run best on one intra-op thread: their ops are tiny, and on a busy 2-core
#: machine spinning OpenMP threads made the demo inversion 20x slower (70 s vs 3.4 s).
SMALL_MODEL_SIZE = 128


def threads_for(device: torch.device, model_size: int) -> int | None:
    """The thread count this policy wants for a model of ``model_size`` px on ``device`` (None: torch's default)."""
    return 1 if device.type == "cpu" and model_size <= SMALL_MODEL_SIZE else None


def configure_runtime(device: str | None = None, *, threads: int | None = None) -> torch.device:
    """The one device/thread policy: front-ends (CLI, studio) call this once at start, the engine never does.

    Returns the device to use (:func:`pick_device`); sets torch's intra-op thread count when ``threads`` is given.
    """
    dev = pick_device(device)
    if threads is not None:
        if threads < 1:
            raise UserError(f"thread count must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    return dev
