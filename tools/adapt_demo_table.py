"""The demo world's adaptation table: ratio of adapted-vs-true-target L1 to unadapted-vs-target L1.

    PYTHONPATH=. python tools/adapt_demo_table.py --domains sketch clay --params affine --mode one
    PYTHONPATH=. python tools/adapt_demo_table.py --mode paired --json build/adapt-paired.json

One-shot: the reference is the PNG file ``resources/domains/references/<domain>-seed<S>.png`` (drawn at
256 px; for a seed without a shipped file the same drawing is written to a temporary PNG), given to
``adapt`` as a path with ``aligned=True``, exactly as ``styledomain adapt --reference IMG --aligned`` loads
it (PIL Lanczos to the model's size, encoder + 50 refinement steps). Few-shot (``paired``): seeds
100..107, sources = photo renders, targets = domain renders (``--pair-size 256``: drawn at 256 px and loaded
like a reference, as the CLI loads 256-px PNG pairs). Held-out seeds 1000..1031 (psi 1).

Every ratio is reported against two sets of "true targets" for the held-out seeds: ``native64`` (drawn
directly at the model's size) and ``shrunk256`` (drawn at 256 px, then resized to the model's size by the
same loading path as the reference, ``engine.inversion.api.image_to_tensor``). ``shrunk256`` is made the
same way as the one-shot reference, so it is the fair one for one-shot runs (see docs/adaptation.md).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.adaptation import adapt, presets, render_adapted
from engine.adaptation.references import prepare_reference
from engine.checkpoints import load_generator
from engine.demo_world.domains import render
from engine.demo_world.faces import FaceParams
from engine.inversion.api import image_to_tensor
from engine.pipeline.seeds import z_batch_from_seeds
from engine.resources import demo_model_path

HELD_OUT = list(range(1000, 1032))
PAIR_SEEDS = list(range(100, 108))


def domain_image(seed: int, domain: str, size: int) -> Image.Image:
    return Image.fromarray(render(FaceParams.from_seed(seed), domain, size))


REF_DIR = Path(__file__).resolve().parents[1] / "resources" / "domains" / "references"
REF_SIZE = 256
CACHE = Path(__file__).resolve().parents[1] / "build" / "adapt-targets"
TARGET_SETS = ("native64", "shrunk256")


def targets(domain: str, seeds: list[int], size: int, how: str = "native64") -> np.ndarray:
    """[N, S, S, 3] float 0..255: drawn at ``size`` (native64) or at 256 px and loaded like a reference.
    Cached under build/adapt-targets/ (the drawings are deterministic)."""
    cache = CACHE / f"{domain}-{how}-{size}-{seeds[0]}-{len(seeds)}.npy"
    if cache.exists():
        return np.load(cache)
    out = _draw_targets(domain, seeds, size, how)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, out)
    return out


def drawn_like_reference(seed: int, domain: str, size: int, drawn: int = REF_SIZE) -> torch.Tensor:
    """[1, 3, size, size] in [-1, 1]: the drawing at ``drawn`` px, loaded as a reference file is
    (``engine.inversion.api.image_to_tensor``)."""
    return image_to_tensor(domain_image(seed, domain, drawn), size)


def _draw_targets(domain: str, seeds: list[int], size: int, how: str) -> np.ndarray:
    if how == "native64":
        return np.stack([np.asarray(domain_image(s, domain, size), np.float32) for s in seeds])
    return np.concatenate([to_255(drawn_like_reference(s, domain, size)) for s in seeds])


def reference_file(domain: str, seed: int, tmp: Path) -> Path:
    """The shipped 256-px reference PNG of ``domain`` / ``seed``, or the same drawing written under ``tmp``."""
    shipped = REF_DIR / f"{domain}-seed{seed}.png"
    if shipped.exists():
        return shipped
    path = tmp / f"{domain}-seed{seed}.png"
    domain_image(seed, domain, REF_SIZE).save(path)
    return path


def parse_value(text: str):
    if "," in text:  # a tuple, e.g. plateau=25,0.015
        return tuple(parse_value(t) for t in text.split(","))
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def to_255(img: torch.Tensor) -> np.ndarray:
    return (img.clamp(-1, 1).permute(0, 2, 3, 1).cpu().numpy() + 1) * 127.5


def held_out_w(gen) -> torch.Tensor:
    with torch.no_grad():
        return gen.truncate(gen.mapping(z_batch_from_seeds(HELD_OUT, gen.config.style_dim)))


def ratios(img: np.ndarray, source: np.ndarray, trues: dict[str, np.ndarray]) -> dict[str, float]:
    """Ratio per target set: L1(adapted, true) / L1(unadapted, true)."""
    return {k: round(float(np.abs(img - t).mean() / np.abs(source - t).mean()), 3) for k, t in trues.items()}


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
    ap.add_argument("--pair-size", type=int, default=None,
                    help="paired: draw the pairs at this size and load them like a reference (256: like the "
                         "CLI with 256-px PNGs, the fair set against shrunk256); default: the model's size")
    ap.add_argument("--pair-seed", type=int, default=None,
                    help="paired: the 8 pairs' first seed (default 100: seeds 100..107)")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--coarse-rows", type=int, default=None)
    ap.add_argument("--anchor", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--save-dir", default=None, help="write each result file here")
    ap.add_argument("--json", default=None)
    ap.add_argument("--eval-every", type=int, default=0,
                    help="experiment: print the held-out ratios every K training steps (one-shot)")
    ap.add_argument("--preset-set", nargs="+", default=[], metavar="FIELD=VALUE",
                    help="experiment: override fields of the default preset (e.g. steps=150 lr=0.01)")
    ap.add_argument("--evaluate", nargs="+", default=None, metavar="DOMAIN=FILE",
                    help="only measure saved delta/direction files, e.g. sketch=resources/domains/sketch.safetensors")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    _override_presets(args.preset_set)
    loaded = load_generator(demo_model_path())
    gen = loaded.generator
    size = gen.config.size
    w = held_out_w(gen)
    with torch.no_grad():
        source = to_255(render_adapted(gen, w))
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="adapt-table-"))
    for item in args.evaluate or []:
        domain, _, path = item.partition("=")
        trues = {k: targets(domain, HELD_OUT, size, k) for k in TARGET_SETS}
        delta, direction = load_result_file(path)
        img = to_255(render_adapted(gen, w, delta, direction))
        row = {"domain": domain, "file": path, "ratio": ratios(img, source, trues)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    for domain in [] if args.evaluate else args.domains:
        trues = {k: targets(domain, HELD_OUT, size, k) for k in TARGET_SETS}
        if args.mode == "one":
            refs = [str(reference_file(domain, args.ref_seed, tmp))]
            srcs = []
        else:
            drawn = args.pair_size or size
            seeds = range(args.pair_seed, args.pair_seed + len(PAIR_SEEDS)) if args.pair_seed else PAIR_SEEDS
            refs = [prepare_reference(domain_image(s, domain, drawn), loaded, invert_steps=0) for s in seeds]
            srcs = [prepare_reference(domain_image(s, "photo", drawn), loaded) for s in seeds]
        if args.eval_every:
            _trace_ratios(gen, w, source, trues, args.eval_every, domain)
        for param in args.params:
            t0 = time.perf_counter()
            kw = {"sparsify": 0.2} if param == "stylespace-sparse" else {}
            res = adapt(loaded, refs, sources=srcs, param=param.replace("-sparse", ""),
                        loss="paired" if srcs else "jojo", steps=args.steps, lr=args.lr, seed=0,
                        batch=args.batch, coarse_rows=args.coarse_rows, jojo_anchor=args.anchor,
                        aligned=args.mode == "one", **kw)
            secs = time.perf_counter() - t0
            img = to_255(render_adapted(gen, w, res.delta, res.direction))
            row = {"domain": domain, "param": param, "mode": args.mode, "ref_seed": args.ref_seed,
                   "pair_size": args.pair_size if args.mode == "paired" else None,
                   "pair_seed": args.pair_seed if args.mode == "paired" else None,
                   "ratio": ratios(img, source, trues), "trained": res.trained_count, "steps": res.steps_done,
                   "seconds": round(secs, 1), "final_loss": res.final_losses.get("total"),
                   "preset_set": args.preset_set, "notes": res.notes}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.save_dir:
                Path(args.save_dir).mkdir(parents=True, exist_ok=True)
                res.save(Path(args.save_dir) / f"{domain}-{param}-{args.mode}.safetensors")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


def _trace_ratios(gen, w, source, trues, every: int, domain: str) -> None:
    """Experiments only: wrap the engine's per-step loss call to print the ratios every ``every`` steps."""
    from engine.adaptation import api

    original = getattr(api, "_original_step_loss", api._step_loss)
    api._original_step_loss = original

    def traced(loss_fn, p, step, dev, notes, opt):
        if step and step % every == 0:
            with torch.no_grad():
                img = to_255(p.render(w))
            print(json.dumps({"domain": domain, "step": step, "ratio": ratios(img, source, trues)}), flush=True)
        total, values = original(loss_fn, p, step, dev, notes, opt)
        if step % every == 0:
            print(json.dumps({"domain": domain, "step": step, "losses": {k: round(v, 4) for k, v in values.items()}}),
                  flush=True)
        return total, values

    api._step_loss = traced


def _override_presets(items: list[str]) -> None:
    """Experiments only: replace fields of the small-model one-shot and paired presets in the registry."""
    if not items:
        return
    fields = {k: parse_value(v) for k, _, v in (i.partition("=") for i in items)}
    for name in ("cpu-small-affine", "cpu-small-stylespace", "cpu-small-paired-affine", "cpu-small-paired-stylespace"):
        presets.PRESETS[name] = replace(presets.PRESETS[name], **fields)


if __name__ == "__main__":
    main()
