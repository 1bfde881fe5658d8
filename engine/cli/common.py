"""Arguments and steps several verbs share."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.checkpoints import LoadedGenerator, load_generator
from engine.device import configure_runtime, pick_device, threads_for
from engine.errors import UserError
from engine.validation import writable_output


def add_device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")


def load_model_arg(path: str, device: str = "auto") -> LoadedGenerator:
    from engine.library import resolve  # a file path, or a generator's name in the model library

    loaded = load_generator(resolve(path, "generator"), device=str(pick_device(device)))
    gen = loaded.generator
    threads = threads_for(gen.w_avg.device, gen.config.size)
    if threads is not None:  # the CLI is the front-end: it sets the thread policy once, for the model it loaded
        configure_runtime(str(gen.w_avg.device), threads=threads)
    return loaded


def output_path(path: str, suffixes: tuple[str, ...] | None) -> Path:
    """Validate an output path before any work is done (``suffixes`` None: any name)."""
    out = Path(path)
    if suffixes is not None and out.suffix.lower() not in suffixes:
        raise UserError(f"{out}: output must end in {' or '.join(suffixes)}")
    if not out.parent.exists():
        raise UserError(f"{out}: folder {out.parent} does not exist")
    writable_output(out)
    return out
