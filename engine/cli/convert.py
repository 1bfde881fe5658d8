"""``styledomain convert IN OUT.safetensors``: any supported generator to our safetensors format."""

from __future__ import annotations

from engine.checkpoints import save_native

from .common import load_model_arg, output_path


def register(sub) -> None:
    p = sub.add_parser("convert", help="convert a .pt/.pkl generator to StyleDomain .safetensors")
    p.add_argument("input", metavar="IN", help="generator file (or a model-library name)")
    p.add_argument("output", metavar="OUT.safetensors")
    p.add_argument("--license", default="", help="licence note stored in the metadata")
    p.set_defaults(handler=run)


def run(args) -> int:
    out = output_path(args.output, (".safetensors",))
    loaded = load_model_arg(args.input, "cpu")
    save_native(loaded.generator, out, source_format=loaded.source_format, source_name=loaded.path.name,
                source_sha256=loaded.sha256, license_note=args.license or loaded.license)
    print(f"wrote {out} ({loaded.generator.config.size} px, from {loaded.source_format})")
    return 0
