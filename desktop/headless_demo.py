"""Headless demo used by ``make run`` until the studio window lands: render a few seeds.

Without a model argument it uses the built-in demo generator (``resources/models/demo*.safetensors``)
and says so, with the commands that import real StyleGAN2 weights.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli.main import main as cli_main
from engine.resources import demo_model_path

IMPORT_HINT = ("To use real weights (e.g. an FFHQ StyleGAN2 .pt or NVIDIA .pkl), import them once:\n"
               "  styledomain convert YOUR_MODEL.pt my-model.safetensors\n"
               "and run with it:  python -m desktop my-model.safetensors")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m desktop", description="StyleDomain Studio (headless demo)")
    ap.add_argument("model", nargs="?", help="generator file; default: the built-in demo model")
    ap.add_argument("--out", default="out", help="folder for the rendered PNGs (default: out)")
    args = ap.parse_args(argv)
    if args.model:
        model = Path(args.model)
        print(f"StyleDomain Studio (headless demo) using your model {model}")
    else:
        model = demo_model_path()
        if model is None:
            print("No model given and no demo model found in resources/models/.\n" + IMPORT_HINT)
            return 1
        print(f"StyleDomain Studio (headless demo) using the BUILT-IN DEMO MODEL {model.name}: a small "
              "StyleGAN2 distilled from the project's procedural cartoon faces, not a real face model.\n"
              + IMPORT_HINT)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    code = cli_main(["info", str(model)])
    if code:
        return code
    for seed in (1, 2, 3):
        code = cli_main(["render", str(model), "--seed", str(seed), "--size", "256",
                         "-o", str(out / f"demo-seed{seed}.png")])
        if code:
            return code
    return 0
