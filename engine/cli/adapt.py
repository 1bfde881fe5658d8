"""``styledomain adapt MODEL (--reference IMG ... [--aligned] | --text SOURCE TARGET) [...] -o OUT.safetensors``.

Trains only deltas (see :mod:`engine.adaptation`): ``affine``/``affinelight``/``full`` write a parameter-delta
file (``styledomain render MODEL --delta OUT``), ``stylespace`` a direction (``--direction OUT``).
Ctrl-C stops between steps and saves the partial result, marked as cancelled.
"""

from __future__ import annotations

import json
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

from engine.errors import UserError
from engine.jobs import CancelToken, Progress

from .arg_types import (
    batch_arg,
    finite_float,
    library_file,
    need_all,
    nonneg_int,
    positive_float,
    positive_int,
    seed_arg,
    steps_arg,
)
from .common import add_device_arg, load_model_arg, output_path


def register(sub) -> None:
    from engine.adaptation import LOSSES, PARAMS, PRESETS

    p = sub.add_parser("adapt", help="adapt the generator to reference image(s) or a text pair, training only "
                       "affine layers, low-rank offsets or one StyleSpace direction")
    p.add_argument("model", metavar="MODEL", help="generator file or model-library name")
    p.add_argument("--reference", action="append", default=[], metavar="IMG",
                   help="reference image (repeatable; with --loss paired: the targets, in --source order)")
    p.add_argument("--source", action="append", default=[], metavar="IMG",
                   help="--loss paired: source image of each pair, in the order of --reference")
    p.add_argument("--text", nargs=2, metavar=("SOURCE", "TARGET"), default=None,
                   help='text pair for --loss nada, e.g. --text "Photo" "Pixar character"')
    p.add_argument("--aligned", action="store_true", help="images already are aligned face crops")
    p.add_argument("--centre-crop", action="store_true", help="use the centred square when no face is found")
    p.add_argument("--param", choices=PARAMS, default="affine")
    p.add_argument("--no-torgb", action="store_true", help="affine/affinelight: conv affines only")
    p.add_argument("--include-torgb", action="store_true", help="stylespace: also the toRGB channels")
    p.add_argument("--rank", type=positive_int, default=5, help="affinelight rank (default 5)")
    p.add_argument("--sparsify", type=finite_float, default=None, metavar="KEEP",
                   help="stylespace: keep this fraction of channels by magnitude afterwards")
    p.add_argument("--loss", choices=LOSSES, default=None,
                   help="default: nada for --text, paired with --source, mtg with --clip, else jojo")
    p.add_argument("--clip", action="append", default=[], metavar="FILE",
                   help="local open_clip ViT checkpoint (.safetensors, .bin, .pt) or a model-library name; "
                   "repeatable, losses summed (default for mtg/nada: every clip in the model library)")
    p.add_argument("--steps", type=positive_int, default=None)
    p.add_argument("--batch", type=batch_arg, default=None)
    p.add_argument("--lr", type=positive_float, default=None)
    p.add_argument("--preset", choices=sorted(PRESETS), default=None)
    p.add_argument("--seed", type=seed_arg, default=0)
    p.add_argument("--encoder", default=None, type=library_file("encoder"),
                   help="encoder (file or library name) for the reference inversion (default: the model's)")
    p.add_argument("--invert-steps", type=steps_arg, default=50, help="optimisation steps after the encoder")
    p.add_argument("--vgg16", default=None, type=library_file("vgg"),
                   help="torchvision VGG16 weights (file or library name): adds LPIPS to the pixel losses")
    p.add_argument("--preview-dir", default=None, metavar="DIR")
    p.add_argument("--preview-every", type=nonneg_int, default=0, metavar="K")
    p.add_argument("--distil-direction", default=None, metavar="OUT2.safetensors",
                   help="affine/affinelight: also write the mean StyleSpace offset as a direction")
    p.add_argument("--name", default="", help="name stored in the file (default: the reference's)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("-o", "--output", required=True, metavar="OUT.safetensors")
    add_device_arg(p)
    p.set_defaults(handler=need_all(run))  # --encoder / --vgg16 misses: one line before any work


def _check_args(args) -> tuple[Path, Path | None]:
    from engine.fileio import distinct_outputs
    from engine.photo import load_photo

    out = output_path(args.output, (".safetensors",))
    distil = output_path(args.distil_direction, (".safetensors",)) if args.distil_direction else None
    distinct_outputs(out, distil)
    if bool(args.reference) == bool(args.text):
        raise UserError("give --reference IMG (one or more) or --text SOURCE TARGET, not both or neither")
    if args.text:
        from engine.adaptation.clip import require_prompt

        require_prompt(args.text[0], "source")
        require_prompt(args.text[1], "target")
    for path in [*args.reference, *args.source]:
        load_photo(path)  # not an image -> one line naming the file
    if distil and args.param not in ("affine", "affinelight"):
        raise UserError("--distil-direction needs --param affine or affinelight")
    if args.no_torgb and args.include_torgb:
        raise UserError("--no-torgb and --include-torgb contradict each other")
    if args.include_torgb and args.param != "stylespace":
        raise UserError("--include-torgb applies to --param stylespace (affine includes toRGB unless --no-torgb)")
    if args.no_torgb and args.param not in ("affine", "affinelight"):
        raise UserError("--no-torgb applies to --param affine or affinelight")
    if args.preview_every < 0 or (args.preview_every and not args.preview_dir):
        raise UserError("--preview-every K needs K >= 1 and --preview-dir DIR")
    if args.preview_dir and not Path(args.preview_dir).is_dir():
        raise UserError(f"{args.preview_dir}: preview folder does not exist")
    return out, distil


@contextmanager
def _ctrl_c_cancels(token: CancelToken):
    """First Ctrl-C cancels between steps (partial result saved); a second one interrupts."""
    def handler(signum, frame):
        if token.cancelled:
            raise KeyboardInterrupt
        token.cancel()

    try:
        old = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _progress_bar(args, total_hint: int):
    from tqdm import tqdm

    bar = tqdm(total=total_hint, desc="adapt", unit="step", file=sys.stderr, dynamic_ncols=True,
               disable=None)

    def on_progress(p: Progress) -> None:
        if p.total and bar.total != p.total:
            bar.total = p.total
        bar.n = p.step
        bar.set_postfix({k: f"{v:.3f}" for k, v in p.values.items()}, refresh=False)
        bar.refresh()
        if p.preview is not None and args.preview_dir:
            from engine.pipeline.images import save_image_atomic, to_pil

            img = p.preview.unsqueeze(0)
            save_image_atomic(to_pil(img, None), Path(args.preview_dir) / f"step-{p.step:05d}.png")

    return bar, on_progress


def run(args) -> int:
    from engine.adaptation import adapt, distil_direction
    from engine.domains.direction import save_direction
    from engine.fileio import write_together

    out, distil_out = _check_args(args)
    loaded = load_model_arg(args.model, args.device)
    gen = loaded.generator
    torgb = False if args.no_torgb else (True if args.include_torgb else None)
    token = CancelToken()
    bar, on_progress = _progress_bar(args, args.steps or 0)
    refs = args.reference
    with _ctrl_c_cancels(token):
        try:
            result = adapt(loaded, refs, sources=args.source, text=tuple(args.text) if args.text else None,
                           param=args.param, loss=args.loss, steps=args.steps, batch=args.batch, lr=args.lr,
                           seed=args.seed, preset=args.preset, clip=args.clip, torgb=torgb, rank=args.rank,
                           sparsify=args.sparsify, aligned=args.aligned, centre_crop=args.centre_crop,
                           encoder=args.encoder, invert_steps=args.invert_steps, vgg16=args.vgg16,
                           preview_every=args.preview_every, name=args.name, progress=on_progress, cancel=token)
        finally:
            bar.close()
    summary = result.summary()
    summary["output"] = str(out)
    distilled = distil_direction(gen, result.delta, seed=args.seed) if distil_out is not None else None
    with write_together():  # OUT and OUT2 appear together, or neither does
        result.save(out)
        if distilled is not None:
            save_direction(distilled[0], distil_out)
    if distilled is not None:
        summary["distilled_direction"] = {"output": str(distil_out), **distilled[1]}
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    state = "cancelled, partial result" if result.cancelled else (f"stopped: {result.stopped}" if result.stopped
                                                                   else "done")
    losses = ", ".join(f"{k} {v:.4f}" for k, v in result.final_losses.items())
    print(f"{result.param} / {result.loss}: {result.steps_done}/{result.steps} steps in {result.seconds:.1f} s "
          f"({state}); {result.trained_count} parameters trained; final losses: {losses or 'none'}")
    for note in result.notes:
        print(f"note: {note}")
    if distil_out is not None:
        c = summary["distilled_direction"]
        print(f"distilled direction: {distil_out} (held-out L1 to the delta {c['l1_delta_direction']:.2f}, "
              f"ratio {c['ratio']:.3f} of no edit)")
    kind = "--direction" if result.direction is not None else "--delta"
    print(f"wrote {out}  (render it: styledomain render {args.model} --seed 1 {kind} {out} -o out.png)")
    return 0
