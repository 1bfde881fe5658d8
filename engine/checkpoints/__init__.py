"""Load a StyleGAN2 generator from any supported file, without executing code from it.

Formats: rosinality ``.pt``, NVIDIA ``.pkl`` (stylegan2-ada-pytorch / stylegan3 repo, and the TF-era
pickles), and our own ``.safetensors``. Every failure is a :class:`ModelFileError` naming the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.fileio import require_file, sha256_of, sniff
from engine.generator import Generator
from engine.jobs import CancelToken, ProgressFn, check_cancel, report
from engine.rng import keep_global_rng

from .errors import ModelFileError
from .native import load_native, save_native
from .rosinality import load_rosinality, torch_load_safely
from .safe_pickle import is_torch_legacy_save


@dataclass
class LoadedGenerator:
    """A generator plus where it came from."""

    generator: Generator
    path: Path
    source_format: str  # "rosinality" | "nvidia" | "nvidia-tf" | "styledomain"
    sha256: str
    license: str = ""
    metadata: dict = field(default_factory=dict)
    discriminator: dict | None = None  # raw state dict when the checkpoint carries one

    @property
    def name(self) -> str:
        return self.path.stem


@keep_global_rng()  # building the modules draws initial weights; the file replaces them
def load_generator(path: str | os.PathLike, device: str = "cpu", *, progress: ProgressFn | None = None,
                   cancel: CancelToken | None = None) -> LoadedGenerator:
    """Detect the format by content and load the generator in eval mode on ``device``.

    Progress (job ``"load"``) reports the bytes hashed, then one report per stage; a cancel raises
    :class:`engine.jobs.Cancelled` (checked every MiB while hashing and between stages).
    """
    p = require_file(path)
    kind = sniff(p)
    digest = sha256_of(p, progress=progress, cancel=cancel, job="load")
    check_cancel(cancel, "load")
    report(progress, "load", 0, None, f"reading {p.name}")
    if kind == "safetensors" or p.suffix == ".safetensors":
        gen, meta = load_native(p)
        loaded = LoadedGenerator(gen, p, "styledomain", digest, meta.get("license", ""), meta)
    elif kind == "pickle" and not is_torch_legacy_save(p):  # NVIDIA .pkl, whatever its suffix
        from .nvidia import load_nvidia_pickle

        gen, fmt, meta = load_nvidia_pickle(p)
        loaded = LoadedGenerator(gen, p, fmt, digest, "", meta)
    elif kind in ("zip", "pickle"):
        obj = torch_load_safely(p)
        gen, extras = load_rosinality(p, obj)
        loaded = LoadedGenerator(gen, p, "rosinality", digest, "", {"args": extras.get("args", {})},
                                 extras.get("discriminator"))
    else:
        raise ModelFileError(p, "not a model file (expected a PyTorch .pt, an NVIDIA .pkl or a .safetensors)")
    check_cancel(cancel, "load")
    loaded.generator.to(device)
    report(progress, "load", 1, 1, f"loaded {p.name}")
    return loaded


__all__ = ["LoadedGenerator", "ModelFileError", "load_generator", "save_native"]
