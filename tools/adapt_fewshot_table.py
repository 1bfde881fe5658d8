"""The demo world's table domain x parameterisation: ratio, parameters trained, seconds.

    PYTHONPATH=. python tools/adapt_fewshot_table.py --mode paired --json build/fewshot.json
    PYTHONPATH=. python tools/adapt_fewshot_table.py --mode one --params full affinelight stylespace stylespace-sparse

Ratio = mean L1 (0..255) of the adapted render vs the true target-domain image on held-out seeds
1000..1031 (psi 1), divided by the same L1 for the unadapted model. ``paired``: 8 pairs, seeds
100..107, sources = photo renders (inverted: demo encoder + 50 steps, as ``styledomain adapt --source``
does), targets = domain renders. ``one``: the domain render of seed 0 as the one reference, the default
loss. Every other setting is ``adapt``'s default unless ``--steps/--lr/--batch`` say otherwise.
``--cache DIR`` keeps the inverted references (W+ and image tensors) between runs.
``--draw 256``: every image (pair sources, pair targets, held-out true targets) is drawn at 256 px and
shrunk to the model's size with Lanczos, as the CLI does with 256-px PNGs (default: drawn at the model's
size; the demo renderer's fine lines alias differently at 64 px, see docs/adaptation.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.adaptation import Reference, adapt, render_adapted
from engine.adaptation.references import prepare_reference
from engine.checkpoints import load_generator
from engine.demo_world.domains import render
from engine.demo_world.faces import FaceParams
from engine.pipeline.seeds import z_batch_from_seeds
from engine.resources import demo_model_path

DOMAINS = ("clay", "pop_art", "sketch", "woodcut")
PARAMS = ("full", "affine", "affinelight", "stylespace", "stylespace-sparse")
HELD_OUT = list(range(1000, 1032))
PAIR_SEEDS = list(range(100, 108))
SPARSE_KEEP = 0.2


def domain_image(seed: int, domain: str, size: int, draw: int | None = None) -> Image.Image:
    """``seed``'s face in ``domain`` at ``size`` px, drawn at ``draw`` px (default ``size``) and shrunk
    with Lanczos (the CLI's image loading)."""
    img = Image.fromarray(render(FaceParams.from_seed(seed), domain, draw or size))
    return img if img.size == (size, size) else img.resize((size, size), Image.LANCZOS)


def true_targets(domain: str, size: int, seeds=HELD_OUT, draw: int | None = None) -> np.ndarray:
    return np.stack([np.asarray(domain_image(s, domain, size, draw), np.float32) for s in seeds])


def to_255(img: torch.Tensor) -> np.ndarray:
    return (img.clamp(-1, 1).permute(0, 2, 3, 1).cpu().numpy() + 1) * 127.5


def held_out_w(gen, seeds=HELD_OUT) -> torch.Tensor:
    with torch.no_grad():
        return gen.truncate(gen.mapping(z_batch_from_seeds(seeds, gen.config.style_dim)))


def _reference(loaded, seed: int, domain: str, steps: int, cache: Path | None,
               draw: int | None = None) -> Reference:
    size = loaded.generator.config.size
    tag = f"-d{draw}" if draw and draw != size else ""
    file = cache / f"{domain}-{seed}-{steps}{tag}.pt" if cache else None
    if file is not None and file.exists():
        d = torch.load(file, weights_only=True)
        return Reference(d["image"], d["w_plus"], f"{domain}-{seed}", "")
    ref = prepare_reference(domain_image(seed, domain, size, draw), loaded, invert_steps=steps)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"image": ref.image, "w_plus": ref.w_plus}, file)
    return ref


def references(loaded, domain: str, mode: str, cache: Path | None,
               draw: int | None = None) -> tuple[list[Reference], list[Reference]]:
    """(references, sources): the pairs' targets (not inverted) and inverted photo sources, or one reference."""
    if mode == "one":
        return [_reference(loaded, 0, domain, 50, cache, draw)], []
    refs = [_reference(loaded, s, domain, 0, cache, draw) for s in PAIR_SEEDS]
    srcs = [_reference(loaded, s, "photo", 50, cache, draw) for s in PAIR_SEEDS]
    return refs, srcs


def run_one(loaded, domain: str, param: str, refs, srcs, w, true, base: float, overrides: dict,
            draw: int | None = None) -> tuple[dict, object]:
    gen = loaded.generator
    kw = {"sparsify": SPARSE_KEEP} if param == "stylespace-sparse" else {}
    t0 = time.perf_counter()
    res = adapt(loaded, refs, sources=srcs, param=param.removesuffix("-sparse"),
                loss="paired" if srcs else None, seed=0, **overrides, **kw)
    secs = time.perf_counter() - t0
    img = to_255(render_adapted(gen, w, res.delta, res.direction))
    trained = res.trained_count
    if res.direction is not None and param == "stylespace-sparse":
        trained = int((res.direction.values != 0).sum())
    row = {"domain": domain, "param": param, "mode": "paired" if srcs else "one", "loss": res.loss,
           "draw": draw,
           "ratio": round(float(np.abs(img - true).mean() / base), 3), "base_l1": round(base, 2),
           "trained": trained, "steps": res.steps_done, "seconds": round(secs, 1),
           "final_loss": res.final_losses.get("total"), "preset": res.preset.name, "lr": res.preset.lr}
    return row, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--domains", nargs="+", default=list(DOMAINS))
    ap.add_argument("--params", nargs="+", default=list(PARAMS), choices=PARAMS)
    ap.add_argument("--mode", choices=["one", "paired"], default="paired")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--draw", type=int, default=None, help="draw every image at this size, then shrink (e.g. 256)")
    ap.add_argument("--preset", default=None, help="adapt's --preset (default: adapt's choice)")
    ap.add_argument("--cache", default=None, help="folder for the inverted references (reused between runs)")
    ap.add_argument("--save-dir", default=None, help="write each result file here")
    ap.add_argument("--json", default=None, help="append the rows to this JSON-lines file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    loaded = load_generator(demo_model_path())
    gen = loaded.generator
    w = held_out_w(gen)
    with torch.no_grad():
        source = to_255(render_adapted(gen, w))
    overrides = {k: v for k, v in (("steps", args.steps), ("lr", args.lr), ("batch", args.batch),
                                   ("preset", args.preset)) if v is not None}
    cache = Path(args.cache) if args.cache else None
    for domain in args.domains:
        true = true_targets(domain, gen.config.size, draw=args.draw)
        base = float(np.abs(source - true).mean())
        refs, srcs = references(loaded, domain, args.mode, cache, args.draw)
        for param in args.params:
            row, res = run_one(loaded, domain, param, refs, srcs, w, true, base, overrides, args.draw)
            print(json.dumps(row), flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(row) + "\n")
            if args.save_dir:
                Path(args.save_dir).mkdir(parents=True, exist_ok=True)
                suffix = f"-d{args.draw}" if args.draw else ""
                res.save(Path(args.save_dir) / f"{domain}-{param}-{args.mode}{suffix}.safetensors")


if __name__ == "__main__":
    main()
