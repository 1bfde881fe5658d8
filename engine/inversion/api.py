"""Photo / image -> W+ for a generator: encoder first (if any), then optional optimisation.

``invert_photo(photo_path, loaded_generator, encoder=None, steps=..., aligned=False)`` and
``invert_image(image, loaded_generator, ...)`` return an :class:`InversionResult` (a frozen dataclass:
``w_plus`` [num_ws, w_dim] on the CPU, reconstruction, metrics, encoder and projection settings, and for a
photo its path, sha256 and alignment record).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.checkpoints import LoadedGenerator
from engine.errors import UserError
from engine.generator import Generator
from engine.jobs import CancelToken, Progress, ProgressFn, check_cancel, is_cancelled, report

from .base import LatentEncoder
from .encoders import check_encoder_fits, find_default_encoder, load_encoder
from .losses import default_loss
from .metrics import psnr, ssim
from .projector import ProjectionSettings, project

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


def _same_device(a: torch.device, b: str | torch.device) -> bool:
    b = torch.device(b)
    return a.type == b.type and (b.index is None or a.index == b.index)


def invert_image(image: Image.Image | torch.Tensor, loaded_generator: LoadedGenerator | Generator,
                 encoder=None, steps: int = DEFAULT_STEPS, *, mode: str = "w+", lr: float | None = None,
                 resolution: int | None = None, loss_fn: torch.nn.Module | None = None,
                 vgg16: str | os.PathLike | None = None, progress: ProgressFn | None = None,
                 cancel: CancelToken | None = None, preview_every: int = 0,
                 device: str | torch.device | None = None) -> InversionResult:
    """Invert an aligned face crop (PIL, or [1, 3, H, W] in [-1, 1]) into the generator's W+.

    Computes where the caller's generator is; the model is never moved (``device``, if given, must be
    where it already is). A PIL crop reaches the encoder resized once from its own pixels (the e4e
    reference transform) and the projector at the generator's size.

    Progress (job ``"invert"``): ``step``/``total`` count optimisation steps, ``values`` carries the
    loss, ``preview`` a reconstruction every ``preview_every`` steps. Cancel: before the encoder it
    raises :class:`engine.jobs.Cancelled`; during the optimisation the best latent so far comes back
    with ``cancelled=True``.
    """
    gen, sha, path, name = _unpack(loaded_generator)
    dev = gen.w_avg.device
    if device is not None and not _same_device(dev, device):
        raise ValueError(f"the generator is on {dev}, not {device}: move it before calling (it is never moved here)")
    check_cancel(cancel, "invert")
    t0 = time.perf_counter()
    size = gen.config.size
    if torch.is_tensor(image) and (image.ndim != 4 or image.shape[:2] != (1, 3)):
        raise UserError(f"image tensor must be [1, 3, H, W], got {list(image.shape)}")
    target = image if torch.is_tensor(image) else image_to_tensor(image, size)
    target = target.to(dev, torch.float32)
    if target.shape[-2:] != (size, size):
        target = torch.nn.functional.interpolate(target, size=(size, size), mode="bilinear", antialias=True)
    total = steps if steps > 0 else 1  # steps=0: one unit, the encoder
    report(progress, "invert", 0, total, "encoding")
    enc, notes = resolve_encoder(encoder, gen, sha, path, name)
    if enc is not None and not isinstance(encoder, LatentEncoder):
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
    steps_done, cancelled, loss_name = 0, is_cancelled(cancel), ""
    if steps > 0 and not cancelled:
        if loss_fn is None:
            loss_fn = default_loss(getattr(loaded_generator, "discriminator", None), vgg16).to(dev)
        loss_name = getattr(loss_fn, "name", type(loss_fn).__name__)
        settings = ProjectionSettings(steps=steps, mode=mode, resolution=resolution or default_resolution(gen),
                                      lr=lr or DEFAULT_LR, preview_every=preview_every)
        relabel = None if progress is None else (
            lambda p: progress(Progress("invert", p.step, p.total, p.message, p.values, p.preview)))
        result = project(gen, target, w_plus, settings, loss_fn, relabel, cancel)
        w_plus, steps_done, cancelled = result.w_plus, result.steps_done, result.cancelled
        info.update(mode=mode, resolution=settings.resolution, lr=settings.lr, kept_start=result.kept_start,
                    final_loss=round(result.losses[-1], 5) if result.losses else None)
        if result.noise is not None:
            info["noise"] = [n.cpu() for n in result.noise]
    with torch.no_grad():
        noise = info.get("noise")
        rec = gen.synthesize(gen.styles(w_plus.unsqueeze(0)), "const", noise=[n.to(dev) for n in noise] if noise
                             else None, impl="fast")
    out = InversionResult(w_plus.detach().float().cpu(), rec.detach().cpu(), target.detach().cpu(),
                          steps=steps_done, cancelled=cancelled, loss=loss_name, psnr=round(psnr(rec, target), 2),
                          ssim=round(ssim(rec, target), 4), seconds=round(time.perf_counter() - t0, 3), **info)
    report(progress, "invert", steps_done if steps > 0 else int(not cancelled), total,
           "cancelled" if cancelled else "done",
           {"psnr": out.psnr, "ssim": out.ssim})
    return out


def invert_photo(photo_path: str | os.PathLike, loaded_generator: LoadedGenerator | Generator, encoder=None,
                 steps: int = DEFAULT_STEPS, aligned: bool = False, *, face_index: int = 0,
                 centre_crop: bool = False, centre_crop_fallback: bool = False,
                 device: str | torch.device | None = None, progress: ProgressFn | None = None,
                 cancel: CancelToken | None = None, **kwargs) -> InversionResult:
    """Load a photo, align its largest face (or take it as an aligned crop), and invert it:
    :func:`engine.pipeline.photo_edit.prepare_photo`, then :func:`invert_image`.

    Progress (job ``"invert"``): a report per stage (load, align, encode), then the optimisation's steps.
    A cancel while loading or aligning raises :class:`engine.jobs.Cancelled`; during the optimisation the
    result so far comes back with ``cancelled=True`` (see :func:`invert_image`).

    ``aligned=True``: the file already is an aligned face crop; it is only centre-squared. The encoder sees
    the crop resized once from its own pixels to its input size (e4e: PIL bilinear, as the reference
    transform); the projector's target is the crop resized to the generator's size.
    ``face_index``: which face, 0 = largest. ``centre_crop``: use the centred square, no detection;
    ``centre_crop_fallback``: use it only when no face is found (otherwise :class:`NoFaceFound`).
    Extra keyword arguments go to :func:`invert_image`.
    """
    # imported late: engine.pipeline imports this package
    from engine.pipeline.photo_edit import alignment_size, prepare_photo, resolve_photo_encoder

    path = Path(photo_path)
    check_cancel(cancel, "invert")
    steps_total = steps if steps > 0 else 1
    report(progress, "invert", 0, steps_total, f"loading {path.name}")
    enc = resolve_photo_encoder(loaded_generator, encoder)
    gen = loaded_generator.generator if isinstance(loaded_generator, LoadedGenerator) else loaded_generator
    stage = None if progress is None else (  # the preparation's stages, as this job's step 0
        lambda p: progress(Progress("invert", 0, steps_total, p.message)))
    prepared = prepare_photo(path, alignment_size(gen, enc), aligned=aligned, face_index=face_index,
                             centre_crop=centre_crop and not aligned, centre_crop_fallback=centre_crop_fallback,
                             progress=stage, cancel=cancel)
    result = invert_image(prepared.crop, loaded_generator, enc if enc is not None else False, steps, device=device,
                          progress=progress, cancel=cancel, **kwargs)
    return replace(result, photo=path, photo_sha256=prepared.sha256, alignment=prepared.alignment,
                   face_index=prepared.face_index, aligned_input=prepared.aligned_input)
