"""The demo world's adaptation table: ratio of adapted-vs-true-target L1 to unadapted-vs-target L1.

    PYTHONPATH=. python tools/adapt_demo_table.py --domains sketch clay --params affine --mode one
    PYTHONPATH=. python tools/adapt_demo_table.py --mode paired --json build/adapt-paired.json

One-shot: the reference is the domain render of ``--ref-seed`` (inverted by the demo encoder + 50
steps, as ``styledomain adapt --reference IMG --aligned`` does). Few-shot (``paired``): seeds
100..107, sources = photo renders, targets = domain renders. Held-out seeds 1000..1031 (psi 1).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.adaptation import adapt, render_adapted
from engine.adaptation.references import prepare_reference
from engine.checkpoints import load_generator
from engine.demo_world.domains import render
from engine.demo_world.faces import FaceParams
from engine.pipeline.seeds import z_batch_from_seeds
from engine.resources import demo_model_path

HELD_OUT = list(range(1000, 1032))
PAIR_SEEDS = list(range(100, 108))


def domain_image(seed: int, domain: str, size: int) -> Image.Image:
    return Image.fromarray(render(FaceParams.from_seed(seed), domain, size))


def targets(domain: str, seeds: list[int], size: int) -> np.ndarray:
    return np.stack([np.asarray(domain_image(s, domain, size), np.float32) for s in seeds])


def to_255(img: torch.Tensor) -> np.ndarray:
    return (img.clamp(-1, 1).permute(0, 2, 3, 1).cpu().numpy() + 1) * 127.5


def held_out_w(gen) -> torch.Tensor:
    with torch.no_grad():
        return gen.truncate(gen.mapping(z_batch_from_seeds(HELD_OUT, gen.config.style_dim)))


def ratio(gen, result, w, true: np.ndarray, base_l1: float) -> float:
    img = to_255(render_adapted(gen, w, result.delta, result.direction))
    return float(np.abs(img - true).mean() / base_l1)


def load_result_file(path: str):
    """(delta, None) for a parameter-delta file, (None, direction) for a direction file."""
    from engine.domains.direction import load_direction
    from engine.domains.param_delta import FORMAT_NAME, load_param_delta
    from engine.fileio import read_safetensors_metadata

    if read_safetensors_metadata(path).get("format") == FORMAT_NAME:
        return load_param_delta(path), None
    return None, load_direction(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--domains", nargs="+", default=["clay", "pop_art", "sketch", "woodcut"])
    ap.add_argument("--params", nargs="+", default=["affine"])
    ap.add_argument("--mode", choices=["one", "paired"], default="one")
    ap.add_argument("--ref-seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--coarse-rows", type=int, default=None)
    ap.add_argument("--anchor", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--save-dir", default=None, help="write each result file here")
    ap.add_argument("--json", default=None)
    ap.add_argument("--evaluate", nargs="+", default=None, metavar="DOMAIN=FILE",
                    help="only measure saved delta/direction files, e.g. sketch=resources/domains/sketch.safetensors")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    loaded = load_generator(demo_model_path())
    gen = loaded.generator
    size = gen.config.size
    w = held_out_w(gen)
    with torch.no_grad():
        source = to_255(render_adapted(gen, w))
    rows = []
    if args.evaluate:
        for item in args.evaluate:
            domain, _, path = item.partition("=")
            true = targets(domain, HELD_OUT, size)
            base = float(np.abs(source - true).mean())
            delta, direction = load_result_file(path)
            img = to_255(render_adapted(gen, w, delta, direction))
            row = {"domain": domain, "file": path, "ratio": round(float(np.abs(img - true).mean() / base), 3)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    for domain in [] if args.evaluate else args.domains:
        true = targets(domain, HELD_OUT, size)
        base = float(np.abs(source - true).mean())
        if args.mode == "one":
            refs = [prepare_reference(domain_image(args.ref_seed, domain, size), loaded)]
            srcs = []
        else:
            refs = [prepare_reference(domain_image(s, domain, size), loaded, invert_steps=0) for s in PAIR_SEEDS]
            srcs = [prepare_reference(domain_image(s, "photo", size), loaded) for s in PAIR_SEEDS]
        for param in args.params:
            t0 = time.perf_counter()
            kw = {"sparsify": 0.2} if param == "stylespace-sparse" else {}
            res = adapt(loaded, refs, sources=srcs, param=param.replace("-sparse", ""),
                        loss="paired" if srcs else "jojo", steps=args.steps, lr=args.lr, seed=0,
                        batch=args.batch, coarse_rows=args.coarse_rows, jojo_anchor=args.anchor, **kw)
            secs = time.perf_counter() - t0
            r = ratio(gen, res, w, true, base)
            row = {"domain": domain, "param": param, "mode": args.mode, "ratio": round(r, 3),
                   "base_l1": round(base, 2), "trained": res.trained_count, "steps": res.steps_done,
                   "seconds": round(secs, 1), "final_loss": res.final_losses.get("total")}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.save_dir:
                Path(args.save_dir).mkdir(parents=True, exist_ok=True)
                res.save(Path(args.save_dir) / f"{domain}-{param}-{args.mode}.safetensors")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
