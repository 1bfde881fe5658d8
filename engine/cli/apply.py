"""``styledomain apply --recipe R [PHOTO_OR_LATENT] -o out.png``: reproduce an edit headlessly.

R is a recipe ``.json`` or a PNG exported with one. The optional input replaces the recipe's
latent: a latent file (``.npy`` float32 [num_ws, w_dim], or ``.safetensors`` with key ``w_plus``)
or a photo, which is aligned and inverted first (``engine.pipeline.photo_edit``; flags as in
``styledomain invert``). The output PNG carries the effective recipe (iTXt; the latent inline) and
an XMP DigitalSourceType of trainedAlgorithmicMedia unless ``--strip-metadata``. With paste-back
(the recipe's choice, or ``--paste-back``) and a photo, the edited face goes back into the photo.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.device import pick_device
from engine.errors import UserError
from engine.inversion import DEFAULT_STEPS
from engine.pipeline.edit import render_edit_image
from engine.pipeline.latent_file import LATENT_SUFFIXES, load_latent_file
from engine.pipeline.photo_edit import effective_recipe, photo_edit
from engine.pipeline.png_metadata import save_png
from engine.pipeline.recipe import Recipe, load_recipe
from engine.pipeline.recipe_render import (
    check_latent_fits,
    recipe_latent,
    render_kwargs,
    resolve_recipe,
    resolved_edit,
)
from engine.validation import render_request

from .arg_types import encoder_choice, face_arg, library_file, steps_arg
from .common import add_device_arg, output_path

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def register(sub) -> None:
    p = sub.add_parser("apply", help="reproduce an edit from a recipe (.json or exported PNG)",
                       description=__doc__.split("\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", required=True, metavar="R", help="recipe .json, or a PNG that carries one")
    p.add_argument("input", nargs="?", default=None, metavar="PHOTO_OR_LATENT",
                   help="latent (.npy/.safetensors) or photo; default: the recipe's own latent")
    p.add_argument("-o", "--output", required=True, help="output .png")
    p.add_argument("--model", default=None,
                   help="generator file or model-library name (default: found from the recipe)")
    p.add_argument("--search", action="append", default=[], metavar="DIR",
                   help="folder to look for the recipe's model, directions and latent files; repeatable")
    p.add_argument("--strip-metadata", action="store_true", help="write pixels only (no recipe, no XMP)")
    p.add_argument("--paste-back", action=argparse.BooleanOptionalAction, default=None,
                   help="paste the edited face back into the photo (default: as the recipe says)")
    g = p.add_argument_group("photo input (as in `styledomain invert`)")
    g.add_argument("--encoder", "-e", default=None, type=library_file("encoder", keep=("none",)),
                   help="encoder file or model-library name (default: the model's own, if any; 'none': w_avg)")
    g.add_argument("--steps", type=steps_arg, default=None,
                   help=f"optimisation steps after the encoder (default: the recipe's, else {DEFAULT_STEPS})")
    g.add_argument("--aligned", action="store_true", help="the photo is already an aligned face crop")
    g.add_argument("--face", type=face_arg, default=None,
                   help="which face, 1 = largest (default: the recipe's, else 1)")
    g.add_argument("--centre-crop", action="store_true", help="use the centred square crop, no face detection")
    add_device_arg(p)
    p.set_defaults(handler=run)


def input_kind(path: Path) -> str:
    """``"latent"`` or ``"photo"`` by suffix; a one-line error for a missing file or another type."""
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    if path.suffix.lower() in LATENT_SUFFIXES:
        return "latent"
    if path.suffix.lower() in PHOTO_SUFFIXES:
        return "photo"
    raise UserError(f"{path}: input must be a latent (.npy, .safetensors) or a photo ({', '.join(PHOTO_SUFFIXES)})")


def photo_settings(args, recipe: Recipe) -> dict:
    """Inversion settings for a photo input: the flags, else what the recipe's source photo used."""
    if args.aligned and args.centre_crop:
        raise UserError("--aligned and --centre-crop exclude each other")
    old = recipe.source
    steps = args.steps if args.steps is not None else int(
        (old.inversion or {}).get("steps", DEFAULT_STEPS) if old else DEFAULT_STEPS)
    face = args.face if args.face is not None else ((old.face_index or 0) + 1 if old else 1)
    if face < 1:
        raise UserError(f"--face counts from 1 (largest face), got {face}")
    encoder = encoder_choice(args.encoder)
    return {"encoder": encoder, "steps": steps, "aligned": args.aligned, "face_index": face - 1,
            "centre_crop": args.centre_crop}


def run(args) -> int:
    out = output_path(args.output, (".png",))
    inp = Path(args.input) if args.input else None
    kind = input_kind(inp) if inp else None
    recipe_path = Path(args.recipe)
    recipe = load_recipe(recipe_path)
    paste = bool(recipe.paste_back if args.paste_back is None else args.paste_back)
    if paste and kind != "photo":
        raise UserError("paste-back needs the original photo: pass it as PHOTO_OR_LATENT (or use --no-paste-back)")
    settings = photo_settings(args, recipe) if kind == "photo" else {}
    res = resolve_recipe(recipe, recipe_path, args.model, args.search, str(pick_device(args.device)))
    for note in res.notes:
        print(f"note: {note}")
    loaded, edit, render = res.loaded, resolved_edit(res), render_kwargs(recipe)
    render_request(loaded.generator.config, recipe.size, device=loaded.generator.w_avg.device)
    if kind == "photo":
        result = photo_edit(inp, loaded, edit, paste_back=paste, recipe_relative_to=out, **settings, **render)
        for note in result.notes:
            print(f"note: {note}")
        img, effective = result.image, result.recipe
    else:
        if kind == "latent":
            w_plus, source = load_latent_file(inp), None  # the recipe's photo record no longer applies
            check_latent_fits(w_plus, loaded, inp)
            latent = w_plus
        else:
            w_plus, source = recipe_latent(res), recipe.source
            if w_plus is None and recipe.latent.seed is None:
                raise UserError("recipe has no latent and none was given")
            latent = w_plus if recipe.latent.kind == "file" else recipe.latent  # a sidecar goes inline
        seed_or_w = int(recipe.latent.seed) if w_plus is None else w_plus
        img = render_edit_image(loaded.generator, seed_or_w, edit, **render)
        effective = effective_recipe(loaded, edit, latent, relative_to=out, source=source, paste_back=paste,
                                     **render)
    save_png(img, out, None if args.strip_metadata else effective.dumps(), strip=args.strip_metadata)
    print(f"wrote {out}")
    return 0
