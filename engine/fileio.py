"""Writing files so that a failure never leaves a half-written one, and reading our safetensors files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from engine.errors import FileProblem


def _new_file_mode() -> int:
    """The mode ``open()`` gives a new file under this process's umask (read once, at import)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


NEW_FILE_MODE = _new_file_mode()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` when the block succeeds.

    On any failure the temporary file is removed and ``path`` is left as it was. The result gets the
    usual permissions of a new file (some writers, e.g. safetensors, create private 0600 files).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, NEW_FILE_MODE)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_safetensors(tensors: dict[str, torch.Tensor], path: str | os.PathLike, metadata: dict[str, str]) -> Path:
    """Contiguous CPU tensors + string metadata, written atomically."""
    cpu = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(cpu, str(tmp), metadata={str(k): str(v) for k, v in metadata.items()})
    return Path(path)


def read_safetensors_metadata(path: str | os.PathLike, error: type[FileProblem] = FileProblem) -> dict[str, str]:
    """The header metadata; a damaged file raises ``error`` (one line naming the file)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as exc:  # noqa: BLE001 - any parser failure is one clear line
        raise error(path, f"truncated or corrupt safetensors file ({_first_line(exc)})") from None


def read_safetensors(path: str | os.PathLike, error: type[FileProblem] = FileProblem
                     ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """All tensors and the metadata; never unpickles. A damaged file raises ``error``."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
    except Exception as exc:  # noqa: BLE001
        raise error(path, f"truncated or corrupt safetensors file ({_first_line(exc)})") from None


def _first_line(exc: Exception, limit: int = 120) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:limit]
