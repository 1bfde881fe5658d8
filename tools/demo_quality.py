"""Quality figures of the demo generator against the procedural renderer it was distilled from.

Two numbers, each also computed for a randomly initialised generator of the same architecture
(with its own ``w_avg``), so the figure means something:

* ``paired_l1``: mean absolute pixel difference (0..255 scale) between ``render --seed s`` and the
  renderer's face for the same seed, on held-out seeds (never in the training pool);
* ``nn_l2``: mean distance (RMS over pixels, 0..255 scale) from each sample to its nearest
  neighbour in a pool of renderer faces: does the sample look like *some* demo face?
* ``feature_l1`` and ``feature_contrast``: the same paired L1, and the ratio of pixel standard
  deviations (sample / render), inside small windows on the two eyes and the mouth
  (``engine.demo_world.quality``): are the facial features there, or smoothed into skin? A
  contrast of 1 means as much detail as the renderer; a blurry face scores far below 1.

    PYTHONPATH=. python tools/demo_quality.py resources/models/demo-faces-64.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
from PIL import Image

from engine.checkpoints import load_generator
from engine.demo_world.faces import FaceParams, render_photo
from engine.demo_world.quality import feature_scores, seed_feature_boxes
from engine.generator import Generator
from engine.pipeline.images import save_image_atomic, to_uint8
from engine.pipeline.seeds import z_batch_from_seeds, z_from_seed

HELD_OUT_BASE = 1_000_000  # the training pool uses seeds 0..pool-1


def sample(gen: Generator, seeds: list[int]) -> np.ndarray:
    """``styledomain render`` path for each seed (psi 1, const noise): [N, H, W, 3] uint8."""
    z = z_batch_from_seeds(seeds, gen.config.style_dim)
    with torch.no_grad():
        img = gen.synthesize(gen.styles(gen.truncate(gen.mapping(z))), "const")
    return to_uint8(img)


def renders(seeds: list[int], z_dim: int, size: int) -> np.ndarray:
    return np.stack([render_photo(FaceParams.from_z(z_from_seed(s, z_dim)[0]), size) for s in seeds])


def paired_l1(fake: np.ndarray, real: np.ndarray) -> float:
    return float(np.abs(fake.astype(np.float32) - real.astype(np.float32)).mean())


def nn_l2(fake: np.ndarray, pool: np.ndarray) -> float:
    f = fake.reshape(len(fake), -1).astype(np.float32)
    p = pool.reshape(len(pool), -1).astype(np.float32)
    d2 = (f**2).sum(1)[:, None] + (p**2).sum(1)[None, :] - 2 * f @ p.T
    return float(np.sqrt(np.maximum(d2.min(1), 0) / f.shape[1]).mean())


def random_init_like(gen: Generator, seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    rnd = Generator(gen.config).eval().requires_grad_(False)
    rnd.w_avg.copy_(rnd.compute_w_avg(1024))
    return rnd


def measure(gen: Generator, n: int = 64, pool: int = 512) -> dict:
    size, z_dim = gen.config.size, gen.config.style_dim
    seeds = list(range(HELD_OUT_BASE, HELD_OUT_BASE + n))
    real = renders(seeds, z_dim, size)
    pool_imgs = renders(list(range(2 * HELD_OUT_BASE, 2 * HELD_OUT_BASE + pool)), z_dim, size)
    windows = seed_feature_boxes(seeds, size)
    out = {}
    for name, g in (("model", gen), ("random_init", random_init_like(gen))):
        fake = sample(g, seeds)
        f_l1, f_contrast = feature_scores(fake, real, windows)
        out[name] = {"paired_l1": round(paired_l1(fake, real), 2), "nn_l2": round(nn_l2(fake, pool_imgs), 2),
                     "feature_l1": round(f_l1, 2), "feature_contrast": round(f_contrast, 3)}
    # Reference: how far apart two different renderer faces are (a floor for "looks like a face").
    other = np.roll(real, 1, 0)
    f_l1, f_contrast = feature_scores(other, real, windows)
    out["renderer_vs_other_renderer_faces"] = {"paired_l1": round(paired_l1(real, other), 2),
                                               "nn_l2": round(nn_l2(real, pool_imgs), 2),
                                               "feature_l1": round(f_l1, 2), "feature_contrast": round(f_contrast, 3)}
    out["samples"], out["pool"] = n, pool
    return out


def sample_grid(gen: Generator, seeds: list[int], cols: int = 4, with_targets: bool = False) -> Image.Image:
    """Generator samples (and, optionally, the renderer's face below each) as one image."""
    fake = sample(gen, seeds)
    tiles = [fake]
    if with_targets:
        tiles.append(renders(seeds, gen.config.style_dim, gen.config.size))
    rows = []
    for r in range(0, len(seeds), cols):
        for t in tiles:
            rows.append(np.concatenate(list(t[r:r + cols]), axis=1))
    return Image.fromarray(np.concatenate(rows, axis=0))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--pool", type=int, default=512)
    ap.add_argument("--grid", default="", help="also write a 4x4 grid of seeds 0..15 (render path) here")
    ap.add_argument("--compare", default="", help="also write held-out samples above their renderer faces")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    gen = load_generator(args.model).generator
    if args.grid:
        save_image_atomic(sample_grid(gen, list(range(16))), args.grid)
    if args.compare:
        save_image_atomic(sample_grid(gen, list(range(HELD_OUT_BASE, HELD_OUT_BASE + 8)), 8, True), args.compare)
    print(json.dumps(measure(gen, args.samples, args.pool), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
