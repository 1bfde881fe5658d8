"""``styledomain render`` options for directions: ``--direction FILE[=WEIGHT]``, ``--layers``, ``--strength``,
``--save-recipe``. ``engine/cli/render.py`` adds these options and applies :func:`edit_for_render`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from engine.checkpoints.fileinfo import sha256_of
from engine.domains.blend import DirectionTerm, StyleEdit, build_edit
from engine.domains.direction import load_direction
from engine.domains.layers import HELP as LAYERS_HELP
from engine.domains.layers import validate_spec
from engine.errors import UserError
from engine.stylespace import layout_fingerprint, style_layout


def parse_direction_arg(text: str) -> tuple[str, float]:
    """``FILE`` or ``FILE=WEIGHT`` (the part after the last '=' is a weight only if it is a number)."""
    if "=" in text:
        path, _, weight = text.rpartition("=")
        try:
            return path, float(weight)
        except ValueError:
            pass
    return text, 1.0


def _direction_type(text: str) -> tuple[str, float]:
    path, weight = parse_direction_arg(text)
    if not path:
        raise argparse.ArgumentTypeError(f"no file in {text!r}")
    return path, weight


def _layers_type(text: str) -> str:
    try:
        return validate_spec(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_direction_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("domain directions")
    g.add_argument("--direction", action="append", type=_direction_type, default=[], metavar="FILE[=WEIGHT]",
                   help="apply a direction (.safetensors or StyleDomain .pt); repeatable; weight default 1.0")
    g.add_argument("--layers", type=_layers_type, default="all", metavar="SEL",
                   help=f"layers the directions act on: {LAYERS_HELP}")
    g.add_argument("--strength", type=float, default=1.0, help="global direction strength (default 1)")
    g.add_argument("--save-recipe", default=None, metavar="RECIPE.json",
                   help="also write a recipe that `styledomain apply` reproduces this render from")


def _relative_hint(target: Path, recipe_path: Path) -> str:
    try:
        return os.path.relpath(target.resolve(), recipe_path.resolve().parent)
    except ValueError:  # other drive on Windows
        return str(target.resolve())


def recipe_for_render(args, loaded, directions: list[tuple[str, float]]):
    from engine.pipeline.recipe import DirectionRef, GeneratorRef, LatentRef, Recipe

    out = Path(args.save_recipe)
    gen_ref = GeneratorRef(loaded.name, loaded.sha256, layout_fingerprint(style_layout(loaded.generator.config)),
                           _relative_hint(loaded.path, out))
    refs = [DirectionRef(load_direction(path).name, sha256_of(path), _relative_hint(Path(path), out), weight,
                         args.layers) for path, weight in directions]
    return Recipe(gen_ref, LatentRef("seed", seed=args.seed), refs, strength=args.strength, psi=args.psi,
                  cutoff=args.cutoff, noise_mode=args.noise_mode, noise_seed=args.seed, size=args.size)


def edit_for_render(args, loaded) -> StyleEdit | None:
    """The blended directions of ``--direction`` (None when there are none); writes ``--save-recipe``."""
    directions = getattr(args, "direction", None) or []
    if args.save_recipe:
        from engine.pipeline.recipe import save_recipe

        save_recipe(recipe_for_render(args, loaded, directions), args.save_recipe)
    if not directions:
        if args.layers != "all" or args.strength != 1.0:
            raise UserError("--layers and --strength need at least one --direction")
        return None
    layout = style_layout(loaded.generator.config)
    terms = [DirectionTerm(load_direction(path), weight, args.layers, path) for path, weight in directions]
    return build_edit(terms, layout, args.strength)
