"""What a file is, read from its contents: the library's kinds and how each is brought in.

Detection never executes code from a file: safetensors headers are parsed, PyTorch files are read with
``torch.load(weights_only=True)``, NVIDIA pickles only go through the restricted unpickler of
:mod:`engine.checkpoints` (when a generator is converted), and dlib landmark files through dlib's own
deserialiser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.errors import FileProblem, UserError
from engine.fileio import read_safetensors_metadata, sniff

#: Kinds of file the library holds, in display order.
KINDS = ("generator", "encoder", "direction", "param-delta", "clip", "landmarks", "vgg")

KIND_HELP = {
    "generator": "StyleGAN2 generator (our .safetensors; rosinality .pt and NVIDIA .pkl are converted)",
    "encoder": "image-to-latent encoder (our .safetensors or an e4e/pSp .pt)",
    "direction": "StyleSpace domain direction (our .safetensors; StyleDomain .pt files are converted)",
    "param-delta": "adapted-generator parameter delta (.safetensors)",
    "clip": "open_clip model weights (.safetensors, or a .bin/.pt state dict)",
    "landmarks": "dlib 68-point face landmark predictor (.dat)",
    "vgg": "torchvision VGG16 weights for LPIPS (.pth/.pt state dict)",
}

_NATIVE_FORMATS = {
    "styledomain.generator": "generator", "styledomain.encoder": "encoder",
    "styledomain.direction": "direction", "styledomain.param_delta": "param-delta",
}


@dataclass(frozen=True)
class Detected:
    """A file's kind and how the library stores it.

    ``source_format``: ``styledomain`` (our own file), ``rosinality``, ``nvidia``, ``styledomain-pt``
    (a released StyleDomain direction), ``e4e``, ``open_clip``, ``torchvision``, ``dlib``.
    ``convert``: True when the library writes our safetensors format instead of copying the file.
    """

    kind: str
    source_format: str
    convert: bool = False
    fingerprint: str = ""
    licence: str = ""
    source_name: str = ""

    @property
    def suffix(self) -> str:
        return ".safetensors" if self.convert else ""


def check_kind(kind: str | None) -> str | None:
    """``kind`` itself (None passes); an unknown kind is a :class:`UserError` listing the known ones."""
    if kind is not None and kind not in KINDS:
        raise UserError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    return kind


def detect(path: Path) -> Detected | None:
    """The kind of ``path`` from its contents, or None when it is no kind the library knows.

    A damaged file of a recognised container (corrupt safetensors, truncated PyTorch zip) raises
    :class:`FileProblem`.
    """
    container = sniff(path)
    if container == "safetensors":
        return _detect_safetensors(path)
    if container == "pickle":
        from engine.checkpoints.safe_pickle import is_torch_legacy_save

        if not is_torch_legacy_save(path):
            return Detected("generator", "nvidia", convert=True)
    if container in ("zip", "pickle"):
        return _detect_torch(path)
    if _is_dlib_predictor(path):
        return Detected("landmarks", "dlib")
    return None


def _detect_safetensors(path: Path) -> Detected | None:
    meta = read_safetensors_metadata(path)
    kind = _NATIVE_FORMATS.get(meta.get("format", ""))
    if kind == "generator":
        return Detected(kind, "styledomain", fingerprint=_generator_fingerprint(path, meta),
                        licence=meta.get("license", ""), source_name=meta.get("source_name", ""))
    if kind == "encoder":
        return Detected(kind, "styledomain", fingerprint=meta.get("generator_fingerprint", ""))
    if kind in ("direction", "param-delta"):
        return Detected(kind, "styledomain", fingerprint=meta.get("layout_fingerprint", ""),
                        licence=meta.get("license", ""))
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        keys = set(f.keys())
    return _detect_state_dict_keys(keys)


def _generator_fingerprint(path: Path, meta: dict[str, str]) -> str:
    from engine.generator import GeneratorConfig
    from engine.stylespace import layout_fingerprint, style_layout

    try:
        cfg = GeneratorConfig.from_json(json.loads(meta["config"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise FileProblem(path, f"unknown generator architecture in metadata ({exc})") from None
    return layout_fingerprint(style_layout(cfg))


def _detect_state_dict_keys(keys: set[str]) -> Detected | None:
    keys = {k[len("module."):] if k.startswith("module.") else k for k in keys}
    if any(k.startswith("visual.") for k in keys) and (
            "token_embedding.weight" in keys or any(k.startswith("text.") for k in keys)):
        return Detected("clip", "open_clip")
    if "features.0.weight" in keys and "features.28.weight" in keys:
        return Detected("vgg", "torchvision")
    return None


def _detect_torch(path: Path) -> Detected | None:
    from engine.checkpoints.rosinality import classify_rosinality, torch_load_safely

    obj = torch_load_safely(path)
    if not isinstance(obj, dict):
        return None
    which = classify_rosinality(obj)
    if which in ("generator", "bare_generator"):
        return Detected("generator", "rosinality", convert=True)
    if which == "e4e":
        return Detected("encoder", "e4e")
    inner = obj.get("state_dict")
    if isinstance(inner, dict):
        names = {str(k) for k in inner}
        if any(k.startswith("heads.conv_") for k in names):
            return Detected("direction", "styledomain-pt", convert=True)
        found = _detect_state_dict_keys(names)
        if found is not None:
            return found
    return _detect_state_dict_keys({str(k) for k in obj})


def _is_dlib_predictor(path: Path) -> bool:
    """True when dlib reads ``path`` as a shape predictor (dlib's own parser; False without dlib)."""
    if path.suffix.lower() != ".dat":
        return False
    try:
        import dlib
    except ImportError:
        return False
    try:
        dlib.shape_predictor(str(path))
    except RuntimeError:
        return False
    return True
