"""``styledomain direction import|info|sparsify``: domain direction files.

* ``import IN OUT.safetensors [--name N] [--license L] [--source S] [--thumbnail PNG] [--model M]``:
  convert a StyleDomain/HyperDomainNet ``.pt`` (``s_delta`` or ``cin_mult``) or re-save one of ours;
  with ``--model`` the direction must fit that generator.
* ``info FILE [--json]``: kind, layout, per-layer norms, metadata.
* ``sparsify IN OUT.safetensors --keep PERCENT``: keep the top PERCENT % of channels by |d| (global).
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.domains.blend import sparsify
from engine.domains.direction import check_fits, load_direction, norm_summary, save_direction
from engine.errors import UserError
from engine.stylespace import style_layout

from . import directions_render  # noqa: F401 - registers render's --direction/--layers options
from .common import add_device_arg, load_model_arg, output_path


def register(sub) -> None:
    p = sub.add_parser("direction", help="import, inspect and sparsify domain direction files",
                       description=__doc__.split("\n", 1)[1], formatter_class=_raw())
    acts = p.add_subparsers(dest="action", metavar="ACTION")
    acts.required = True

    imp = acts.add_parser("import", help="convert a StyleDomain .pt direction to our .safetensors format")
    imp.add_argument("input", metavar="IN")
    imp.add_argument("output", metavar="OUT.safetensors")
    imp.add_argument("--name", default=None, help="display name (default: the input file name)")
    imp.add_argument("--license", default=None, help="licence note stored with the direction")
    imp.add_argument("--source", default=None, help="where the direction came from")
    imp.add_argument("--thumbnail", default=None, metavar="PNG", help="small preview image to embed")
    imp.add_argument("--model", default=None, help="check that the direction fits this generator")
    add_device_arg(imp)
    imp.set_defaults(handler=run_import)

    info = acts.add_parser("info", help="describe a direction file")
    info.add_argument("file", metavar="FILE")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(handler=run_info)

    sp = acts.add_parser("sparsify", help="keep only the strongest channels (StyleSpaceSparse)")
    sp.add_argument("input", metavar="IN")
    sp.add_argument("output", metavar="OUT.safetensors")
    sp.add_argument("--keep", type=float, required=True, metavar="PERCENT",
                    help="percentage of channels to keep, by magnitude across all layers (0 < PERCENT <= 100)")
    sp.set_defaults(handler=run_sparsify)


def _raw():
    import argparse

    return argparse.RawDescriptionHelpFormatter


def run_import(args) -> int:
    out = output_path(args.output, (".safetensors",))
    d = load_direction(args.input)
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
    info = describe(load_direction(args.file))
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
    d = load_direction(args.input)
    sparse, kept = sparsify(d, args.keep / 100.0)
    save_direction(sparse, out)
    n = int(d.covered_mask().sum())
    print(f"wrote {out}: kept {kept:.1%} of {n} channels ({round(kept * n)} nonzero at most)")
    return 0
