"""``styledomain render MODEL --seed N [--psi P] [--noise-mode M] [--size S] -o out.png``.

Directions (``--direction``) and parameter deltas (``--delta``) edit the render (``engine.pipeline.edit``).
The PNG carries the recipe that reproduces it (iTXt) and an XMP DigitalSourceType of
trainedAlgorithmicMedia unless ``--strip-metadata``; ``--save-recipe`` also writes that recipe as JSON.
Nothing is written unless the render succeeded, and the PNG and the recipe are written together or not at all.
"""

from __future__ import annotations

from pathlib import Path

from engine.fileio import distinct_outputs, write_together
from engine.generator import NOISE_MODES
from engine.pipeline.edit import render_edit_image
from engine.pipeline.png_metadata import save_png
from engine.pipeline.recipe import LatentRef, save_recipe
from engine.pipeline.recipe_render import recipe_for_edit
from engine.validation import render_request

from .arg_types import nonneg_int, psi_arg, seed_arg, size_arg
from .common import add_device_arg, load_model_arg, output_path
from .directions_render import add_direction_args, edit_from_args


def register(sub) -> None:
    p = sub.add_parser("render", help="render a seed to a PNG (NVIDIA generate.py conventions)")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--seed", type=seed_arg, required=True, help="np.random.RandomState(seed).randn(1, z_dim)")
    p.add_argument("--psi", type=psi_arg, default=1.0, help="truncation psi toward w_avg (default 1)")
    p.add_argument("--cutoff", type=nonneg_int, default=None, help="truncate only the first N W+ rows")
    p.add_argument("--noise-mode", choices=NOISE_MODES, default="const")
    p.add_argument("--size", type=size_arg, default=None, help="output size; a lower synthesis resolution "
                   "stops early (fast preview), other sizes are resampled")
    p.add_argument("-o", "--output", required=True, help="output .png")
    p.add_argument("--precision", default="fp32", help="fp32 (default); fp16/bf16 on CUDA, bf16 on CPUs with AMX")
    p.add_argument("--strip-metadata", action="store_true", help="write pixels only (no recipe, no XMP)")
    add_device_arg(p)
    add_direction_args(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = output_path(args.output, (".png",))
    recipe_out = output_path(args.save_recipe, None) if args.save_recipe else None
    distinct_outputs(out, recipe_out)
    edit = edit_from_args(args)
    loaded = load_model_arg(args.model, args.device)
    render_request(loaded.generator.config, args.size, device=loaded.generator.w_avg.device)
    render = {"size": args.size, "noise_mode": args.noise_mode, "noise_seed": args.seed}
    img = render_edit_image(loaded.generator, args.seed, edit, precision=args.precision, **render)

    def recipe(relative_to: Path):
        return recipe_for_edit(loaded, edit, LatentRef("seed", seed=args.seed), relative_to=relative_to, **render)

    png_recipe = None if args.strip_metadata else recipe(out).dumps()
    json_recipe = recipe(recipe_out) if recipe_out else None
    with write_together():  # the PNG and the recipe appear together, or neither does
        save_png(img, out, png_recipe, strip=args.strip_metadata)
        if json_recipe is not None:
            save_recipe(json_recipe, recipe_out)
    if loaded.metadata.get("demo") == "true":
        print("rendered with the built-in demo model; import real weights with `styledomain convert`")
    print(f"wrote {out}")
    return 0
