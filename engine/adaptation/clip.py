"""CLIP image/text encoders from local open_clip checkpoint files; never downloaded.

``load_clip(path)`` (a path or a model-library name, see :func:`resolve_clip`) reads a ``.safetensors``
file or a ``.bin``/``.pt`` state dict (``weights_only=True``),
recognises a ViT CLIP's architecture from its tensor shapes (width, layers, patch size, image size,
context length, vocabulary, embedding size), builds it with open_clip and loads the weights strictly.
Heads are ``width // 64`` (as every OpenAI/LAION ViT CLIP), activations QuickGELU (OpenAI's weights,
which the paper used) unless a safetensors file says ``quick_gelu = "false"`` in its metadata.
Text goes through open_clip's own BPE tokenizer (bundled with the package).

:class:`ClipEncoder` preprocesses on the device and differentiably: [-1, 1] -> [0, 1], bicubic resize of
the short side to the model's input size, centre crop, CLIP normalisation.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import FileProblem, UserError

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
_BLOCK = re.compile(r"^(visual\.)?transformer\.resblocks\.(\d+)\.")


def read_state_dict(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors (+ metadata for safetensors) of a CLIP file; never unpickles code."""
    from engine.fileio import read_safetensors, require_file, sniff

    p = require_file(path)
    kind = sniff(p)
    if kind == "safetensors" or p.suffix.lower() == ".safetensors":
        return read_safetensors(p)
    if kind not in ("zip", "pickle"):
        raise FileProblem(p, "not a CLIP checkpoint (expected .safetensors or a PyTorch .bin/.pt state dict)")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - one clear line
        first = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
        raise FileProblem(p, f"not a plain PyTorch state dict (cannot load with weights_only: {first})") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if isinstance(obj, dict) and ("g_ema" in obj or "G_ema" in obj):
        raise FileProblem(p, "not a CLIP checkpoint: it is a StyleGAN generator checkpoint")
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise FileProblem(p, "not a CLIP checkpoint (a flat state dict of tensors was expected)")
    return {str(k).removeprefix("module."): v for k, v in obj.items()}, {}


def clip_config(sd: dict[str, torch.Tensor], path: str | os.PathLike) -> dict:
    """open_clip ``CLIP(**cfg)`` arguments recognised from the tensor shapes (ViT image towers only)."""
    if "visual.conv1.weight" not in sd:
        if any(k.startswith("visual.layer1.") for k in sd):
            raise FileProblem(path, "a ResNet CLIP; only ViT CLIPs (e.g. ViT-B/32, ViT-B/16) are supported")
        if any(k.startswith(("vision_model.", "text_model.")) for k in sd):
            raise FileProblem(path, "a Hugging Face transformers CLIP; convert it to an open_clip state dict first")
        raise FileProblem(path, "not a CLIP checkpoint (no visual.conv1.weight: looks like another kind of model)")
    need = ("visual.positional_embedding", "visual.proj", "token_embedding.weight", "positional_embedding",
            "text_projection")
    missing = [k for k in need if k not in sd]
    if missing:
        raise FileProblem(path, f"unknown CLIP architecture (missing {', '.join(missing[:3])})")
    width, _, patch, _ = sd["visual.conv1.weight"].shape
    grid = round((sd["visual.positional_embedding"].shape[0] - 1) ** 0.5)
    vis_layers = len({int(m.group(2)) for k in sd if (m := _BLOCK.match(k)) and m.group(1)})
    txt_layers = len({int(m.group(2)) for k in sd if (m := _BLOCK.match(k)) and not m.group(1)})
    vocab, txt_width = sd["token_embedding.weight"].shape
    embed_dim = sd["text_projection"].shape[1]
    fc = sd.get("visual.transformer.resblocks.0.mlp.c_fc.weight")
    mlp_ratio = fc.shape[0] / width if fc is not None else 4.0
    if sd["visual.proj"].shape != (width, embed_dim) or width % 64 or txt_width % 64 or not vis_layers:
        raise FileProblem(path, f"unknown CLIP architecture (vision width {width}, text width {txt_width}, "
                                f"embedding {embed_dim})")
    return {
        "embed_dim": int(embed_dim),
        "vision_cfg": {"image_size": int(grid * patch), "layers": vis_layers, "width": int(width),
                       "patch_size": int(patch), "head_width": 64, "mlp_ratio": mlp_ratio},
        "text_cfg": {"context_length": int(sd["positional_embedding"].shape[0]), "vocab_size": int(vocab),
                     "width": int(txt_width), "heads": int(txt_width) // 64, "layers": txt_layers},
    }


def describe(cfg: dict) -> str:
    v = cfg["vision_cfg"]
    return f"ViT-{v['layers']}L-w{v['width']}/{v['patch_size']} @{v['image_size']} px, embed {cfg['embed_dim']}"


class ClipEncoder(nn.Module):
    """A frozen CLIP with differentiable, on-device preprocessing."""

    def __init__(self, model: nn.Module, image_size: int, name: str = "clip") -> None:
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.image_size = image_size
        self.name = name
        self.register_buffer("mean", torch.tensor(OPENAI_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(OPENAI_STD).view(1, 3, 1, 1))

    def preprocess(self, img: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] in [-1, 1] -> CLIP input [B, 3, S, S]."""
        x = (img.float() + 1) / 2
        h, w = x.shape[-2:]
        scale = self.image_size / min(h, w)
        nh, nw = max(self.image_size, round(h * scale)), max(self.image_size, round(w * scale))
        x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False)
        top, left = (nh - self.image_size) // 2, (nw - self.image_size) // 2
        x = x[..., top : top + self.image_size, left : left + self.image_size]
        return (x - self.mean) / self.std

    def encode_image(self, img: torch.Tensor) -> torch.Tensor:
        """Unit-norm image embeddings [B, E]."""
        return F.normalize(self.model.encode_image(self.preprocess(img)), dim=-1)

    @torch.no_grad()
    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """Unit-norm text embeddings [N, E] (open_clip's tokenizer)."""
        from open_clip.tokenizer import SimpleTokenizer

        ctx = self.model.positional_embedding.shape[0]
        tokens = SimpleTokenizer(context_length=ctx)(texts).to(self.mean.device)
        return F.normalize(self.model.encode_text(tokens), dim=-1)


def build_clip(cfg: dict, quick_gelu: bool = True) -> nn.Module:
    from open_clip.model import CLIP

    return CLIP(cfg["embed_dim"], cfg["vision_cfg"], cfg["text_cfg"], quick_gelu=quick_gelu)


def load_clip(path: str | os.PathLike, device: str | torch.device = "cpu") -> ClipEncoder:
    """A :class:`ClipEncoder` from a local open_clip checkpoint file (see module docstring)."""
    p = resolve_clip(path)
    sd, meta = read_state_dict(p)
    cfg = clip_config(sd, p)
    model = build_clip(cfg, quick_gelu=meta.get("quick_gelu", "true") != "false")
    sd = {k: v for k, v in sd.items() if k != "attn_mask"}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith("attn_mask")]
    if missing or unexpected:
        bad = (missing or unexpected)[:2]
        raise FileProblem(p, f"CLIP weights do not fit the recognised architecture {describe(cfg)} "
                             f"({'missing' if missing else 'unexpected'} {', '.join(bad)})")
    return ClipEncoder(model, cfg["vision_cfg"]["image_size"], f"{p.stem} ({describe(cfg)})").to(device)


def resolve_clip(item: str | os.PathLike) -> Path:
    """A CLIP file path as given, else the model library's ``clip`` entry of that name (one-line error)."""
    from engine.library import resolve

    return resolve(item, "clip")


def library_clips() -> list[Path]:
    """The files of every ``clip`` entry in the default model library (empty when it has none)."""
    from engine.library import Library

    try:
        entries = Library().entries("clip")
    except OSError:
        return []
    for e in entries:
        if not e.path.is_file():
            raise FileProblem(e.path, f"the library's clip {e.name!r} is missing its file "
                                      "(see `styledomain models verify`)")
    return [e.path for e in entries]


def no_clip_message(loss: str) -> str:
    return (f"--loss {loss} needs a CLIP model and the model library has none: give --clip FILE or import "
            "open_clip ViT weights once (e.g. `styledomain models import ViT-B-32.safetensors`; "
            "ViT-B/32 and ViT-B/16 as in the paper)")


def require_prompt(text: str, what: str) -> str:
    if not text or not text.strip():
        raise UserError(f"the {what} text prompt is empty")
    return text.strip()
