"""``styledomain apply --recipe R [PHOTO_OR_LATENT] -o out.png``: reproduce an edit headlessly.

R is a recipe ``.json`` or a PNG exported with one. The optional input replaces the recipe's
latent: a latent file (``.npy`` float32 [num_ws, w_dim], or ``.safetensors`` with key ``w_plus``)
or a photo (needs the inversion module). The output PNG carries the effective recipe (iTXt) and
an XMP DigitalSourceType of trainedAlgorithmicMedia unless ``--strip-metadata``.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

from engine.checkpoints.fileinfo import sha256_of
from engine.device import pick_device
from engine.errors import UserError
from engine.pipeline.png_metadata import save_png
from engine.pipeline.recipe import GeneratorRef, LatentRef, SourcePhoto, load_recipe
from engine.pipeline.recipe_render import LATENT_SUFFIXES, load_latent_file, render_resolved, resolve_recipe
from engine.stylespace import layout_fingerprint, style_layout

from .common import add_device_arg, output_path

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


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
    add_device_arg(p)
    p.set_defaults(handler=run)


def _hint(target: Path, out: Path) -> str:
    try:
        return os.path.relpath(target.resolve(), out.resolve().parent)
    except ValueError:
        return str(target.resolve())


def invert_photo_input(path: Path, loaded, device):
    """W+ and source record for a photo, through ``engine.inversion.invert_photo`` when present."""
    try:
        from engine.inversion import invert_photo  # provided by the inversion issue
    except ImportError:
        raise UserError(f"{path}: photo input needs the inversion module (engine.inversion.invert_photo), which "
                        "this build lacks; pass a latent (.npy or .safetensors) instead") from None
    result = invert_photo(path, loaded.generator, device=device)
    w_plus = getattr(result, "w_plus", result)
    if w_plus.ndim == 3:
        w_plus = w_plus[0]
    alignment = getattr(result, "alignment", None)
    source = SourcePhoto(sha256_of(path), alignment if isinstance(alignment, dict) else None,
                         getattr(result, "face_index", None))
    return w_plus.detach().float().cpu(), source


def run(args) -> int:
    out = output_path(args.output, (".png",))
    recipe_path = Path(args.recipe)
    recipe = load_recipe(recipe_path)
    device = str(pick_device(args.device))
    res = resolve_recipe(recipe, recipe_path, args.model, args.search, device)
    for note in res.notes:
        print(f"note: {note}")
    w_plus, source = None, recipe.source
    if args.input:
        inp = Path(args.input)
        if inp.suffix.lower() in LATENT_SUFFIXES:
            w_plus = load_latent_file(inp)
            from engine.pipeline.recipe_render import check_latent_fits

            check_latent_fits(w_plus, res.loaded, inp)
        elif inp.suffix.lower() in PHOTO_SUFFIXES:
            if not inp.is_file():
                raise UserError(f"{inp}: file not found")
            w_plus, source = invert_photo_input(inp, res.loaded, device)
        else:
            raise UserError(f"{inp}: input must be a latent (.npy, .safetensors) or a photo "
                            f"({', '.join(PHOTO_SUFFIXES)})")
    if recipe.paste_back:
        raise UserError("this recipe asks for paste-back into the original photo, which needs the photo "
                        "alignment module; not available in this build")
    img = render_resolved(res, w_plus)
    loaded = res.loaded
    effective = replace(
        recipe,
        generator=GeneratorRef(loaded.name, loaded.sha256, layout_fingerprint(style_layout(loaded.generator.config)),
                               _hint(loaded.path, out)),
        directions=[replace(ref, file=_hint(p, out)) for ref, _, p in res.directions],
        param_deltas=[replace(ref, file=_hint(p, out)) for ref, _, p in res.deltas],
        source=source,
    )
    if w_plus is not None:
        effective.latent = LatentRef("inline", w_plus=w_plus.tolist())
    elif recipe.latent.kind == "file":
        effective.latent = LatentRef("inline", w_plus=res_latent_list(res))
    save_png(img, out, None if args.strip_metadata else effective.dumps(), strip=args.strip_metadata)
    print(f"wrote {out}")
    return 0


def res_latent_list(res) -> list[list[float]]:
    from engine.pipeline.recipe_render import recipe_latent

    return recipe_latent(res).tolist()
