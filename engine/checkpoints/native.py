"""Our own generator format: ``.safetensors`` weights + JSON metadata. Loading never unpickles.

Tensors: the rosinality state dict keys plus ``w_avg``. Metadata (string values):
``format`` = ``styledomain.generator``, ``format_version``, ``config`` (JSON of GeneratorConfig),
``source_format``, ``source_name``, ``source_sha256``, ``license``, ``notes``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from engine.fileio import read_safetensors, save_safetensors
from engine.generator import Generator, GeneratorConfig

from .errors import ModelFileError

FORMAT_NAME = "styledomain.generator"
FORMAT_VERSION = 1


def save_native(gen: Generator, path: str | os.PathLike, *, source_format: str = "", source_name: str = "",
                source_sha256: str = "", license_note: str = "", notes: str = "",
                extra_metadata: dict | None = None) -> None:
    """Write atomically: a temp file beside the target, renamed on success.

    ``extra_metadata`` adds string keys (e.g. ``{"demo": "true"}``); it cannot replace the format keys.
    """
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in gen.state_dict().items()}
    tensors["w_avg"] = gen.w_avg.detach().cpu().contiguous()
    meta = {
        "format": FORMAT_NAME, "format_version": str(FORMAT_VERSION),
        "config": json.dumps(gen.config.to_json()), "source_format": source_format,
        "source_name": source_name, "source_sha256": source_sha256, "license": license_note, "notes": notes,
    }
    for key, value in (extra_metadata or {}).items():
        if key in meta:
            raise ValueError(f"extra metadata key {key!r} is reserved")
        meta[str(key)] = str(value)
    save_safetensors(tensors, path, meta)


def load_native(path: Path) -> tuple[Generator, dict[str, str]]:
    tensors, meta = read_safetensors(path, error=ModelFileError)
    if meta.get("format") != FORMAT_NAME:
        raise ModelFileError(path, f"safetensors file is not a StyleDomain generator (format={meta.get('format')!r})")
    if int(meta.get("format_version", "0")) > FORMAT_VERSION:
        raise ModelFileError(path, f"generator format version {meta.get('format_version')} is newer than this "
                                   f"program understands ({FORMAT_VERSION})")
    try:
        cfg = GeneratorConfig.from_json(json.loads(meta["config"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelFileError(path, f"unknown generator architecture in metadata ({exc})") from None
    gen = Generator(cfg)
    w_avg = tensors.pop("w_avg", None)
    own = gen.state_dict()
    if set(own) != set(tensors):
        diff = sorted(set(own) ^ set(tensors))[:3]
        raise ModelFileError(path, f"weights do not match the stored architecture (keys {diff})")
    for k, v in tensors.items():
        if own[k].shape != v.shape:
            raise ModelFileError(path, f"tensor {k} has shape {list(v.shape)}, expected {list(own[k].shape)}")
    gen.load_state_dict(tensors)
    if w_avg is not None:
        gen.w_avg.copy_(w_avg)
    return gen.eval().requires_grad_(False), meta
