"""``styledomain bench [MODEL] [--tasks a,b] [--device D] [--json]``: the tasks of :mod:`engine.bench`."""

from __future__ import annotations

import json
import sys

from engine.bench import TASKS, BenchOptions, machine_description, run_tasks, speedups
from engine.device import pick_device, pick_dtype
from engine.errors import UserError
from engine.fileio import atomic_path

from .arg_types import library_file, need
from .common import add_device_arg

DEFAULT_TASKS = "render,e4e,projector"


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmark rendering, inversion and more (ms/image); "
                       "no MODEL: random 1024 config-f")
    p.add_argument("model", metavar="MODEL", nargs="?", type=library_file("generator"),
                   help="generator file or model-library name")
    add_device_arg(p)
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--output", "-o", help="also write the JSON to this file")
    p.add_argument("--resolutions", default=None, help="comma-separated output resolutions (default: those of "
                   "256,512,1024 the model has, else its own size)")
    p.add_argument("--batches", default="1,8", help="comma-separated batch sizes")
    p.add_argument("--precision", default="fp32", help="fp32, or fp16/bf16 on CUDA")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats (default 5 on GPU, 3 on CPU)")
    p.add_argument("--no-reference", action="store_true", help="skip the reference path")
    p.add_argument("--tasks", default=DEFAULT_TASKS, help="comma-separated, from: " + "; ".join(
        f"{t.name} ({t.help})" for t in TASKS.values()) + f" (default {DEFAULT_TASKS})")
    p.set_defaults(handler=run)


def _int_list(text: str, flag: str, low: int = 1, high: int = 4096) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"{flag} takes comma-separated whole numbers, got {text!r}") from None
    if not values or any(not low <= v <= high for v in values):
        raise UserError(f"{flag} values must be between {low} and {high}, got {text!r}")
    return values


def options(args) -> tuple[list[str], BenchOptions]:
    """Check every flag before any work; the task names and the options the tasks read."""
    names = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [n for n in names if n not in TASKS]
    if unknown or not names:
        raise UserError(f"unknown bench task(s) {', '.join(unknown) or '(none given)'} (use {', '.join(TASKS)})")
    if args.repeats is not None and not 1 <= args.repeats <= 1000:
        raise UserError(f"--repeats must be between 1 and 1000, got {args.repeats}")
    device = pick_device(args.device)
    opts = BenchOptions(
        device=device, dtype=pick_dtype(args.precision, device), precision=args.precision, model=need(args.model),
        resolutions=_int_list(args.resolutions, "--resolutions") if args.resolutions else None,
        batches=_int_list(args.batches, "--batches", high=256),
        impls=["fast"] if args.no_reference else ["fast", "reference"],
        repeats=args.repeats or (5 if device.type == "cuda" else 3), warmup=2 if device.type == "cuda" else 1,
        log=None if args.json else print, args=args)
    return names, opts


def run(args) -> int:
    names, opts = options(args)
    results = run_tasks(names, opts)
    report = {"device": str(opts.device), "precision": args.precision, "model": args.model or "random-config-f-1024",
              "tasks": names, "machine": machine_description(opts.device), "results": results,
              "speedup_fast_vs_reference": speedups(results)}
    text = json.dumps(report, indent=2)
    if args.output:
        with atomic_path(args.output) as tmp:
            tmp.write_text(text + "\n")
    if args.json:
        sys.stdout.write(text + "\n")
    else:
        for key, ratio in report["speedup_fast_vs_reference"].items():
            print(f"fast vs reference {key}: {ratio:.2f}x")
    return 0
