"""The real stages of a batch export, built on :mod:`engine.pipeline.photo_edit`:

* ``decode_align`` (CPU workers): :func:`~engine.pipeline.photo_edit.prepare_photo` (load, EXIF, colour,
  detect, align) and the encoder's input tensor;
* ``invert_render`` (the device thread, in batches): the encoder for the whole batch when no optimisation
  follows (else :func:`~engine.pipeline.photo_edit.invert_prepared` per photo), then the recipe's edit with
  :func:`~engine.pipeline.edit.render_edit` (one batch on CUDA; one photo at a time on CPU, where a batch
  is no faster and per-photo renders reproduce ``apply`` bit for bit);
* ``encode_write`` (writer threads): paste-back, the effective recipe, PNG/JPEG/WebP bytes, manifest
  ``pending``, atomic write, manifest ``done``.

The recipe's directions, parameter deltas, layer masks, strength and style mixes are applied to each photo
as ``styledomain apply --recipe R PHOTO`` applies them, and each PNG carries the effective recipe.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch
from PIL import Image

from engine.pipeline.edit import output_size, render_edit, render_edit_image
from engine.pipeline.images import to_pil
from engine.pipeline.photo_edit import (
    PreparedPhoto,
    alignment_size,
    effective_recipe,
    finish_photo,
    invert_prepared,
    prepare_photo,
    source_record,
)
from engine.pipeline.recipe_render import ResolvedRecipe, render_kwargs, resolved_edit

from .inputs import InputFile
from .manifest import Entry, Manifest, sha256_bytes
from .writers import encode_image, write_atomic


@dataclass(frozen=True)
class BatchSettings:
    """How each photo becomes an output file (everything but the recipe and the names)."""

    fmt: str = "png"
    quality: int | None = None
    paste_back: bool = False
    strip_metadata: bool = False
    steps: int = 0
    aligned: bool = False
    centre_crop: bool = False
    face_index: int = 0


@dataclass
class Job:
    """One input with its planned output (``output`` relative to OUT)."""

    index: int
    input: InputFile
    key: str
    size: int
    mtime: float
    output: str


@dataclass
class Prepared:
    """A prepared photo plus the encoder's input ([1, 3, S, S], made on the worker), when there is an encoder."""

    photo: PreparedPhoto
    encoder_input: torch.Tensor | None = None


@dataclass
class Rendered:
    prepared: PreparedPhoto
    edited: Image.Image
    w_plus: torch.Tensor
    encoder: str
    steps: int


class _LockedDetector:
    """The shared dlib detector behind a lock: one dlib detector is not safe to run from two threads."""

    _lock = threading.Lock()

    def __init__(self) -> None:
        from engine.alignment import default_detector

        self._inner = default_detector()

    def detect(self, image: Image.Image):
        with self._lock:
            return self._inner.detect(image)


class PhotoStages:
    """``prepare`` / ``process`` / ``finish`` for :func:`engine.pipeline.batch.pipeline.run_pipeline`."""

    names = ("decode_align", "invert_render", "encode_write")

    def __init__(self, res: ResolvedRecipe, settings: BatchSettings, out_dir: Path, manifest: Manifest | None,
                 recipe_sha256: str, encoder, encoder_id: str = "none", cancel=None) -> None:
        self.res = res
        self.loaded = res.loaded
        self.settings = settings
        self.out_dir = Path(out_dir)
        self.manifest = manifest
        self.recipe_sha256 = recipe_sha256
        self.encoder = encoder  # a LatentEncoder on the model's device, or None (w_avg start)
        self.cancel = cancel
        gen = res.loaded.generator
        self.align_size = alignment_size(gen, encoder)
        self.edit = resolved_edit(res)
        self.render = render_kwargs(res.recipe)
        self.out_size = output_size(gen, self.render["size"])
        self.settings_sha256 = settings_fingerprint(settings, res.loaded.sha256, encoder_id)
        self._detector = None if (settings.aligned or settings.centre_crop) else _LockedDetector()
        self._batch_encode = settings.steps == 0 and encoder is not None
        dev = gen.w_avg.device
        self._batch_render = dev.type == "cuda" and self.render["noise_mode"] != "random"

    # ---- CPU workers --------------------------------------------------------------------------------
    def prepare(self, job: Job) -> Prepared:
        """Load and align; raises FileProblem / UserError (NoFaceFound, ...) for a bad photo."""
        from engine.inversion.base import pil_to_encoder_input

        s = self.settings
        photo = prepare_photo(job.input.path, self.align_size, aligned=s.aligned, face_index=s.face_index,
                              centre_crop=s.centre_crop, detector=self._detector, cancel=self.cancel)
        x = pil_to_encoder_input(photo.crop, self.encoder.input_size) if self._batch_encode else None
        return Prepared(photo, x)

    # ---- device thread ------------------------------------------------------------------------------
    def process(self, items: list[Prepared]) -> list[Rendered]:
        """Invert and render a batch (see the module docstring)."""
        s = self.settings
        gen = self.loaded.generator
        if self._batch_encode:
            dev = gen.w_avg.device
            with torch.no_grad():
                ws = self.encoder.predict(torch.cat([p.encoder_input for p in items]).to(dev)).float().cpu()
            w_list = list(ws)
            name = getattr(self.encoder, "name", "encoder")
        elif s.steps == 0 and self.encoder is None:  # nothing to fit: every photo starts (and stays) at w_avg
            w_list = [gen.w_avg.detach().float().cpu().expand(gen.num_ws, -1).clone() for _ in items]
            name = "none"
        else:
            w_list = []
            name = "none"
            for p in items:
                r = invert_prepared(p.photo, self.loaded, encoder=self.encoder if self.encoder is not None else False,
                                    steps=s.steps, cancel=self.cancel)
                w_list.append(r.w_plus)
                name = r.encoder
        if self._batch_render and len(items) > 1:
            imgs = render_edit(gen, torch.stack(w_list), self.edit, cancel=self.cancel, **self.render)
            edited = [to_pil(img.unsqueeze(0), self.out_size) for img in imgs]
        else:
            edited = [render_edit_image(gen, w, self.edit, cancel=self.cancel, **self.render) for w in w_list]
        return [Rendered(p.photo, e, w, name, s.steps) for p, e, w in zip(items, edited, w_list, strict=True)]

    # ---- writer threads -----------------------------------------------------------------------------
    def finish(self, job: Job, r: Rendered) -> Path:
        """Paste back, encode, record pending, write atomically, record done; returns the output path."""
        s = self.settings
        paste = s.paste_back and r.prepared.face is not None
        img = finish_photo(r.prepared, r.edited, paste_back=paste)
        target = self.out_dir / job.output
        text = None
        if s.fmt == "png" and not s.strip_metadata:
            source = source_record(r.prepared, SimpleNamespace(encoder=r.encoder, steps=r.steps))
            text = effective_recipe(self.loaded, self.edit, r.w_plus, relative_to=target, source=source,
                                    paste_back=paste, **self.render).dumps()
        data = encode_image(img, s.fmt, s.quality, text, strip=s.strip_metadata)
        entry = Entry(job.key, job.size, job.mtime, self.recipe_sha256, self.settings_sha256, job.output,
                      sha256_bytes(data), round(time.time(), 3))
        if self.manifest is not None:
            self.manifest.pending(entry)
        write_atomic(target, data)
        if self.manifest is not None:
            self.manifest.done(entry)
        return target


def settings_fingerprint(settings: BatchSettings, model_sha256: str, encoder_id: str) -> str:
    """sha256 over what changes an output besides the recipe: settings, model and encoder identity."""
    doc = {"settings": vars(settings), "model": model_sha256, "encoder": encoder_id}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
