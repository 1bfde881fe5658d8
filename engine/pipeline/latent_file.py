"""W+ latent files: ``.npy`` (float32 [num_ws, w_dim]) or ``.safetensors`` (``w_plus`` + metadata,
optionally the fitted ``noise_{i}`` maps). ``styledomain invert`` writes them; ``apply`` and
``direction morph`` read them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from engine.errors import FileProblem
from engine.fileio import atomic_path, read_safetensors, save_safetensors

LATENT_SUFFIXES = (".npy", ".safetensors")


def save_latent(path: Path, w_plus: torch.Tensor, metadata: dict[str, str],
                noise: list[torch.Tensor] | None = None) -> None:
    """Atomic write: ``.npy`` float32 array or ``.safetensors`` with ``w_plus`` (+ ``noise_{i}``)."""
    if path.suffix.lower() == ".npy":
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, w_plus.detach().cpu().float().numpy())
        return
    tensors = {"w_plus": w_plus.float()} | {f"noise_{i}": n.float() for i, n in enumerate(noise or [])}
    save_safetensors(tensors, path, metadata)


def load_latent_file(path: str | os.PathLike) -> torch.Tensor:
    """W+ [num_ws, w_dim] float32 from ``.npy`` or ``.safetensors`` (key ``w_plus``); [1, n, d] accepted."""
    p = Path(path)
    if not p.is_file():
        raise FileProblem(p, "file not found")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise FileProblem(p, f"not a readable .npy array ({str(exc).splitlines()[0]})") from None
        t = torch.from_numpy(np.ascontiguousarray(arr))
    elif suffix == ".safetensors":
        tensors, _ = read_safetensors(p)
        if "w_plus" not in tensors:
            raise FileProblem(p, "safetensors latent has no 'w_plus' tensor")
        t = tensors["w_plus"]
    else:
        raise FileProblem(p, "latent must be .npy or .safetensors")
    if t.ndim == 3 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 2:
        raise FileProblem(p, f"latent has shape {list(t.shape)}, expected [num_ws, w_dim]")
    if not t.is_floating_point():
        raise FileProblem(p, f"latent has dtype {t.dtype}, expected float32")
    if not bool(torch.isfinite(t).all()):
        raise FileProblem(p, "latent contains NaN/Inf values")
    return t.float()
