"""``styledomain batch INPUTS... -o OUT --recipe R``: apply one recipe to many photos, resumably.

INPUTS are files, folders (scanned recursively for .jpg .jpeg .png .webp .bmp .tif .tiff; hidden files and
folders skipped) or @list.txt (one path per line). Each photo is loaded, its face detected and aligned,
inverted into the model's W+, edited with the recipe's directions, parameter deltas, layer masks and
strength, optionally pasted back, and written to OUT as --name (default {stem}_{recipe}.{ext}; fields
{stem} {name} {suffix} {folder} {recipe} {model} {index} {ext}). PNGs carry the effective recipe.

OUT/.styledomain-batch.json records every finished input: a rerun skips what is done, a killed run
resumes. Existing files that no batch wrote are never replaced unless --overwrite (they are skipped).
Exit status: 0 when nothing failed, 1 when any input failed (bad inputs are reported and skipped), 2 for
usage errors (reported before any work), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys

from engine.device import pick_device
from engine.jobs import Progress
from engine.pipeline.batch import DEFAULT_TEMPLATE, FORMATS, run_batch

from .arg_types import batch_arg, face_arg, int_in, library_file, need, steps_arg
from .common import add_device_arg


def register(sub) -> None:
    p = sub.add_parser("batch", help="apply a recipe to many photos (folders, lists), resumably",
                       description=__doc__.split("\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUTS", help="photos, folders, or @list.txt")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (created if missing)")
    p.add_argument("--recipe", required=True, metavar="R", help="recipe .json, or a PNG exported with one")
    p.add_argument("--model", default=None, metavar="M",
                   help="generator file or model-library name (default: found from the recipe)")
    p.add_argument("--search", action="append", default=[], metavar="DIR",
                   help="folder to look for the recipe's model and directions; repeatable")
    p.add_argument("--format", default="png", choices=FORMATS, help="output format (default png)")
    p.add_argument("--quality", type=int_in(1, 100), default=None, metavar="Q",
                   help="jpg/webp quality 1-100 (default 92/90)")
    p.add_argument("--paste-back", action=argparse.BooleanOptionalAction, default=None,
                   help="paste the edited face back into the photo (default: as the recipe says)")
    p.add_argument("--name", default=DEFAULT_TEMPLATE, metavar="TEMPLATE",
                   help=f"output name template (default {DEFAULT_TEMPLATE})")
    p.add_argument("--overwrite", action="store_true", help="replace existing files no batch wrote")
    p.add_argument("--workers", type=int_in(1, 64), default=None, metavar="N",
                   help="CPU threads for decoding and alignment (default: up to 4)")
    p.add_argument("--batch-size", type=batch_arg, default=None, metavar="B",
                   help="photos per device batch (default 8 on CUDA, 4 elsewhere)")
    p.add_argument("--json", action="store_true", help="print one JSON summary object instead of progress")
    p.add_argument("--strip-metadata", action="store_true", help="write pixels only (no recipe, no XMP)")
    g = p.add_argument_group("inversion (as in `styledomain invert`)")
    g.add_argument("--encoder", "-e", default=None, type=library_file("encoder"),
                   help="encoder file or model-library name (default: the model's own, if any)")
    g.add_argument("--no-encoder", action="store_true", help="start the optimisation from the average latent")
    g.add_argument("--steps", type=steps_arg, default=None,
                   help="optimisation steps after the encoder (default: the recipe's, else 50)")
    g.add_argument("--aligned", action="store_true", help="inputs are aligned face crops already")
    g.add_argument("--face", type=face_arg, default=1, help="which face, 1 = largest (default 1)")
    g.add_argument("--centre-crop", action="store_true", help="use the centred square crop, no face detection")
    add_device_arg(p)
    p.set_defaults(handler=run)


class _Display:
    """tqdm bar with rate and ETA on a terminal; plain lines otherwise; nothing with --json."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar = None
        self.tty = sys.stderr.isatty()

    def __call__(self, p: Progress) -> None:
        if self.quiet:
            return
        failed = ": failed" in p.message
        if self.tty:
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=p.total, unit="img", dynamic_ncols=True, file=sys.stderr)
            self.bar.n = p.step
            self.bar.set_postfix(done=int(p.values.get("done", 0)), failed=int(p.values.get("failed", 0)),
                                 refresh=False)
            self.bar.refresh()
            if failed:
                self.bar.write(p.message, file=sys.stderr)
        else:
            print(f"[{p.step}/{p.total}] {p.message}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args) -> int:
    device = str(pick_device(args.device))
    encoder = False if args.no_encoder else need(args.encoder)
    display = _Display(args.json)
    try:
        rep = run_batch(args.inputs, args.output, args.recipe, model=args.model, search=args.search,
                        fmt=args.format, quality=args.quality, paste_back=args.paste_back, name=args.name,
                        overwrite=args.overwrite, workers=args.workers, batch_size=args.batch_size,
                        encoder=encoder, steps=args.steps, aligned=args.aligned, centre_crop=args.centre_crop,
                        face=args.face, strip_metadata=args.strip_metadata, device=device, progress=display,
                        )
    finally:
        display.close()
    if args.json:
        sys.stdout.write(json.dumps(rep.to_json(), indent=1) + "\n")
    else:
        for note in rep.notes:
            print(f"note: {note}")
        print(f"{len(rep.done)} exported, {len(rep.skipped)} skipped, {len(rep.failed)} failed "
              f"in {rep.seconds:.1f} s -> {rep.out_dir}")
    return 130 if rep.cancelled else rep.exit_code
