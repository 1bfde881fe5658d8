"""Headless demo used by ``make run`` until the studio window lands: render a few demo seeds."""

from __future__ import annotations

from pathlib import Path

from engine.cli.main import main as cli_main
from engine.resources import demo_model_path


def main() -> int:
    model = demo_model_path()
    if model is None:
        print("No demo model found in resources/models/. Import real StyleGAN2 weights with:\n"
              "  styledomain convert YOUR_MODEL.pt resources/models/my-model.safetensors")
        return 1
    out = Path("out")
    out.mkdir(exist_ok=True)
    print(f"StyleDomain Studio (headless demo) using the built-in demo model {model.name}")
    cli_main(["info", str(model)])
    for seed in (1, 2, 3):
        code = cli_main(["render", str(model), "--seed", str(seed), "-o", str(out / f"demo-seed{seed}.png")])
        if code:
            return code
    return 0
