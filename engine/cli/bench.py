"""``styledomain bench [MODEL] [--device D] [--json]``: render speed, fast vs reference path."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engine.bench import bench_render, machine_description, random_config_f, speedups
from engine.device import pick_device, pick_dtype
from engine.errors import UserError

from .common import add_device_arg, load_model_arg


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmark rendering (ms/image); no MODEL: random 1024 config-f")
    p.add_argument("model", metavar="MODEL", nargs="?")
    add_device_arg(p)
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--output", "-o", help="also write the JSON to this file")
    p.add_argument("--resolutions", default="256,512,1024", help="comma-separated output resolutions")
    p.add_argument("--batches", default="1,8", help="comma-separated batch sizes")
    p.add_argument("--precision", default="fp32", help="fp32, or fp16/bf16 on CUDA")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats (default 5 on GPU, 3 on CPU)")
    p.add_argument("--no-reference", action="store_true", help="skip the reference path")
    p.add_argument("--tasks", default="render,e4e,projector",
                   help="comma-separated: render, e4e (full-size IR-SE50 at 256 px, batch 8), projector (one "
                        "optimisation step at the model's resolution); default all three")
    p.set_defaults(handler=run)


TASKS = ("render", "e4e", "projector")


def run(args) -> int:
    device = pick_device(args.device)
    dtype = pick_dtype(args.precision, device)
    gen = load_model_arg(args.model, str(device)).generator if args.model else random_config_f()
    res = [r for r in (int(x) for x in args.resolutions.split(",")) if r in gen.config.resolutions]
    batches = [int(b) for b in args.batches.split(",")]
    impls = ["fast"] if args.no_reference else ["fast", "reference"]
    repeats = args.repeats or (5 if device.type == "cuda" else 3)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise UserError(f"unknown bench task(s) {', '.join(unknown)} (use {', '.join(TASKS)})")
    log = None if args.json else print
    warmup = 2 if device.type == "cuda" else 1
    results = []
    if "render" in tasks:
        results += bench_render(gen, device, res, batches, impls, dtype, warmup=warmup, repeats=repeats, progress=log)
    if "e4e" in tasks:
        from engine.inversion.bench import bench_e4e

        results.append(bench_e4e(device, batch=8, warmup=warmup, repeats=repeats, dtype=dtype))
        if log:
            log(f"e4e   256px batch 8 {results[-1]['ms_per_image']:9.2f} ms/image")
    if "projector" in tasks:
        from engine.inversion.bench import bench_projector_step

        results.append(bench_projector_step(gen, device, warmup=warmup, repeats=repeats))
        if log:
            log(f"projector step {gen.config.size}px {results[-1]['ms_per_image']:9.2f} ms")
    report = {"device": str(device), "precision": args.precision, "model": args.model or "random-config-f-1024",
              "machine": machine_description(device), "results": results,
              "speedup_fast_vs_reference": speedups(results)}
    text = json.dumps(report, indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n")
    if args.json:
        sys.stdout.write(text + "\n")
    else:
        for key, ratio in report["speedup_fast_vs_reference"].items():
            print(f"fast vs reference {key}: {ratio:.2f}x")
    return 0
