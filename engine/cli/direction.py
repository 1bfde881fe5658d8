"""``styledomain direction import|info|sparsify``: domain direction files.

* ``import IN OUT.safetensors [--name N] [--license L] [--source S] [--thumbnail PNG] [--model M]``:
  convert a StyleDomain/HyperDomainNet ``.pt`` (``s_delta`` or ``cin_mult``) or re-save one of ours;
  with ``--model`` the direction must fit that generator.
* ``info FILE [--json]``: kind, layout, per-layer norms, metadata.
* ``sparsify IN OUT.safetensors --keep PERCENT``: keep the top PERCENT % of channels by |d| (global).
* ``morph MODEL (--seed N | --latent FILE) --direction A --direction B ... -o out.webp|.gif
  [--frames N] [--duration MS] [--png-dir DIR] [--pad-path "x,y;x,y;..."] [--from-original] [--loop]``:
  an animation through the directions. Without ``--pad-path`` the frames visit each direction in turn
  (keyframes of one-hot weights); with it the puck moves along the path on the blend pad, whose
  anchors are the unit square's corners (0,0), (1,0), (0,1), (1,1) for 4 directions (bilinear), or
  evenly spaced on the unit circle otherwise (inverse-distance weights).
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.domains.blend import sparsify
from engine.domains.direction import check_fits, load_direction, norm_summary, save_direction
from engine.errors import UserError
from engine.pipeline.edit import Edit
from engine.stylespace import style_layout
from engine.validation import render_request, writable_folder

from .arg_types import (
    finite_float,
    frame_ms_arg,
    frames_arg,
    library_file,
    need,
    pad_path_arg,
    psi_arg,
    seed_arg,
    size_arg,
    strength_arg,
)
from .common import add_device_arg, load_model_arg, output_path

_direction_file = library_file("direction")


def register(sub) -> None:
    p = sub.add_parser("direction", help="import, inspect and sparsify domain direction files",
                       description=__doc__.split("\n", 1)[1], formatter_class=_raw())
    acts = p.add_subparsers(dest="action", metavar="ACTION")
    acts.required = True

    imp = acts.add_parser("import", help="convert a StyleDomain .pt direction to our .safetensors format")
    imp.add_argument("input", metavar="IN", type=_direction_file, help="direction file or model-library name")
    imp.add_argument("output", metavar="OUT.safetensors")
    imp.add_argument("--name", default=None, help="display name (default: the input file name)")
    imp.add_argument("--license", default=None, help="licence note stored with the direction")
    imp.add_argument("--source", default=None, help="where the direction came from")
    imp.add_argument("--thumbnail", default=None, metavar="PNG", help="small preview image to embed")
    imp.add_argument("--model", default=None, help="check that the direction fits this generator (file or name)")
    add_device_arg(imp)
    imp.set_defaults(handler=run_import)

    info = acts.add_parser("info", help="describe a direction file")
    info.add_argument("file", metavar="FILE", type=_direction_file, help="direction file or model-library name")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(handler=run_info)

    sp = acts.add_parser("sparsify", help="keep only the strongest channels (StyleSpaceSparse)")
    sp.add_argument("input", metavar="IN", type=_direction_file, help="direction file or model-library name")
    sp.add_argument("output", metavar="OUT.safetensors")
    sp.add_argument("--keep", type=finite_float, required=True, metavar="PERCENT",
                    help="percentage of channels to keep, by magnitude across all layers (0 < PERCENT <= 100)")
    sp.set_defaults(handler=run_sparsify)

    mo = acts.add_parser("morph", help="animate a seed or latent through several directions (WebP/GIF, PNGs)")
    mo.add_argument("model", metavar="MODEL")
    src = mo.add_mutually_exclusive_group(required=True)
    src.add_argument("--seed", type=seed_arg, help="NVIDIA generate.py seed")
    src.add_argument("--latent", help="W+ latent (.npy float32 [num_ws, w_dim] or .safetensors key w_plus)")
    mo.add_argument("--direction", action="append", required=True, metavar="FILE", type=_direction_file,
                    help="direction file or model-library name; repeatable")
    mo.add_argument("--frames", type=frames_arg, default=24, help="number of frames (default 24)")
    mo.add_argument("--duration", type=frame_ms_arg, default=80, help="milliseconds per frame (default 80)")
    mo.add_argument("--strength", type=strength_arg, default=1.0, help="global direction strength (default 1)")
    mo.add_argument("--layers", default="all", metavar="SEL", help="layer selection (as render --layers)")
    mo.add_argument("--psi", type=psi_arg, default=1.0, help="truncation psi (default 1)")
    mo.add_argument("--size", type=size_arg, default=None, help="frame size (a lower synthesis resolution stops early)")
    mo.add_argument("--pad-path", type=pad_path_arg, default=None, metavar="X,Y;X,Y;...",
                    help="puck path on the blend pad")
    mo.add_argument("--from-original", action="store_true", help="start from the unedited image (keyframe mode)")
    mo.add_argument("--loop", action="store_true", help="return to the first keyframe at the end")
    mo.add_argument("--png-dir", default=None, help="also write the frames as PNGs into this folder")
    mo.add_argument("-o", "--output", required=True, help="output .webp or .gif")
    add_device_arg(mo)
    mo.set_defaults(handler=run_morph)


def _raw():
    import argparse

    return argparse.RawDescriptionHelpFormatter


def run_import(args) -> int:
    out = output_path(args.output, (".safetensors",))
    d = load_direction(need(args.input))
    if args.name is not None:
        d.name = args.name
    if args.license is not None:
        d.license = args.license
    if args.source is not None:
        d.source = args.source
    if args.thumbnail:
        thumb = Path(args.thumbnail)
        data = thumb.read_bytes() if thumb.is_file() else b""
        if not data.startswith(b"\x89PNG\r\n\x1a\n"):
            raise UserError(f"{thumb}: thumbnail must be a PNG file")
        d.thumbnail_png = data
    if args.model:
        check_fits(d, style_layout(load_model_arg(args.model, args.device).generator.config), args.input)
    save_direction(d, out)
    n = sum(lay.channels for lay in d.covered_layers())
    print(f"wrote {out}: {d.kind} direction {d.name!r}, {n} channels, layout {d.fingerprint}"
          + (", with style latents" if d.style_latents is not None else ""))
    return 0


def describe(d) -> dict:
    covered = d.covered_mask()
    vals = d.values[covered]
    return {
        "name": d.name, "kind": d.kind, "layout_fingerprint": d.fingerprint,
        "resolution": max(lay.resolution for lay in d.layout), "layers": len(d.covered_layers()),
        "channels": int(covered.sum()), "covers_torgb": d.covers_torgb,
        "nonzero_fraction": float(vals.ne(0).float().mean()) if vals.numel() else 0.0,
        "norm": float(vals.norm()), "source": d.source, "license": d.license,
        "style_latents": None if d.style_latents is None else list(d.style_latents.shape),
        "thumbnail": d.thumbnail_png is not None, "extra": d.extra, "per_layer": norm_summary(d),
    }


def run_info(args) -> int:
    info = describe(load_direction(need(args.file)))
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"{info['name']}: {info['kind']} direction, {info['channels']} channels over {info['layers']} layers "
          f"of a {info['resolution']} px generator (layout {info['layout_fingerprint']})")
    print(f"  nonzero {info['nonzero_fraction']:.1%}, norm {info['norm']:.4g}"
          + (f", style latents {info['style_latents']}" if info["style_latents"] else ""))
    if info["source"] or info["license"]:
        print(f"  source: {info['source'] or '-'}; licence: {info['license'] or '-'}")
    for row in info["per_layer"]:
        print(f"  {row['index']:>3} {row['name']:<24} {row['channels']:>5} ch  norm {row['norm']:.4g}  "
              f"max {row['max_abs']:.4g}  nonzero {row['nonzero']}")
    return 0


def run_sparsify(args) -> int:
    out = output_path(args.output, (".safetensors",))
    if not 0 < args.keep <= 100:
        raise UserError(f"--keep must be a percentage in (0, 100], got {args.keep}")
    d = load_direction(need(args.input))
    sparse, kept = sparsify(d, args.keep / 100.0)
    save_direction(sparse, out)
    n = int(d.covered_mask().sum())
    print(f"wrote {out}: kept {kept:.1%} of {n} channels ({round(kept * n)} nonzero at most)")
    return 0


def parse_pad_path(text: str) -> list[tuple[float, float]]:
    try:
        pts = [tuple(float(v) for v in p.split(",")) for p in text.replace(" ", "").split(";") if p]
    except ValueError:
        pts = []
    if not pts or any(len(p) != 2 for p in pts):
        raise UserError(f"--pad-path must look like 'x,y;x,y;...', got {text!r}")
    return pts  # type: ignore[return-value]


def morph_edit(args, layout) -> Edit:
    """The directions of ``morph`` (weights 0; each frame sets its own) as an :class:`Edit`."""
    from engine.domains.blend import DirectionTerm
    from engine.domains.layers import validate_spec

    layers = validate_spec(args.layers)
    dirs = [load_direction(p) for p in need(args.direction)]
    for d, p in zip(dirs, args.direction, strict=True):
        check_fits(d, layout, p)
    return Edit(tuple(DirectionTerm(d, 0.0, layers, p) for d, p in zip(dirs, args.direction, strict=True)),
                strength=args.strength, psi=args.psi)


def run_morph(args) -> int:
    from engine.domains.morph import ANIMATION_SUFFIXES, save_animation, save_png_sequence
    from engine.fileio import write_together
    from engine.pipeline.latent_file import load_latent_file
    from engine.pipeline.morph_frames import morph_schedule, render_morph
    from engine.pipeline.recipe_render import check_latent_fits

    out = output_path(args.output, ANIMATION_SUFFIXES)
    if args.png_dir:
        writable_folder(args.png_dir)
    if args.frames < 1:
        raise UserError(f"--frames must be at least 1, got {args.frames}")
    loaded = load_model_arg(args.model, args.device)
    gen = loaded.generator
    render_request(gen.config, args.size, frames=args.frames, device=gen.w_avg.device)
    edit = morph_edit(args, style_layout(gen.config))
    pad_path = parse_pad_path(args.pad_path) if args.pad_path else None
    weights = morph_schedule(len(edit.directions), args.frames, pad_path=pad_path, from_original=args.from_original,
                             loop=args.loop)
    if args.latent:
        latent = load_latent_file(args.latent)
        check_latent_fits(latent, loaded, args.latent)
    else:
        latent = args.seed
    frames = render_morph(gen, latent, edit, weights, size=args.size)
    with write_together():  # the animation and the PNGs: all outputs or none
        if args.png_dir:
            save_png_sequence(frames, args.png_dir)
        save_animation(frames, out, args.duration)
    extra = f" and {len(frames)} PNGs in {args.png_dir}" if args.png_dir else ""
    print(f"wrote {out} ({len(frames)} frames, {args.duration} ms each){extra}")
    return 0
