"""``styledomain render`` options for edits: ``--direction FILE[=WEIGHT]``, ``--delta FILE[=WEIGHT]``, ``--layers``,
``--strength``, ``--save-recipe``. ``engine/cli/render.py`` adds these options and renders
:func:`edit_from_args` through ``engine.pipeline.edit``."""

from __future__ import annotations

import argparse

from engine.domains.blend import DirectionTerm
from engine.domains.direction import load_direction
from engine.domains.layers import HELP as LAYERS_HELP
from engine.domains.layers import validate_spec
from engine.domains.param_delta import load_param_delta
from engine.errors import UserError
from engine.fileio import sha256_of
from engine.pipeline.edit import DeltaTerm, Edit

from .arg_types import check_weight, library_file, need, strength_arg


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
    weight = check_weight(weight, path)
    if not path:
        raise argparse.ArgumentTypeError(f"no file in {text!r}")
    return library_file(("direction", "param-delta"))(path), weight  # a file, a library name or sha256 prefix


def _layers_type(text: str) -> str:
    try:
        return validate_spec(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_direction_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("domain directions and parameter deltas")
    g.add_argument("--direction", action="append", type=_direction_type, default=[], metavar="FILE[=WEIGHT]",
                   help="apply a direction (.safetensors or StyleDomain .pt); repeatable; weight default 1.0")
    g.add_argument("--delta", action="append", type=_direction_type, default=[], metavar="FILE[=WEIGHT]",
                   help="add a parameter-delta file (an adapted generator, .safetensors) to the weights: "
                        "theta = theta_0 + sum WEIGHT * delta; repeatable; weight default 1.0")
    g.add_argument("--layers", type=_layers_type, default="all", metavar="SEL",
                   help=f"layers the directions act on: {LAYERS_HELP}")
    g.add_argument("--strength", type=strength_arg, default=1.0, help="global direction strength (default 1)")
    g.add_argument("--save-recipe", default=None, metavar="RECIPE.json",
                   help="also write a recipe that `styledomain apply` reproduces this render from "
                        "(written after the render succeeded)")


def edit_from_args(args) -> Edit:
    """The :class:`Edit` of ``--direction``, ``--delta``, ``--layers``, ``--strength``, ``--psi`` and ``--cutoff``.

    Each file is read and hashed once here (the hash goes into recipes).
    """
    directions = getattr(args, "direction", None) or []
    deltas = getattr(args, "delta", None) or []
    need([path for path, _ in directions + deltas])
    if not directions and (args.layers != "all" or args.strength != 1.0):
        raise UserError("--layers and --strength need at least one --direction")
    terms = tuple(DirectionTerm(load_direction(path), weight, args.layers, path, sha256=sha256_of(path))
                  for path, weight in directions)
    delta_terms = tuple(DeltaTerm(load_param_delta(path), weight, path, sha256_of(path)) for path, weight in deltas)
    return Edit(terms, delta_terms, strength=args.strength, psi=args.psi, cutoff=args.cutoff)
