"""Bench task ``batch``: images per minute and busy seconds per stage (``styledomain bench --tasks batch``).

Renders ``count`` seed faces with the model as aligned input photos, then exports them with
:func:`engine.pipeline.batch.run_batch` (encoder, no optimisation steps, an empty edit) into a temporary
folder. ``overlap`` is the busiest stage's busy time over the wall time: 1.0 means the run is as fast as its
slowest stage (the issue's target is >= 0.8). The model: MODEL, else the built-in demo model on a CPU, else
the bench's random generator saved to a temporary file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from engine.bench.registry import BenchOptions


def _model_file(opts: BenchOptions, folder: Path) -> Path:
    from engine.checkpoints.native import save_native
    from engine.resources import demo_model_path

    if opts.model:
        return Path(opts.model)
    demo = demo_model_path()
    if opts.device.type == "cpu" and demo is not None:
        return demo
    path = folder / "bench-generator.safetensors"
    save_native(opts.generator().cpu() if opts.device.type == "cpu" else opts.generator(), path)
    return path


def run(opts: BenchOptions) -> dict:
    from engine.checkpoints import load_generator
    from engine.pipeline.edit import Edit, render_edit_image
    from engine.pipeline.photo_edit import effective_recipe
    from engine.pipeline.recipe import LatentRef, save_recipe

    from .api import run_batch

    count = int(getattr(opts.args, "batch_images", None) or 24)
    with tempfile.TemporaryDirectory(prefix="styledomain-bench-batch-") as tmp:
        folder = Path(tmp)
        model = _model_file(opts, folder)
        loaded = load_generator(model, device=str(opts.device))
        inputs = folder / "in"
        inputs.mkdir()
        with torch.no_grad():
            for seed in range(count):
                render_edit_image(loaded.generator, seed).save(inputs / f"face-{seed:04d}.png")
        recipe = save_recipe(effective_recipe(loaded, Edit(), LatentRef("seed", seed=0)), folder / "bench.json")
        report = run_batch([inputs], folder / "out", recipe, model=model, steps=0, aligned=True,
                           device=str(opts.device))
    busiest = max(report.stage_seconds.values()) if report.stage_seconds else 0.0
    return {"images": count, "done": len(report.done), "failed": len(report.failed),
            "seconds": round(report.seconds, 2), "images_per_minute": round(report.images_per_minute, 1),
            "stage_seconds": {k: round(v, 2) for k, v in report.stage_seconds.items()},
            "overlap": round(busiest / report.seconds, 2) if report.seconds else None,
            "model": model.name, "size": loaded.generator.config.size,
            "first_failure": report.failed[0]["reason"] if report.failed else None}


def format_batch(row: dict) -> str:
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in row["stage_seconds"].items())
    return (f"batch: {row['done']}/{row['images']} images of {row['size']} px ({row['model']}) in {row['seconds']} s, "
            f"{row['images_per_minute']} images/min; busy: {stages}; overlap {row['overlap']}")
