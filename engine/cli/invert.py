"""``styledomain invert PHOTO --model M [--encoder E] [--steps N] [--aligned] -o LATENT [--preview out.png]``.

LATENT by extension: ``.npy`` (float32 [num_ws, w_dim]) or ``.safetensors`` (tensor ``w_plus`` of the same
shape, plus metadata: model, photo sha256, alignment quad, encoder, steps).
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.errors import UserError
from engine.fileio import write_together
from engine.inversion import DEFAULT_STEPS, MODES, invert_photo
from engine.pipeline.images import save_image_atomic, to_pil
from engine.pipeline.latent_file import LATENT_SUFFIXES, save_latent
from engine.stylespace import layout_fingerprint, style_layout
from engine.validation import block_resolution

from .arg_types import encoder_choice, face_arg, library_file, need, positive_float, size_arg, steps_arg
from .common import add_device_arg, load_model_arg, output_path


def register(sub) -> None:
    p = sub.add_parser("invert", help="turn a face photo into a W+ latent for a model (encoder + optimisation)")
    p.add_argument("photo", metavar="PHOTO")
    p.add_argument("--model", "-m", required=True, help="generator file or model-library name")
    p.add_argument("--encoder", "-e", default=None, type=library_file("encoder", keep=("none",)),
                   help="encoder: a StyleDomain .safetensors encoder or an e4e .pt, or a model-library name "
                   "(default: the encoder shipped for the model, if any; 'none' starts from w_avg)")
    p.add_argument("--steps", type=steps_arg, default=DEFAULT_STEPS,
                   help=f"optimisation steps after the encoder; 0 = encoder only (default {DEFAULT_STEPS})")
    p.add_argument("--aligned", action="store_true", help="PHOTO is already an aligned face crop "
                   "(skip detection and alignment, only resize)")
    p.add_argument("-o", "--output", required=True, help="output latent .npy or .safetensors")
    p.add_argument("--preview", default=None, help="also write the reconstruction as .png/.jpg")
    p.add_argument("--mode", choices=MODES, default="w+", help="optimise W, W+ (default) or W+ and noise maps")
    p.add_argument("--resolution", type=size_arg, default=None,
                   help="optimise at this synthesis resolution (default: model size, at most 256 on CPU)")
    p.add_argument("--lr", type=positive_float, default=None, help="peak learning rate (default 0.1)")
    p.add_argument("--vgg16", default=None, type=library_file("vgg"),
                   help="torchvision VGG16 weights file or model-library name: use LPIPS-VGG as the loss "
                   "(default: multi-scale L1+L2, plus discriminator features when the model has them)")
    p.add_argument("--face", type=face_arg, default=1, help="which face to use, 1 = largest")
    p.add_argument("--centre-crop", action="store_true", help="use the centred square crop, no face detection")
    add_device_arg(p)
    p.set_defaults(handler=run)


def check_args(args) -> tuple[Path, Path | None]:
    """Validate everything cheap before loading anything."""
    out = output_path(args.output, LATENT_SUFFIXES)
    preview = output_path(args.preview, (".png", ".jpg", ".jpeg")) if args.preview else None
    if args.steps < 0:
        raise UserError(f"--steps must be >= 0, got {args.steps}")
    if args.face < 1:
        raise UserError(f"--face must be 1 or more, got {args.face}")
    if args.aligned and args.centre_crop:
        raise UserError("--aligned and --centre-crop exclude each other")
    if not Path(args.photo).is_file():
        raise UserError(f"{args.photo}: file not found")
    need(args.encoder)  # an unknown library name: one line, before the model is loaded
    need(args.vgg16)
    return out, preview


def run(args) -> int:
    out, preview = check_args(args)
    loaded = load_model_arg(args.model, args.device)  # a path, a library name or a sha256 prefix
    block_resolution(args.resolution, loaded.generator.config)
    encoder = encoder_choice(args.encoder)
    res = invert_photo(args.photo, loaded, encoder=encoder, steps=args.steps, aligned=args.aligned,
                       face_index=args.face - 1, centre_crop=args.centre_crop, mode=args.mode,
                       resolution=args.resolution, lr=args.lr, vgg16=args.vgg16)
    w_plus = res.w_plus
    gen = loaded.generator
    meta = {
        "format": "styledomain.latent", "format_version": "1", "space": "w_plus",
        "model_name": loaded.name, "model_sha256": loaded.sha256,
        "model_fingerprint": layout_fingerprint(style_layout(gen.config)),
        "photo": Path(args.photo).name, "photo_sha256": res.photo_sha256,
        "alignment": json.dumps(res.alignment), "aligned_input": str(bool(args.aligned)).lower(),
        "encoder": res.encoder, "encoder_kind": res.encoder_kind, "steps": str(res.steps),
        "mode": args.mode if res.steps else "", "loss": res.loss,
        "psnr": str(res.psnr), "ssim": str(res.ssim),
    }
    with write_together():  # the latent and the preview appear together, or neither does
        save_latent(out, w_plus, meta, res.noise)
        if preview is not None:
            save_image_atomic(to_pil(res.reconstruction), preview)
    for note in res.notes:
        print(f"note: {note}")
    how = f"encoder {res.encoder}" if res.encoder != "none" else "w_avg start"
    print(f"wrote {out} ({w_plus.shape[0]}x{w_plus.shape[1]}; {how}, {res.steps} steps"
          f"{', ' + res.loss if res.loss else ''}; PSNR {res.psnr} dB, SSIM {res.ssim} on the "
          f"aligned crop; {res.seconds:.1f} s)")
    if preview is not None:
        print(f"wrote {preview}")
    return 0
