"""Photo -> edited image, in stages: prepare (CPU) -> invert (device) -> render the edit (device) -> finish (CPU).

:func:`photo_edit` runs every stage for one photo (``styledomain apply``, the studio). The batch exporter
calls the stages itself so that they overlap on different threads:

* :func:`prepare_photo` - load (EXIF orientation, colour), detect and align the face; CPU only, thread-safe;
* :func:`invert_prepared` - the aligned crop -> W+ (encoder, then optional optimisation) on the model's device;
* :func:`engine.pipeline.edit.render_edit_image` - W+ + :class:`~engine.pipeline.edit.Edit` -> edited face;
* :func:`finish_photo` - paste the edited face back into the photo (or keep the aligned face); CPU only;
* :func:`effective_recipe` - the recipe that reproduces the export (latent inline, source photo record).

Settings shared by a whole run (the encoder, the alignment size) are worked out once with
:func:`resolve_photo_encoder` and :func:`alignment_size`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.alignment import (
    AlignedFace,
    LandmarkDetector,
    NoFaceFound,
    align_centre_crop,
    align_face,
    detect_faces,
)
from engine.alignment import paste_back as paste_face_back
from engine.checkpoints import LoadedGenerator
from engine.errors import UserError
from engine.fileio import sha256_of
from engine.generator import Generator
from engine.inversion import DEFAULT_STEPS, InversionResult, LatentEncoder, invert_image
from engine.inversion.api import resolve_encoder
from engine.jobs import Cancelled, CancelToken, Progress, ProgressFn, check_cancel, report
from engine.photo import load_photo

from .edit import Edit, output_size, render_edit_image
from .recipe import LatentRef, Recipe, SourcePhoto
from .recipe_render import recipe_for_edit

__all__ = [
    "DEFAULT_STEPS", "NOTHING_TO_PASTE", "PhotoEditResult", "PreparedPhoto", "alignment_size", "effective_recipe",
    "finish_photo", "invert_prepared", "photo_edit", "prepare_photo", "resolve_photo_encoder", "source_record",
]

#: note given when paste-back was asked for an input that already was an aligned crop
NOTHING_TO_PASTE = "the photo was taken as an aligned crop, so there is nothing to paste back into"


@dataclass(frozen=True)
class PreparedPhoto:
    """A photo ready for inversion (the output of :func:`prepare_photo`).

    ``photo``: the whole photo, RGB, oriented as the camera meant. ``crop``: the aligned square face crop at
    its own pixels (the encoder and the projector each resize it once themselves). ``face``: where the crop
    came from in the photo (FFHQ alignment or the centred square), None when the file was already an aligned
    crop (``aligned_input``). ``face_index``: the detected face used (0 = largest), None without detection.
    """

    path: Path
    photo: Image.Image = field(repr=False)
    crop: Image.Image = field(repr=False)
    face: AlignedFace | None = field(repr=False)
    sha256: str
    face_index: int | None = None
    aligned_input: bool = False
    centre_crop: bool = False

    @property
    def alignment(self) -> dict | None:
        """The JSON-ready alignment record ``{quad, method, source_size, output_size}`` (None: aligned input)."""
        if self.face is None:
            return None
        return {"quad": np.asarray(self.face.quad, dtype=float).round(3).tolist(), "method": self.face.method,
                "source_size": [int(v) for v in self.face.source_size], "output_size": int(self.face.output_size)}


@dataclass(frozen=True)
class PhotoEditResult:
    """What :func:`photo_edit` produced.

    ``image``: the export (the photo with the edited face pasted back, or the edited aligned face);
    ``aligned``: the edited aligned face; ``inversion``: the inversion's result (its ``w_plus`` is the
    latent); ``recipe``: the effective recipe (latent inline, source photo record); ``notes``: remarks
    worth showing to the user.
    """

    image: Image.Image = field(repr=False)
    aligned: Image.Image = field(repr=False)
    inversion: InversionResult = field(repr=False)
    recipe: Recipe = field(repr=False)
    prepared: PreparedPhoto
    notes: tuple[str, ...] = ()


def resolve_photo_encoder(loaded: LoadedGenerator | Generator, encoder=None) -> LatentEncoder | None:
    """The encoder to use for ``loaded``: ``None`` the model's shipped or side-by-side encoder (if any),
    ``False`` none (optimisation from ``w_avg``), a path, or a :class:`LatentEncoder` (returned as is).

    An encoder loaded here from a file is placed on the generator's device; a caller's encoder is not moved.
    Raises :class:`UserError` when the encoder cannot drive the generator.
    """
    gen = loaded.generator if isinstance(loaded, LoadedGenerator) else loaded
    sha, path, name = (loaded.sha256, loaded.path, loaded.name) if isinstance(loaded, LoadedGenerator) else (
        "", None, "the model")
    enc, _ = resolve_encoder(encoder, gen, sha, path, name)
    if enc is not None and not isinstance(encoder, LatentEncoder):
        enc = enc.to(gen.w_avg.device)
    return enc


def alignment_size(generator: Generator, encoder: LatentEncoder | None = None) -> int:
    """Side of the aligned crop: large enough for both the generator and the encoder's input."""
    return max(generator.config.size, encoder.input_size if encoder is not None else 0)


def prepare_photo(path: str | os.PathLike, size: int, *, aligned: bool = False, face_index: int = 0,
                  centre_crop: bool = False, centre_crop_fallback: bool = False,
                  detector: LandmarkDetector | None = None, progress: ProgressFn | None = None,
                  cancel: CancelToken | None = None) -> PreparedPhoto:
    """Load a photo and align a face in it; CPU only (safe to run on worker threads).

    ``size``: side of the FFHQ-aligned crop (see :func:`alignment_size`). ``aligned``: the file already is an
    aligned face crop; it is only centre-squared, at its own pixels. ``face_index``: which detected face,
    0 = largest. ``centre_crop``: the centred square instead of face detection; ``centre_crop_fallback``: use
    it only when no face is found. ``detector``: the landmark detector (default: the shared dlib one).
    Raises :class:`~engine.errors.FileProblem` for an unreadable image,
    :class:`~engine.alignment.NoFaceFound` / :class:`~engine.alignment.FaceTooSmall` /
    :class:`UserError` when no usable face is there, :class:`~engine.jobs.Cancelled` on cancel (checked
    between the stages and inside hashing, detection and alignment).
    Progress: ``job="prepare"``, steps load, detect, align (of 3).
    """
    path = Path(path)
    if face_index < 0:
        raise UserError(f"face index counts from 0 (largest face), got {face_index}")
    if aligned and centre_crop:
        raise UserError("an already aligned crop is not centre-cropped again (aligned and centre_crop exclude "
                        "each other)")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise UserError(f"alignment size must be a positive integer, got {size!r}")
    check_cancel(cancel, "prepare")
    photo = load_photo(path)
    digest = sha256_of(path, cancel=cancel, job="prepare")
    report(progress, "prepare", 1, 3, "loaded")
    check_cancel(cancel, "prepare")
    if aligned:
        crop = align_centre_crop(photo, None).image
        report(progress, "prepare", 3, 3, "aligned input")
        return PreparedPhoto(path, photo, crop, None, digest, None, True, False)
    index: int | None = None
    if centre_crop:
        face = align_centre_crop(photo, size)
    else:
        faces = detect_faces(photo, detector, cancel=cancel)
        report(progress, "prepare", 2, 3, f"{len(faces)} face(s) found")
        check_cancel(cancel, "prepare")
        if not faces:
            if not centre_crop_fallback:
                raise NoFaceFound(f"{path}: no face found; use the centred square crop instead "
                                  "(CLI: --centre-crop)")
            face = align_centre_crop(photo, size)
        elif face_index >= len(faces):
            raise UserError(f"{path}: face {face_index + 1} does not exist, {len(faces)} face(s) found")
        else:
            face = align_face(photo, faces[face_index], size, cancel=cancel)
            index = face_index
    report(progress, "prepare", 3, 3, "aligned")
    return PreparedPhoto(path, photo, face.image, face, digest, index, False, face.method == "centre-crop")


class _InversionProgress:
    """Forward the inversion's reports as :class:`~engine.jobs.Progress` (``job="invert"``, loss in ``values``).

    Accepts both forms while ``engine.inversion`` moves to ``engine.jobs`` (its projector still calls
    ``progress(step, total, loss, preview)``): remove once it reports ``Progress`` itself.
    """

    def __init__(self, progress: ProgressFn) -> None:
        self.progress = progress

    def __call__(self, *args) -> None:
        if len(args) == 1 and isinstance(args[0], Progress):
            self.progress(args[0])
            return
        step, total, loss, preview = (*args, None, None, None, None)[:4]
        report(self.progress, "invert", int(step), total, values={} if loss is None else {"loss": float(loss)},
               preview=preview)


class _InversionCancel:
    """A :class:`~engine.jobs.CancelToken` as both contracts see it (``is_set()`` for the projector's check,
    ``cancelled``/``raise_if_cancelled`` for engine.jobs); remove with :class:`_InversionProgress`."""

    def __init__(self, token: CancelToken) -> None:
        self.token = token

    def is_set(self) -> bool:
        return self.token.cancelled

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def raise_if_cancelled(self, job: str = "") -> None:
        self.token.raise_if_cancelled(job)

    def cancel(self) -> None:
        self.token.cancel()

    def wait(self, timeout: float) -> bool:
        return self.token.wait(timeout)


def invert_prepared(prepared: PreparedPhoto, loaded: LoadedGenerator | Generator, *, encoder=None,
                    steps: int = DEFAULT_STEPS, progress: ProgressFn | None = None,
                    cancel: CancelToken | None = None, **kwargs) -> InversionResult:
    """Invert the aligned crop on the generator's device (``engine.inversion.invert_image``).

    ``encoder`` as :func:`resolve_photo_encoder` (pass the resolved encoder to load it only once per run);
    ``steps``: optimisation steps after the encoder (0 = encoder only). Other keyword arguments (``mode``,
    ``lr``, ``resolution``, ``vgg16``, ...) go to ``invert_image``. The result carries the photo's path,
    sha256, alignment record and face index. Progress: the optimisation's steps as ``job="invert"`` with the
    loss in ``values``. A cancel during the optimisation returns the best latent so
    far with ``cancelled=True`` (as ``invert_image``); a cancel before it starts raises
    :class:`~engine.jobs.Cancelled`.
    """
    check_cancel(cancel, "invert")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise UserError(f"inversion steps must be 0 or more, got {steps!r}")
    result = invert_image(prepared.crop, loaded, encoder, steps, progress=progress and _InversionProgress(progress),
                          cancel=cancel and _InversionCancel(cancel), **kwargs)
    return replace(result, photo=prepared.path, photo_sha256=prepared.sha256, alignment=prepared.alignment,
                   face_index=prepared.face_index, aligned_input=prepared.aligned_input)


def finish_photo(prepared: PreparedPhoto, edited_image: Image.Image, *, paste_back: bool) -> Image.Image:
    """The export: with ``paste_back`` the edited face warped back into the full photo (feathered edge),
    else the edited aligned face as it is. An aligned input has no photo around it: its edited face is
    returned (see :data:`NOTHING_TO_PASTE`). CPU only."""
    if not paste_back or prepared.face is None:
        return edited_image
    return paste_face_back(prepared.photo, edited_image, prepared.face)


def source_record(prepared: PreparedPhoto, inversion: InversionResult) -> SourcePhoto:
    """The recipe's ``source`` entry: photo sha256, alignment record, face index and inversion settings."""
    settings = {"encoder": inversion.encoder, "steps": int(inversion.steps), "aligned": bool(prepared.aligned_input),
                "centre_crop": bool(prepared.centre_crop)}
    return SourcePhoto(prepared.sha256, prepared.alignment, prepared.face_index, settings)


def effective_recipe(loaded: LoadedGenerator, edit: Edit, latent: torch.Tensor | LatentRef, *,
                     relative_to: str | os.PathLike | None = None, source: SourcePhoto | None = None,
                     paste_back: bool = False, size: int | None = None, noise_mode: str = "const",
                     noise_seed: int = 0) -> Recipe:
    """The recipe an export carries: ``latent`` (a W+ tensor goes inline, untruncated ``[num_ws, w_dim]``),
    the model, directions and deltas by sha256 with file hints relative to ``relative_to``'s folder (the
    exported file; None = absolute), the source photo record and the output settings."""
    if torch.is_tensor(latent):
        latent = LatentRef("inline", w_plus=latent.detach().float().cpu().reshape(latent.shape[-2:]).tolist())
    return recipe_for_edit(loaded, edit, latent, relative_to=relative_to, size=size, noise_mode=noise_mode,
                           noise_seed=noise_seed, paste_back=paste_back, source=source)


def photo_edit(path: str | os.PathLike, loaded: LoadedGenerator, edit: Edit | None = None, *, encoder=None,
               steps: int = DEFAULT_STEPS, paste_back: bool = False, aligned: bool = False, face_index: int = 0,
               centre_crop: bool = False, centre_crop_fallback: bool = False,
               detector: LandmarkDetector | None = None, size: int | None = None, noise_mode: str = "const",
               noise_seed: int = 0, recipe_relative_to: str | os.PathLike | None = None,
               progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> PhotoEditResult:
    """Photo file -> load -> detect/align -> invert -> edit -> paste-back -> image + recipe.

    ``encoder``/``steps``: as :func:`invert_prepared`; ``aligned``/``face_index``/``centre_crop``/
    ``centre_crop_fallback``/``detector``: as :func:`prepare_photo`; ``size``/``noise_mode``/``noise_seed``: the render
    (:func:`~engine.pipeline.edit.render_edit`); ``paste_back``: as :func:`finish_photo`;
    ``recipe_relative_to``: the export's path, for the recipe's file hints. Progress comes from each stage
    (jobs ``prepare``, the inversion's, ``render``). A cancel at any stage raises
    :class:`~engine.jobs.Cancelled` (nothing partial is returned).
    """
    edit = edit or Edit()
    edit.check()
    output_size(loaded.generator, size)  # a bad size fails before any work
    enc = resolve_photo_encoder(loaded, encoder)
    prepared = prepare_photo(path, alignment_size(loaded.generator, enc), aligned=aligned, face_index=face_index,
                             centre_crop=centre_crop, centre_crop_fallback=centre_crop_fallback,
                             detector=detector, progress=progress, cancel=cancel)
    inversion = invert_prepared(prepared, loaded, encoder=enc if enc is not None else False, steps=steps,
                                progress=progress, cancel=cancel)
    if inversion.cancelled:
        raise Cancelled("photo edit")
    render = {"size": size, "noise_mode": noise_mode, "noise_seed": noise_seed}
    edited = render_edit_image(loaded.generator, inversion.w_plus, edit, progress=progress, cancel=cancel, **render)
    notes = (NOTHING_TO_PASTE,) if paste_back and prepared.face is None else ()
    image = finish_photo(prepared, edited, paste_back=paste_back)
    recipe = effective_recipe(loaded, edit, inversion.w_plus, relative_to=recipe_relative_to,
                              source=source_record(prepared, inversion), paste_back=paste_back, **render)
    return PhotoEditResult(image, edited, inversion, recipe, prepared, notes)
