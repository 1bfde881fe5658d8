"""Photo / image -> W+ for a generator: encoder first (if any), then optional optimisation.

``invert_photo(photo_path, loaded_generator, encoder=None, steps=..., aligned=False)`` and
``invert_image(image, loaded_generator, ...)`` return an :class:`InversionResult` (a frozen dataclass:
``w_plus`` [num_ws, w_dim] on the CPU, reconstruction, metrics, encoder and projection settings, and for a
photo its path, sha256 and alignment record).
"""

from __future__ import annotations

import hashlib
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.checkpoints import LoadedGenerator
from engine.errors import UserError
from engine.generator import Generator

from .base import LatentEncoder
from .encoders import check_encoder_fits, find_default_encoder, load_encoder
from .losses import default_loss
from .metrics import psnr, ssim
from .projector import ProgressFn, ProjectionSettings, is_cancelled, project

#: default optimisation steps after the encoder (about 3 s for the 64 px demo model on one CPU core)
DEFAULT_STEPS = 50
#: peak learning rate (NVIDIA's default; on the demo model 0.1 also beat 0.03 and 0.06 from the encoder's start)
DEFAULT_LR = 0.1


@dataclass(frozen=True)
class InversionResult:
    """What an inversion produced. Tensors are on the CPU; images are [1, 3, H, W] in [-1, 1].

    Projection fields (``mode``, ``resolution``, ``lr``, ``kept_start``, ``final_loss``) are None when no
    optimisation ran (``steps=0`` or cancelled before the first step). Photo fields (``photo``,
    ``photo_sha256``, ``alignment``, ``face_index``) are set by :func:`invert_photo` only; ``alignment`` is
    ``{"quad", "method", "source_size", "output_size"}`` or None for an already aligned input, and
    ``face_index`` (0 = largest) is None unless a detected face was used.
    """

    w_plus: torch.Tensor  # [num_ws, w_dim] float32
    reconstruction: torch.Tensor  # [1, 3, size, size] at the generator's size
    target: torch.Tensor  # the aligned crop as the generator's size [1, 3, size, size]
    encoder: str = "none"  # encoder name, "none" for a w_avg start
    encoder_kind: str = "none"
    notes: tuple[str, ...] = ()
    steps: int = 0  # optimisation steps done
    cancelled: bool = False  # the cancel token stopped the optimisation: w_plus is the best so far
    loss: str = ""  # the optimisation loss's name ("" without optimisation)
    psnr: float = 0.0  # reconstruction vs target, dB
    ssim: float = 0.0
    seconds: float = 0.0  # whole call
    encoder_seconds: float = 0.0
    mode: str | None = None
    resolution: int | None = None
    lr: float | None = None
    kept_start: bool | None = None
    final_loss: float | None = None
    noise: list[torch.Tensor] | None = field(default=None, repr=False)  # optimised noise maps (mode "noise")
    photo: Path | None = None
    photo_sha256: str = ""
    alignment: dict | None = None
    face_index: int | None = None
    aligned_input: bool = False


def image_to_tensor(image: Image.Image, size: int) -> torch.Tensor:
    """PIL RGB -> [1, 3, size, size] in [-1, 1] (Lanczos resize when needed)."""
    img = image if image.mode == "RGB" else image.convert("RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.LANCZOS)
    arr = np.asarray(img, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).contiguous()


def _unpack(model: LoadedGenerator | Generator) -> tuple[Generator, str, Path | None, str]:
    if isinstance(model, LoadedGenerator):
        return model.generator, model.sha256, model.path, model.name
    return model, "", None, "the model"


def resolve_encoder(encoder, gen: Generator, sha: str, path: Path | None,
                    name: str) -> tuple[LatentEncoder | None, list[str]]:
    """``None``: the shipped/side-by-side encoder for this model if any; ``False``: none; a path; an encoder."""
    if encoder is False:
        return None, []
    if encoder is None:
        found = find_default_encoder(gen, sha, path)
        if found is None:
            return None, []
        encoder = found
    if isinstance(encoder, (str, os.PathLike)):
        encoder = load_encoder(encoder)
    if not isinstance(encoder, LatentEncoder):
        raise TypeError(f"encoder must be a path, a LatentEncoder, None or False, not {type(encoder).__name__}")
    notes = check_encoder_fits(encoder, gen, sha, name)
    return encoder, notes


def default_resolution(gen: Generator) -> int:
    """Optimise at full size up to 256 px; above that at 256 on CPU (early exit), full size on GPU."""
    if gen.w_avg.device.type == "cuda" or gen.config.size <= 256:
        return gen.config.size
    return 256


@contextmanager
def small_model_threads(gen: Generator):
    """One intra-op thread for small models on a CPU, restored afterwards.

    Batch-1 optimisation of a <= 128 px generator is made of tiny ops: extra threads buy nothing, and on
    a busy 2-core machine spinning OpenMP threads made the demo inversion 20x slower (70 s vs 3.4 s).
    """
    if gen.w_avg.device.type != "cpu" or gen.config.size > 128:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def invert_image(image: Image.Image | torch.Tensor, loaded_generator: LoadedGenerator | Generator,
                 encoder=None, steps: int = DEFAULT_STEPS, *, mode: str = "w+", lr: float | None = None,
                 resolution: int | None = None, loss_fn: torch.nn.Module | None = None,
                 vgg16: str | os.PathLike | None = None, progress: ProgressFn | None = None, cancel=None,
                 preview_every: int = 0, device: str | torch.device | None = None) -> InversionResult:
    """Invert an aligned face crop (PIL, or [1, 3, H, W] in [-1, 1]) into the generator's W+."""
    gen = _unpack(loaded_generator)[0]
    if device is not None:
        gen.to(device)
    with small_model_threads(gen):
        return _invert_image(image, loaded_generator, encoder, steps, mode, lr, resolution, loss_fn, vgg16,
                             progress, cancel, preview_every)


def _invert_image(image, loaded_generator, encoder, steps, mode, lr, resolution, loss_fn, vgg16, progress,
                  cancel, preview_every) -> InversionResult:
    gen, sha, path, name = _unpack(loaded_generator)
    dev = gen.w_avg.device
    t0 = time.perf_counter()
    size = gen.config.size
    if torch.is_tensor(image) and (image.ndim != 4 or image.shape[:2] != (1, 3)):
        raise UserError(f"image tensor must be [1, 3, H, W], got {list(image.shape)}")
    target = image if torch.is_tensor(image) else image_to_tensor(image, size)
    target = target.to(dev, torch.float32)
    if target.shape[-2:] != (size, size):
        target = torch.nn.functional.interpolate(target, size=(size, size), mode="bilinear", antialias=True)
    enc, notes = resolve_encoder(encoder, gen, sha, path, name)
    if enc is not None and isinstance(encoder, (str, os.PathLike, type(None))):
        enc = enc.to(dev)  # loaded here, so ours to place; a caller's encoder computes where it is
    with torch.no_grad():
        if enc is None:
            w_plus = gen.w_avg.expand(gen.num_ws, -1).clone()
        elif torch.is_tensor(image):  # resized once, from the given pixels, to the encoder's input
            w_plus = enc.encode(image)[0].to(dev)
        else:  # the reference transform on the crop's own pixels (not on the generator-size target)
            w_plus = enc.encode_image(image)[0].to(dev)
    info: dict = {"encoder": getattr(enc, "name", "none") if enc else "none",
                  "encoder_kind": enc.kind if enc else "none", "notes": tuple(notes),
                  "encoder_seconds": round(time.perf_counter() - t0, 3)}
    steps_done, cancelled, loss_name = 0, False, ""
    if steps > 0 and not is_cancelled(cancel):
        loss_fn = loss_fn or default_loss(getattr(loaded_generator, "discriminator", None), vgg16)
        loss_name = getattr(loss_fn, "name", type(loss_fn).__name__)
        settings = ProjectionSettings(steps=steps, mode=mode, resolution=resolution or default_resolution(gen),
                                      lr=lr or DEFAULT_LR,
                                      preview_every=preview_every)
        if hasattr(loss_fn, "to"):
            loss_fn = loss_fn.to(dev)
        result = project(gen, target, w_plus, settings, loss_fn, progress, cancel)
        w_plus, steps_done, cancelled = result.w_plus, result.steps_done, result.cancelled
        info.update(mode=mode, resolution=settings.resolution, lr=settings.lr, kept_start=result.kept_start,
                    final_loss=round(result.losses[-1], 5) if result.losses else None)
        if result.noise is not None:
            info["noise"] = [n.cpu() for n in result.noise]
    with torch.no_grad():
        noise = info.get("noise")
        rec = gen.synthesize(gen.styles(w_plus.unsqueeze(0)), "const", noise=[n.to(dev) for n in noise] if noise
                             else None, impl="fast")
    return InversionResult(w_plus.detach().float().cpu(), rec.detach().cpu(), target.detach().cpu(),
                           steps=steps_done, cancelled=cancelled, loss=loss_name, psnr=round(psnr(rec, target), 2),
                           ssim=round(ssim(rec, target), 4), seconds=round(time.perf_counter() - t0, 3), **info)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _align(path: Path, photo: Image.Image, size: int, face_index: int, centre_crop: bool, fallback: bool):
    from engine.alignment import NoFaceFound, align_centre_crop, align_face, detect_faces

    if centre_crop:
        return align_centre_crop(photo, size)
    faces = detect_faces(photo)
    if not faces:
        if fallback:
            return align_centre_crop(photo, size)
        raise NoFaceFound(f"{path}: no face found; pass centre_crop (CLI: --centre-crop) to use a centred square")
    if not 0 <= face_index < len(faces):
        raise UserError(f"{path}: face {face_index + 1} does not exist, {len(faces)} face(s) found")
    return align_face(photo, faces[face_index], size)


def invert_photo(photo_path: str | os.PathLike, loaded_generator: LoadedGenerator | Generator, encoder=None,
                 steps: int = DEFAULT_STEPS, aligned: bool = False, *, face_index: int = 0,
                 centre_crop: bool = False, centre_crop_fallback: bool = False,
                 device: str | torch.device | None = None, **kwargs) -> InversionResult:
    """Load a photo, align its largest face (or take it as an aligned crop), and invert it.

    ``aligned=True``: the file already is an aligned face crop; it is only centre-squared. The encoder sees
    the crop resized once from its own pixels to its input size (e4e: PIL bilinear, as the reference
    transform); the projector's target is the crop resized to the generator's size.
    ``face_index``: which face, 0 = largest. ``centre_crop``: use the centred square, no detection;
    ``centre_crop_fallback``: use it only when no face is found (otherwise :class:`NoFaceFound`).
    Extra keyword arguments go to :func:`invert_image`.
    """
    from engine.alignment import align_centre_crop
    from engine.photo import load_photo

    path = Path(photo_path)
    photo = load_photo(path)
    gen, sha, model_path, name = _unpack(loaded_generator)
    enc, _ = resolve_encoder(encoder, gen, sha, model_path, name)
    if enc is not None and isinstance(encoder, (str, os.PathLike, type(None))):
        enc = enc.to(gen.w_avg.device)
    encoder = enc if enc is not None else False
    alignment = None
    if aligned:  # its own pixels, only centre-squared: each consumer resizes once from them
        crop = align_centre_crop(photo, None).image
    else:  # aligned large enough for both the generator and the encoder
        size = max(gen.config.size, enc.input_size if enc is not None else 0)
        face = _align(path, photo, size, face_index, centre_crop, centre_crop_fallback)
        crop = face.image
        alignment = {"quad": np.asarray(face.quad, dtype=float).round(3).tolist(), "method": face.method,
                     "source_size": list(face.source_size), "output_size": face.output_size}
    result = invert_image(crop, loaded_generator, encoder, steps, device=device, **kwargs)
    return replace(result, photo=path, photo_sha256=_sha256(path), alignment=alignment,
                   face_index=face_index if alignment and alignment["method"] == "ffhq" else None,
                   aligned_input=aligned)
