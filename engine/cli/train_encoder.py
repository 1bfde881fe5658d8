"""``styledomain train-encoder MODEL -o ENCODER.safetensors [--steps N] [--size S]``.

Trains a small encoder on the generator's own samples; saves weights + JSON metadata (architecture,
generator layout fingerprint and sha256, training settings, held-out reconstruction quality).
"""

from __future__ import annotations

import sys

from engine.errors import UserError
from engine.inversion.encoder_training import EncoderTrainingSettings, evaluate_encoder, train_encoder
from engine.inversion.small_encoder import SmallEncoderConfig, save_encoder
from engine.jobs import Progress
from engine.stylespace import layout_fingerprint, style_layout
from engine.validation import training_request

from .arg_types import batch_arg, int_in, nonneg_int, positive_float, positive_int, seed_arg, size_arg
from .common import add_device_arg, load_model_arg, output_path


def register(sub) -> None:
    p = sub.add_parser("train-encoder", help="train a small image -> W+ encoder on a model's own samples")
    p.add_argument("model", metavar="MODEL", help="generator file or model-library name")
    p.add_argument("-o", "--output", required=True, help="output encoder .safetensors")
    p.add_argument("--steps", type=positive_int, default=2000, help="training steps (default 2000)")
    p.add_argument("--size", type=size_arg, default=None,
                   help="encoder input size in px (default: min(model size, 64))")
    p.add_argument("--batch", type=batch_arg, default=16)
    p.add_argument("--lr", type=positive_float, default=2e-3)
    p.add_argument("--width", type=int_in(1, 512), default=16,
                   help="channels of the first conv (doubling, capped at 8x)")
    p.add_argument("--hidden", type=int_in(1, 8192), default=256, help="width of the hidden fully connected layer")
    p.add_argument("--image-res", type=size_arg, default=64, help="resolution of the image reconstruction loss")
    p.add_argument("--image-every", type=positive_int, default=1, help="add the image loss every N steps")
    p.add_argument("--pool", type=nonneg_int, default=0, help="render this many samples once and train on them "
                   "(faster on a CPU; default 0 = fresh samples every step)")
    p.add_argument("--time-limit", type=positive_float, default=None, help="stop after this many seconds")
    p.add_argument("--seed", type=seed_arg, default=0)
    add_device_arg(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = output_path(args.output, (".safetensors",))
    if args.steps < 1:
        raise UserError(f"--steps must be >= 1, got {args.steps}")
    if args.pool < 0 or args.image_every < 1:
        raise UserError("--pool must be >= 0 and --image-every >= 1")
    if args.batch < 1:
        raise UserError(f"--batch must be >= 1, got {args.batch}")
    loaded = load_model_arg(args.model, args.device)
    gen = loaded.generator
    training_request(gen.config, args.batch, args.image_res, pool=args.pool, device=gen.w_avg.device)
    size = args.size or min(gen.config.size, 64)
    try:
        cfg = SmallEncoderConfig(input_size=size, num_ws=gen.num_ws, w_dim=gen.config.style_dim,
                                 base_width=args.width, max_width=8 * args.width, hidden=args.hidden)
    except ValueError as exc:
        raise UserError(f"--size: {exc}") from None
    settings = EncoderTrainingSettings(steps=args.steps, batch=args.batch, lr=args.lr, image_res=args.image_res,
                                       image_every=args.image_every, pool=args.pool, time_limit=args.time_limit,
                                       seed=args.seed)
    every = max(1, args.steps // 20)

    acc: dict[str, list[float]] = {"latent": [], "image": []}

    def progress(p: Progress) -> None:
        if not p.values:  # the sample pool being rendered
            return
        step, total, losses = p.step, p.total, p.values
        acc["latent"].append(losses["latent"])
        if losses["image"] > 0:
            acc["image"].append(losses["image"])
        if step % every == 0 or step == total:
            mean = {k: sum(v) / len(v) if v else 0.0 for k, v in acc.items()}
            print(f"step {step}/{total}  latent {mean['latent']:.4f}  image {mean['image']:.4f} "
                  f"(means since the last line)", file=sys.stderr, flush=True)
            acc["latent"].clear()
            acc["image"].clear()

    enc, summary = train_encoder(gen, cfg, settings, progress)
    quality = evaluate_encoder(gen, enc)
    training = {**summary, "heldout": quality}
    save_encoder(enc, out, generator_fingerprint=layout_fingerprint(style_layout(gen.config)),
                 generator_sha256=loaded.sha256, generator_name=loaded.path.name, training=training)
    print(f"wrote {out} ({summary['steps_done']} steps, {summary['seconds']} s; held-out PSNR {quality['psnr']} dB "
          f"vs {quality['psnr_w_avg']} dB for w_avg)")
    return 0
