"""Picture grid of an adaptation on the demo world: reference, source render, adapted render(s), true target.

    PYTHONPATH=. python tools/adapt_grid.py clay --paired build/fs/clay-affine-paired.safetensors \\
        --one build/os/clay-affine-one.safetensors -o docs/screenshots/adapt-grid-clay.png

One row per held-out seed (default 1000..1003). Columns: the reference (few-shot: the first pair's target,
seed 100; one-shot: the domain render of seed 0), the unadapted model's render, the one-shot result (if
``--one``), the few-shot result (if ``--paired``), and the true target-domain image of that seed (the reference
and targets drawn at ``--drawn`` px and shrunk like a reference file, as the model saw them). The
64-px renders are upscaled ``--scale`` times (nearest neighbour) so the pixels stay honest.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from adapt_demo_table import domain_image, drawn_like_reference, load_result_file  # tools/, beside this file
from PIL import Image, ImageDraw, ImageFont

from engine.adaptation import render_adapted
from engine.checkpoints import load_generator
from engine.pipeline.seeds import z_batch_from_seeds
from engine.resources import demo_model_path

LABEL_H = 18


def _tile(arr: np.ndarray, scale: int) -> Image.Image:
    img = Image.fromarray(arr.astype(np.uint8))
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST)


def _uint8(img: torch.Tensor) -> list[np.ndarray]:
    x = ((img.clamp(-1, 1) + 1) * 127.5).round().permute(0, 2, 3, 1).cpu().numpy()
    return list(x.astype(np.uint8))


def drawing(seed: int, domain: str, size: int, drawn: int) -> np.ndarray:
    """The demo world's image of ``seed`` in ``domain`` at ``size``: drawn at ``drawn`` px and, when larger,
    resized like a reference file is loaded."""
    if drawn <= size:
        return np.asarray(domain_image(seed, domain, size))
    return _uint8(drawn_like_reference(seed, domain, size, drawn))[0]


def make_grid(domain: str, results: dict[str, str], seeds: list[int], scale: int, drawn: int = 256) -> Image.Image:
    loaded = load_generator(demo_model_path())
    gen = loaded.generator
    size = gen.config.size
    with torch.no_grad():
        w = gen.truncate(gen.mapping(z_batch_from_seeds(seeds, gen.config.style_dim)))
        columns = {"source render": _uint8(render_adapted(gen, w))}
        for label, path in results.items():
            columns[label] = _uint8(render_adapted(gen, w, *load_result_file(path)))
    columns["true target"] = [drawing(s, domain, size, drawn) for s in seeds]
    ref_seed = 100 if any("few-shot" in k for k in results) else 0
    reference = drawing(ref_seed, domain, size, drawn)
    labels = [f"reference (seed {ref_seed})", *columns]
    t = size * scale
    grid = Image.new("RGB", (t * len(labels), LABEL_H + t * len(seeds)), "white")
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default(size=12)  # the bitmap default dropped the space in "one-shot adapted"
    for c, label in enumerate(labels):
        draw.text((c * t + 4, 2), label, fill="black", font=font)
    for r, seed in enumerate(seeds):
        row = [reference if r == 0 else np.full_like(reference, 255)] + [col[r] for col in columns.values()]
        for c, arr in enumerate(row):
            grid.paste(_tile(arr, scale), (c * t, LABEL_H + r * t))
        draw.text((t + 4, LABEL_H + r * t + 2), f"seed {seed}", fill="yellow", font=font)
    return grid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("domain")
    ap.add_argument("--one", default=None, help="one-shot result file (delta or direction)")
    ap.add_argument("--paired", default=None, help="few-shot (paired) result file")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1000, 1001, 1002, 1003])
    ap.add_argument("--scale", type=int, default=3)
    ap.add_argument("--drawn", type=int, default=256,
                    help="draw the reference and the true targets at this size, then shrink them as a reference "
                         "file is loaded (the model's size: drawn directly, aliased line screens and all)")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    results = {}
    if args.one:
        results["one-shot adapted"] = args.one
    if args.paired:
        results["few-shot adapted"] = args.paired
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    make_grid(args.domain, results, args.seeds, args.scale, args.drawn).save(args.output)


if __name__ == "__main__":
    main()
