"""The real stages of a batch export: photo -> aligned crop (CPU) -> W+ -> edited face (device) ->
paste-back, encode, atomic write, manifest (writer threads).

The recipe's directions, parameter deltas, layer masks, strength and style mixes are applied to each
photo's inversion exactly as ``styledomain apply --recipe R PHOTO`` applies them, and each PNG carries
the effective recipe (the photo's W+ inline, its sha256 and alignment) as ``apply`` writes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.checkpoints.fileinfo import sha256_of
from engine.errors import UserError
from engine.pipeline.recipe import GeneratorRef, LatentRef, SourcePhoto
from engine.pipeline.recipe_render import ResolvedRecipe, render_resolved
from engine.stylespace import layout_fingerprint, style_layout

from .inputs import InputFile
from .manifest import Entry, Manifest, sha256_bytes
from .writers import encode_image, write_atomic

_DETECT_LOCK = threading.Lock()


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
    feather: float = 0.1


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
    """A photo ready for the device: its aligned crop, the photo itself when paste-back needs it."""

    crop: Image.Image
    photo: Image.Image | None
    alignment: dict | None
    face_index: int | None
    photo_sha256: str


@dataclass
class Rendered:
    prepared: Prepared
    edited: Image.Image
    w_plus: torch.Tensor
    encoder: str
    steps: int


def _hint(target: Path, folder: Path) -> str:
    try:
        return os.path.relpath(Path(target).resolve(), folder.resolve())
    except ValueError:
        return str(Path(target).resolve())


class PhotoStages:
    """``prepare`` / ``process`` / ``finish`` for :func:`engine.pipeline.batch.pipeline.run_pipeline`."""

    names = ("decode_align", "invert_render", "encode_write")

    def __init__(self, res: ResolvedRecipe, settings: BatchSettings, out_dir: Path, manifest: Manifest | None,
                 recipe_sha256: str, encoder, encoder_id: str = "none", cancel=None) -> None:
        self.res = res
        self.settings = settings
        self.out_dir = Path(out_dir)
        self.manifest = manifest
        self.recipe_sha256 = recipe_sha256
        self.encoder = encoder  # a LatentEncoder or None (w_avg start)
        self.cancel = cancel
        gen = res.loaded.generator
        self.size = gen.config.size
        self.settings_sha256 = settings_fingerprint(settings, res.loaded.sha256, encoder_id)
        self._recipe_cache: dict[str, object] = {}

    # ---- CPU workers --------------------------------------------------------------------------------
    def prepare(self, job: Job) -> Prepared:
        """Load (EXIF, colour), detect and align; raises FileProblem / UserError for a bad photo."""
        from engine.alignment import align_centre_crop, align_face, detect_faces
        from engine.photo import load_photo

        s = self.settings
        path = job.input.path
        photo = load_photo(path)
        alignment, face_index = None, None
        if s.aligned:
            side = min(photo.size)
            x0, y0 = (photo.width - side) // 2, (photo.height - side) // 2
            crop = photo.crop((x0, y0, x0 + side, y0 + side)) if photo.width != photo.height else photo
        else:
            if s.centre_crop:
                face = align_centre_crop(photo, self.size)
            else:
                with _DETECT_LOCK:  # one shared dlib detector: not safe to run from two threads at once
                    faces = detect_faces(photo)
                if not faces:
                    raise UserError(f"{path}: no face found")
                if s.face_index >= len(faces):
                    raise UserError(f"{path}: face {s.face_index + 1} does not exist, {len(faces)} face(s) found")
                face = align_face(photo, faces[s.face_index], self.size)
                face_index = s.face_index
            crop = face.image
            alignment = {"quad": np.asarray(face.quad, dtype=float).round(3).tolist(), "method": face.method,
                         "source_size": list(face.source_size), "output_size": face.output_size}
        keep = photo if (s.paste_back and alignment is not None) else None
        return Prepared(crop, keep, alignment, face_index, sha256_of(path))

    # ---- device thread ------------------------------------------------------------------------------
    def process(self, items: list[Prepared]) -> list[Rendered | Exception]:
        """Invert (encoder in one batch when no optimisation follows) and render the edit, per item."""
        from engine.inversion import image_to_tensor, invert_image

        s = self.settings
        gen = self.res.loaded.generator
        out: list[Rendered | Exception] = []
        if s.steps == 0 and self.encoder is not None and len(items) > 1:
            dev = gen.w_avg.device
            with torch.no_grad():
                batch = torch.cat([image_to_tensor(p.crop, self.size) for p in items]).to(dev)
                ws = self.encoder.to(dev).encode(batch).float().cpu()
            w_list = list(ws)
        else:
            w_list = []
            for p in items:
                r = invert_image(p.crop, self.res.loaded, self.encoder if self.encoder is not None else False,
                                 s.steps, cancel=self.cancel)
                w_list.append(r.w_plus)
        name = getattr(self.encoder, "name", "none") if self.encoder is not None else "none"
        for p, w in zip(items, w_list, strict=True):
            out.append(Rendered(p, render_resolved(self.res, w), w, name, s.steps))
        return out

    # ---- writer threads -----------------------------------------------------------------------------
    def finish(self, job: Job, r: Rendered) -> Path:
        """Paste back, encode, record pending, write atomically, record done; returns the output path."""
        s = self.settings
        img = r.edited
        p = r.prepared
        if s.paste_back and p.photo is not None and p.alignment is not None:
            from engine.alignment import AlignedFace, paste_back

            face = AlignedFace(img, np.asarray(p.alignment["quad"], dtype=np.float64),
                               tuple(p.alignment["source_size"]), p.alignment["method"])
            img = paste_back(p.photo, img, face, s.feather)
        target = self.out_dir / job.output
        text = None if s.strip_metadata or s.fmt != "png" else self.effective_recipe(r, target.parent).dumps()
        data = encode_image(img, s.fmt, s.quality, text, strip=s.strip_metadata)
        entry = Entry(job.key, job.size, job.mtime, self.recipe_sha256, self.settings_sha256, job.output,
                      sha256_bytes(data), round(time.time(), 3))
        if self.manifest is not None:
            self.manifest.pending(entry)
        write_atomic(target, data)
        if self.manifest is not None:
            self.manifest.done(entry)
        return target

    def effective_recipe(self, r: Rendered, folder: Path):
        """The recipe as applied to this photo (W+ inline, photo record), file hints relative to ``folder``."""
        base = self._recipe_cache.get(str(folder))
        if base is None:
            res, loaded = self.res, self.res.loaded
            base = replace(
                res.recipe,
                generator=GeneratorRef(loaded.name, loaded.sha256,
                                       layout_fingerprint(style_layout(loaded.generator.config)),
                                       _hint(loaded.path, folder)),
                directions=[replace(ref, file=_hint(p, folder)) for ref, _, p in res.directions],
                param_deltas=[replace(ref, file=_hint(p, folder)) for ref, _, p in res.deltas],
            )
            self._recipe_cache[str(folder)] = base
        p = r.prepared
        s = self.settings
        inversion = {"encoder": r.encoder, "steps": int(r.steps), "aligned": bool(s.aligned),
                     "centre_crop": bool(s.centre_crop)}
        source = SourcePhoto(p.photo_sha256, p.alignment, p.face_index, inversion)
        return replace(base, latent=LatentRef("inline", w_plus=r.w_plus.tolist()), source=source,
                       paste_back=bool(s.paste_back and p.alignment is not None))


def settings_fingerprint(settings: BatchSettings, model_sha256: str, encoder_id: str) -> str:
    """sha256 over what changes an output besides the recipe: settings, model and encoder identity."""
    doc = {"settings": vars(settings), "model": model_sha256, "encoder": encoder_id}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
