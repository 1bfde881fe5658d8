"""Job functions the studio queues on the worker (each takes a :class:`JobContext`; worker thread only).

They call the engine and return CPU data for the GUI thread (``desktop.document`` snapshots, paths).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from engine.checkpoints import LoadedGenerator
from engine.errors import FileProblem, UserError
from engine.fileio import sha256_of
from engine.resources import demo_model_path, resources_dir
from engine.stylespace import layout_fingerprint, style_layout

from ..document import DeltaSlot, DirectionSlot, EditState, ModelInfo, Source
from .render import paste_into_photo, render_spec
from .requests import RenderSpec
from .worker import JobContext

#: optimisation steps after the encoder when the studio inverts a photo (the encoder does most of it)
STUDIO_INVERT_STEPS = 30
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
RECIPE_KEYWORD_JPEG = "StyleDomain-Recipe:"


def model_info(loaded: LoadedGenerator) -> ModelInfo:
    cfg = loaded.generator.config
    demo = demo_model_path()
    is_demo = demo is not None and loaded.path.resolve() == demo.resolve()
    return ModelInfo(str(loaded.path.resolve()), loaded.name, loaded.sha256, layout_fingerprint(style_layout(cfg)),
                     cfg.size, is_demo, tuple(cfg.resolutions))


def load_model(path: str):
    """Job: load (and cache) a generator; returns its :class:`ModelInfo`."""

    def job(ctx: JobContext) -> ModelInfo:
        ctx.checkpoint()
        return model_info(ctx.store.generator(path))

    return job


def invert_photo_job(model_path: str, photo_path: str, steps: int = STUDIO_INVERT_STEPS):
    """Job: align and invert a photo; returns a photo :class:`Source`.

    A photo with no detectable face is taken as an aligned crop when it is square (the demo model's
    sample faces are such crops); otherwise the engine's "no face found" error reaches the user.
    """

    def job(ctx: JobContext) -> Source:
        from engine.alignment import NoFaceFound
        from engine.inversion import invert_photo

        loaded = ctx.store.generator(model_path)
        ctx.checkpoint()
        kwargs = dict(progress=ctx.progress, cancel=ctx.cancel)
        try:
            result = invert_photo(photo_path, loaded, None, steps, **kwargs)
            aligned = False
        except NoFaceFound:
            with Image.open(photo_path) as im:
                w, h = im.size
            if w != h:
                raise FileProblem(photo_path, "no face found in this photo (the studio needs a face it can "
                                              "align, or a square crop of one)") from None
            result = invert_photo(photo_path, loaded, None, steps, aligned=True, **kwargs)
            aligned = True
        ctx.cancel.raise_if_cancelled("inversion")
        inversion = {"encoder": str(result.encoder), "steps": int(result.steps),
                     "aligned": aligned, "centre_crop": False}
        return Source("photo", None, result.w_plus.detach().float().cpu().clone(), str(Path(photo_path).resolve()),
                      str(result.photo_sha256 or sha256_of(photo_path)), result.alignment, result.face_index,
                      inversion)

    return job


@dataclass
class OpenedFile:
    """What a dropped model-like file turned out to be."""

    kind: str  # "generator" | "direction" | "delta"
    model: ModelInfo | None = None
    direction: DirectionSlot | None = None
    delta: DeltaSlot | None = None


def open_model_file(path: str, current_model: str | None):
    """Job: classify a .safetensors/.pt/.pkl: a direction or delta for the current model, or a generator."""

    def job(ctx: JobContext) -> OpenedFile:
        from engine.domains.direction import check_fits
        from engine.domains.param_delta import check_delta_fits

        p = Path(path)
        problems = []
        if p.suffix.lower() == ".safetensors":
            for kind in ("direction", "delta"):
                try:
                    obj = ctx.store.direction(p) if kind == "direction" else ctx.store.delta(p)
                except (UserError, OSError, ValueError) as exc:
                    problems.append(str(exc))
                    continue
                if current_model is None:
                    raise UserError(f"{p}: open a model before adding a {kind}")
                gen = ctx.store.generator(current_model).generator
                if kind == "direction":
                    check_fits(obj, style_layout(gen.config), p)
                    return OpenedFile(kind, direction=DirectionSlot(str(p.resolve()), obj.name or p.stem,
                                                                    sha256_of(p)))
                check_delta_fits(obj, gen, p)
                return OpenedFile(kind, delta=DeltaSlot(str(p.resolve()), obj.name or p.stem, sha256_of(p)))
        try:
            return OpenedFile("generator", model=model_info(ctx.store.generator(p)))
        except (UserError, OSError, ValueError, KeyError) as exc:
            problems.append(str(exc))
        kind = _library_kind(p)
        if kind in SUPPORT_KINDS:
            raise FileProblem(p, f"is {SUPPORT_KINDS[kind]}, not a generator or a domain: add it with "
                                 "Tools → Models… (the model manager) instead")
        raise FileProblem(p, "not a generator, direction or parameter delta this studio can use")

    return job


#: Library kinds that support the studio's work but cannot be opened on the canvas, as named to users.
SUPPORT_KINDS = {"encoder": "an inversion encoder", "clip": "a CLIP model", "landmarks": "a face landmark model",
                 "vgg": "a VGG (LPIPS) model"}


def _library_kind(path: Path) -> str | None:
    """The model library's idea of what ``path`` is (None when unknown or unreadable)."""
    from engine.library.kinds import detect

    try:
        found = detect(path)
    except (UserError, OSError, ValueError):
        return None
    return None if found is None else found.kind


def default_search_dirs() -> list[Path]:
    res = resources_dir()
    dirs = [res / "models", res / "domains"]
    with contextlib.suppress(Exception):  # the model library, where present
        from engine.library import library_dir  # type: ignore[attr-defined]

        dirs.append(Path(library_dir()))
    return [d for d in dirs if d.is_dir()]


def read_recipe_file(path: str):
    """A recipe from a PNG/JSON (engine.pipeline.recipe.load_recipe) or a JPEG/WebP the studio exported."""
    from engine.pipeline.recipe import Recipe, RecipeError, load_recipe

    p = Path(path)
    if p.suffix.lower() in (".jpg", ".jpeg", ".webp"):
        try:
            with Image.open(p) as im:
                text = im.info.get("comment") or im.info.get("xmp") or b""
        except OSError as exc:
            raise FileProblem(p, f"cannot read ({exc})") from None
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        i = text.find(RECIPE_KEYWORD_JPEG)
        if i < 0:
            raise RecipeError(p, "this image carries no StyleDomain recipe")
        body = text[i + len(RECIPE_KEYWORD_JPEG):]
        end = body.find("</styledomain>")
        return Recipe.loads(body[:end] if end >= 0 else body, p)
    return load_recipe(p)


#: at most this many candidate photos are hashed when a restored recipe's photo is looked for
MAX_PHOTO_CANDIDATES = 100


def find_photo(sha256: str, candidates: list[str | Path], cancel=None) -> str | None:
    """The first existing image file among ``candidates`` whose bytes hash to ``sha256`` (None if none)."""
    if len(sha256) != 64:
        return None
    seen: set[str] = set()
    for c in candidates:
        p = Path(c)
        key = str(p.resolve()) if p.exists() else ""
        if not key or key in seen or not p.is_file() or p.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        seen.add(key)
        if len(seen) > MAX_PHOTO_CANDIDATES:
            break
        if cancel is not None:
            cancel.raise_if_cancelled("restore")
        with contextlib.suppress(OSError):
            if sha256_of(p) == sha256:
                return key
    return None


def restore_recipe(path: str, extra_dirs: list[str] | None = None, photos: list[str] | None = None):
    """Job: read a recipe file and find its model, directions and deltas; returns a new :class:`EditState`.

    A recipe made from a photo names the photo by sha256 only: it is looked for among ``photos`` (e.g. the
    studio's library) and the images beside the recipe, so that paste-back works again; when it is not
    found the latent is restored alone. Nothing in the studio changes until the GUI applies the result, so
    a failed restore changes nothing.
    """

    def job(ctx: JobContext) -> EditState:
        from engine.pipeline.recipe_render import check_latent_fits, find_required
        from engine.stylespace import layout_fingerprint as fp_of

        recipe = read_recipe_file(path)
        base = Path(path).resolve().parent
        dirs = [base] + [Path(d) for d in extra_dirs or []] + default_search_dirs()
        g = recipe.generator
        model_path = find_required(f"model {g.name!r} (layout fingerprint {g.layout_fingerprint})", g.sha256, g.file,
                                   base, dirs, "open or import that model first, then drop the recipe again")
        ctx.checkpoint()
        loaded = ctx.store.generator(model_path)
        info = model_info(loaded)
        if fp_of(style_layout(loaded.generator.config)) != g.layout_fingerprint:
            raise FileProblem(model_path, f"model layout does not match the recipe's model {g.name!r}")
        directions = []
        for ref in recipe.directions:
            p = find_required(f"direction {ref.name!r}", ref.sha256, ref.file, base, dirs,
                              "put it next to the recipe or import it into the library")
            ctx.store.direction(p)
            directions.append(DirectionSlot(str(p.resolve()), ref.name, ref.sha256, True, ref.weight, ref.layers,
                                            ref.style_mix))
        deltas = []
        for ref in recipe.param_deltas:
            p = find_required(f"parameter delta {ref.name!r}", ref.sha256, ref.file, base, dirs,
                              "put it next to the recipe or import it into the library")
            ctx.store.delta(p)
            deltas.append(DeltaSlot(str(p.resolve()), ref.name, ref.sha256, True, ref.weight))
        lat = recipe.latent
        if lat.kind == "seed":
            source = Source("seed", int(lat.seed or 0))
        else:
            import torch

            if lat.kind == "inline":
                w = torch.tensor(lat.w_plus, dtype=torch.float32)
            else:
                from engine.pipeline.latent_file import load_latent_file

                w = load_latent_file(find_required(f"latent file {lat.file!r}", lat.sha256, lat.file, base, dirs,
                                                   "put it next to the recipe"))
            check_latent_fits(w, loaded, path)
            src = recipe.source
            if src is not None:
                beside = sorted(base.iterdir()) if base.is_dir() else []
                photo = find_photo(src.photo_sha256, list(photos or []) + beside, ctx.cancel)
                source = Source("photo", None, w, photo, src.photo_sha256, src.alignment, src.face_index,
                                src.inversion)
            else:
                source = Source("latent", None, w)
        return EditState(info, source, tuple(directions), tuple(deltas), recipe.strength, recipe.psi, None,
                         recipe.paste_back, keep=recipe.keep)

    return job


def export_image(spec: RenderSpec, out_path: str, recipe_text: str, paste_back: bool, quality: int = 92):
    """Job: render at full resolution and write PNG (recipe chunk + XMP), JPEG or WebP (recipe comment/XMP)."""

    def job(ctx: JobContext) -> str:
        from engine.fileio import atomic_path
        from engine.pipeline.png_metadata import save_png

        image = render_spec(ctx.store, spec)
        if paste_back:
            image = paste_into_photo(ctx.store, spec, image) or image
        ctx.checkpoint()
        out = Path(out_path)
        suffix = out.suffix.lower()
        if suffix == ".png":
            save_png(image, out, recipe_text)
        elif suffix in (".jpg", ".jpeg", ".webp"):
            tagged = f"<styledomain>{RECIPE_KEYWORD_JPEG}{recipe_text}</styledomain>"
            with atomic_path(out) as tmp:
                if suffix == ".webp":
                    image.save(tmp, format="WEBP", quality=quality, xmp=tagged.encode("utf-8"))
                else:
                    image.save(tmp, format="JPEG", quality=quality, comment=tagged.encode("utf-8"))
        else:
            raise UserError(f"{out}: export as .png, .jpg or .webp")
        return str(out)

    return job


def open_image(path: str, model_path: str | None, steps: int = STUDIO_INVERT_STEPS, photos: list[str] | None = None):
    """Job: an exported image with a recipe is restored; any other image is a photo to invert.

    Returns ``("recipe", EditState)`` or ``("photo", Source)``. ``photos``: where a restored recipe's
    photo may be (see :func:`restore_recipe`).
    """

    def job(ctx: JobContext):
        from engine.pipeline.recipe import RecipeError

        try:
            read_recipe_file(path)
            carries = True
        except RecipeError as exc:
            if "carries no StyleDomain recipe" not in str(exc):
                raise
            carries = False
        if carries:
            return "recipe", restore_recipe(path, photos=photos)(ctx)
        if model_path is None:
            raise UserError("open a model before opening photos")
        return "photo", invert_photo_job(model_path, path, steps)(ctx)

    return job
