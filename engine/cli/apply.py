"""``styledomain apply --recipe R [PHOTO_OR_LATENT] -o out.png``: reproduce an edit headlessly.

R is a recipe ``.json`` or a PNG exported with one. The optional input replaces the recipe's
latent: a latent file (``.npy`` float32 [num_ws, w_dim], or ``.safetensors`` with key ``w_plus``)
or a photo, which is aligned and inverted first (``engine.inversion.invert_photo``; flags as in
``styledomain invert``). The output PNG carries the effective recipe (iTXt; the latent inline) and
an XMP DigitalSourceType of trainedAlgorithmicMedia unless ``--strip-metadata``. With paste-back
(the recipe's choice, or ``--paste-back``) and a photo, the edited face goes back into the photo.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path

from engine.checkpoints.fileinfo import sha256_of
from engine.device import pick_device
from engine.errors import UserError
from engine.pipeline.latent_file import LATENT_SUFFIXES, load_latent_file
from engine.pipeline.png_metadata import save_png
from engine.pipeline.recipe import GeneratorRef, LatentRef, SourcePhoto, load_recipe
from engine.pipeline.recipe_render import (
    check_latent_fits,
    recipe_latent,
    render_resolved,
    resolve_recipe,
)
from engine.stylespace import layout_fingerprint, style_layout

from .common import add_device_arg, output_path

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
DEFAULT_PHOTO_STEPS = 40


def register(sub) -> None:
    p = sub.add_parser("apply", help="reproduce an edit from a recipe (.json or exported PNG)",
                       description=__doc__.split("\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", required=True, metavar="R", help="recipe .json, or a PNG that carries one")
    p.add_argument("input", nargs="?", default=None, metavar="PHOTO_OR_LATENT",
                   help="latent (.npy/.safetensors) or photo; default: the recipe's own latent")
    p.add_argument("-o", "--output", required=True, help="output .png")
    p.add_argument("--model", default=None, help="generator file (default: found from the recipe)")
    p.add_argument("--search", action="append", default=[], metavar="DIR",
                   help="folder to look for the recipe's model, directions and latent files; repeatable")
    p.add_argument("--strip-metadata", action="store_true", help="write pixels only (no recipe, no XMP)")
    p.add_argument("--paste-back", action=argparse.BooleanOptionalAction, default=None,
                   help="paste the edited face back into the photo (default: as the recipe says)")
    g = p.add_argument_group("photo input (as in `styledomain invert`)")
    g.add_argument("--encoder", "-e", default=None, help="encoder file (default: the model's own, if any)")
    g.add_argument("--steps", type=int, default=None,
                   help=f"optimisation steps after the encoder (default: the recipe's, else {DEFAULT_PHOTO_STEPS})")
    g.add_argument("--aligned", action="store_true", help="the photo is already an aligned face crop")
    g.add_argument("--face", type=int, default=None, help="which face, 1 = largest (default: the recipe's, else 1)")
    g.add_argument("--centre-crop", action="store_true", help="use the centred square crop, no face detection")
    add_device_arg(p)
    p.set_defaults(handler=run)


def _hint(target: Path, out: Path) -> str:
    try:
        return os.path.relpath(target.resolve(), out.resolve().parent)
    except ValueError:
        return str(target.resolve())


def _jsonable(obj):
    """Plain JSON types only (alignment records may carry numpy numbers)."""
    return None if obj is None else json.loads(json.dumps(obj, default=float))


def invert_photo_input(path: Path, loaded, args, recipe, device):
    """W+ and a source record for a photo, through ``engine.inversion.invert_photo``."""
    try:
        from engine.inversion import invert_photo  # the inversion issue's API
    except ImportError:
        raise UserError(f"{path}: photo input needs the inversion module (engine.inversion.invert_photo), which "
                        "this build lacks; pass a latent (.npy or .safetensors) instead") from None
    old = recipe.source
    steps = args.steps if args.steps is not None else int(
        (old.inversion or {}).get("steps", DEFAULT_PHOTO_STEPS) if old else DEFAULT_PHOTO_STEPS)
    face = args.face if args.face is not None else ((old.face_index or 0) + 1 if old else 1)
    if face < 1:
        raise UserError(f"--face counts from 1 (largest face), got {face}")
    result = invert_photo(path, loaded, args.encoder, steps, args.aligned, face_index=face - 1,
                          centre_crop=args.centre_crop, device=device)
    inversion = {"encoder": result.encoder, "steps": int(result.steps),
                 "aligned": bool(args.aligned), "centre_crop": bool(args.centre_crop)}
    source = SourcePhoto(result.photo_sha256 or sha256_of(path), _jsonable(result.alignment),
                         result.face_index, inversion)
    return result.w_plus.detach().float().cpu(), source


def paste_into_photo(img, photo_path: Path, alignment: dict):
    import numpy as np

    from engine.alignment import AlignedFace, paste_back
    from engine.photo import load_photo

    try:
        face = AlignedFace(img, np.asarray(alignment["quad"], dtype=np.float64), tuple(alignment["source_size"]),
                           alignment.get("method", "ffhq"))
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"the recipe's alignment record is unusable for paste-back ({exc})") from None
    return paste_back(load_photo(photo_path), img, face)


def run(args) -> int:
    out = output_path(args.output, (".png",))
    recipe_path = Path(args.recipe)
    recipe = load_recipe(recipe_path)
    device = str(pick_device(args.device))
    res = resolve_recipe(recipe, recipe_path, args.model, args.search, device)
    for note in res.notes:
        print(f"note: {note}")
    paste = recipe.paste_back if args.paste_back is None else args.paste_back
    w_plus, source, photo = None, recipe.source, None
    if args.input:
        inp = Path(args.input)
        if not inp.is_file():
            raise UserError(f"{inp}: file not found")
        if inp.suffix.lower() in LATENT_SUFFIXES:
            w_plus = load_latent_file(inp)
            check_latent_fits(w_plus, res.loaded, inp)
            source = None  # a latent from elsewhere: the recipe's photo record no longer applies
        elif inp.suffix.lower() in PHOTO_SUFFIXES:
            w_plus, source = invert_photo_input(inp, res.loaded, args, recipe, device)
            photo = inp
        else:
            raise UserError(f"{inp}: input must be a latent (.npy, .safetensors) or a photo "
                            f"({', '.join(PHOTO_SUFFIXES)})")
    if paste and photo is None:
        raise UserError("paste-back needs the original photo: pass it as PHOTO_OR_LATENT (or use --no-paste-back)")
    img = render_resolved(res, w_plus)
    if paste:
        if source is None or not source.alignment:
            print("note: the photo was taken as an aligned crop, so there is nothing to paste back into")
        else:
            img = paste_into_photo(img, photo, source.alignment)
    loaded = res.loaded
    latent = recipe.latent
    if w_plus is not None:
        latent = LatentRef("inline", w_plus=w_plus.tolist())
    elif recipe.latent.kind == "file":
        latent = LatentRef("inline", w_plus=recipe_latent(res).tolist())
    effective = replace(
        recipe, latent=latent, source=source, paste_back=bool(paste),
        generator=GeneratorRef(loaded.name, loaded.sha256, layout_fingerprint(style_layout(loaded.generator.config)),
                               _hint(loaded.path, out)),
        directions=[replace(ref, file=_hint(p, out)) for ref, _, p in res.directions],
        param_deltas=[replace(ref, file=_hint(p, out)) for ref, _, p in res.deltas],
    )
    save_png(img, out, None if args.strip_metadata else effective.dumps(), strip=args.strip_metadata)
    print(f"wrote {out}")
    return 0
