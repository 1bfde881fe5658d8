"""``styledomain render MODEL --seed N [--psi P] [--noise-mode M] [--size S] -o out.png``."""

from __future__ import annotations

import torch

from engine.device import pick_dtype
from engine.generator import NOISE_MODES
from engine.pipeline.images import save_image_atomic, to_pil
from engine.pipeline.seeds import w_plus_from_seed

from .common import add_device_arg, load_model_arg, output_path
from .directions_render import add_direction_args, edit_for_render


def register(sub) -> None:
    p = sub.add_parser("render", help="render a seed to a PNG (NVIDIA generate.py conventions)")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--seed", type=int, required=True, help="np.random.RandomState(seed).randn(1, z_dim)")
    p.add_argument("--psi", type=float, default=1.0, help="truncation psi toward w_avg (default 1)")
    p.add_argument("--cutoff", type=int, default=None, help="truncate only the first N W+ rows")
    p.add_argument("--noise-mode", choices=NOISE_MODES, default="const")
    p.add_argument("--size", type=int, default=None, help="output size; a lower synthesis resolution "
                   "stops early (fast preview), other sizes are resampled")
    p.add_argument("-o", "--output", required=True, help="output .png")
    p.add_argument("--precision", default="fp32", help="fp32 (default); fp16/bf16 on CUDA, bf16 on CPUs with AMX")
    add_device_arg(p)
    add_direction_args(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = output_path(args.output, (".png",))
    loaded = load_model_arg(args.model, args.device)
    gen = loaded.generator
    size = args.size or gen.config.size
    early = size if size in gen.config.resolutions else None
    with torch.no_grad():
        styles = gen.styles(w_plus_from_seed(gen, args.seed, args.psi, args.cutoff))
        edit = edit_for_render(args, loaded)
        conv_scales = None
        if edit is not None:
            styles, conv_scales = edit.styles(styles), edit.in_scales()
        gen_rng = torch.Generator().manual_seed(args.seed)
        dtype = pick_dtype(args.precision, gen.w_avg.device)
        impl = "reference" if dtype == torch.float32 else "fast"
        img = gen.synthesize(styles, args.noise_mode, max_resolution=early, generator=gen_rng, impl=impl,
                             dtype=dtype, conv_scales=conv_scales)
    save_image_atomic(to_pil(img, size), out)
    if loaded.metadata.get("demo") == "true":
        print("rendered with the built-in demo model; import real weights with `styledomain convert`")
    print(f"wrote {out}")
    return 0
