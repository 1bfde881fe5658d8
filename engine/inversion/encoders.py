"""Finding and loading encoders: our ``.safetensors`` encoders and published e4e/pSp ``.pt`` files."""

from __future__ import annotations

import os
from pathlib import Path

from engine.checkpoints.errors import ModelFileError
from engine.errors import UserError
from engine.fileio import require_file, sniff
from engine.generator import Generator
from engine.resources import resources_dir
from engine.rng import keep_global_rng
from engine.stylespace import layout_fingerprint, style_layout

from .base import LatentEncoder
from .e4e import load_e4e
from .small_encoder import FORMAT_NAME, SmallEncoder, load_small_encoder, read_encoder_metadata


@keep_global_rng()  # module construction draws initial weights; the file replaces them
def load_encoder(path: str | os.PathLike) -> LatentEncoder:
    """A StyleDomain ``.safetensors`` encoder or an e4e/pSp checkpoint, by content."""
    p = require_file(path)
    kind = sniff(p)
    if kind == "safetensors":
        return load_small_encoder(p)
    if kind in ("zip", "pickle"):
        return load_e4e(p)[0]
    raise ModelFileError(p, "not an encoder file (expected a StyleDomain .safetensors encoder or an e4e .pt)")


def check_encoder_fits(encoder: LatentEncoder, gen: Generator, model_sha256: str = "",
                       model_name: str = "the model") -> list[str]:
    """Raise :class:`UserError` when the encoder cannot drive ``gen``; return notes for softer mismatches."""
    encoder.check_generator(gen.num_ws, gen.config.style_dim, model_name)
    notes: list[str] = []
    if isinstance(encoder, SmallEncoder) and encoder.meta:
        fp = layout_fingerprint(style_layout(gen.config))
        if encoder.meta.get("generator_fingerprint") not in ("", None, fp):
            raise UserError(f"encoder {encoder.name} was trained for a generator with a different layer layout "
                            f"({encoder.meta.get('generator_fingerprint')}, {model_name} has {fp}); "
                            "train one with `styledomain train-encoder`")
        if model_sha256 and encoder.meta.get("generator_sha256") not in ("", None, model_sha256):
            notes.append(f"encoder {encoder.name} was trained for another model file "
                         f"({encoder.meta.get('generator_name') or 'unknown'}); results may be poorer")
    return notes


def encoder_search_paths(model_path: Path | None) -> list[Path]:
    out: list[Path] = []
    if model_path is not None:
        out.append(model_path.with_name(f"{model_path.stem}-encoder.safetensors"))
    models = resources_dir() / "models"
    if models.is_dir():
        out += sorted(models.glob("*encoder*.safetensors"))
    seen, unique = set(), []
    for p in out:
        key = p.resolve() if p.exists() else p
        if key not in seen and p.is_file():
            seen.add(key)
            unique.append(p)
    return unique


def find_default_encoder(gen: Generator, model_sha256: str = "", model_path: Path | None = None) -> Path | None:
    """A shipped or side-by-side encoder made for this model: same sha256 first, else ``<stem>-encoder``
    beside the model with the same layout fingerprint. Without a sha256 or path (a bare generator),
    the first shipped encoder with the same layout fingerprint."""
    fp = layout_fingerprint(style_layout(gen.config))
    beside = model_path.with_name(f"{model_path.stem}-encoder.safetensors") if model_path else None
    fallback = None
    for p in encoder_search_paths(model_path):
        try:
            meta = read_encoder_metadata(p)
        except ModelFileError:
            continue
        if meta.get("format") != FORMAT_NAME or meta.get("generator_fingerprint") != fp:
            continue
        if model_sha256 and meta.get("generator_sha256") == model_sha256:
            return p
        if beside is not None and p == beside:
            fallback = p
        if not model_sha256 and model_path is None and fallback is None:
            fallback = p
    return fallback
