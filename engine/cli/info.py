"""``styledomain info MODEL [--json]``: architecture and StyleSpace layer table."""

from __future__ import annotations

import json

from engine.stylespace import layout_fingerprint, style_layout, total_channels

from .common import load_model_arg


def register(sub) -> None:
    p = sub.add_parser("info", help="show a model's architecture and StyleSpace layer table")
    p.add_argument("model", metavar="MODEL", help="generator file (.pt, .pkl or .safetensors) or model-library name")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def describe(loaded) -> dict:
    gen = loaded.generator
    cfg = gen.config
    layers = style_layout(cfg)
    return {
        "file": str(loaded.path),
        "format": loaded.source_format,
        "sha256": loaded.sha256,
        "license": loaded.license,
        "resolution": cfg.size,
        "style_dim": cfg.style_dim,
        "mapping_layers": cfg.n_mlp,
        "channels": {str(k): v for k, v in cfg.channels.items()},
        "num_ws": cfg.num_ws,
        "conv_clamp": cfg.conv_clamp,
        "parameters": sum(p.numel() for p in gen.parameters()),
        "stylespace_channels": total_channels(layers),
        "stylespace_conv_channels": total_channels(layers, "conv"),
        "layout_fingerprint": layout_fingerprint(layers),
        "is_demo": loaded.metadata.get("demo") == "true",
        "style_layers": [lay.to_json() for lay in layers],
    }


def run(args) -> int:
    info = describe(load_model_arg(args.model, "cpu"))
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['file']}  [{info['format']}]")
    if info["is_demo"]:
        print("  built-in demo model (import real StyleGAN2 weights with `styledomain convert`)")
    print(f"  resolution {info['resolution']}  style dim {info['style_dim']}  mapping layers "
          f"{info['mapping_layers']}  W+ rows {info['num_ws']}  parameters {info['parameters']:,}")
    print(f"  StyleSpace: {len(info['style_layers'])} vectors, {info['stylespace_channels']} channels "
          f"({info['stylespace_conv_channels']} in convs)  fingerprint {info['layout_fingerprint']}")
    print(f"  {'#':>3} {'name':<22} {'res':>5} {'kind':<6} {'ch':>5} {'w':>3}")
    for i, lay in enumerate(info["style_layers"]):
        print(f"  {i:>3} {lay['name']:<22} {lay['resolution']:>5} {lay['kind']:<6} {lay['channels']:>5} "
              f"{lay['w_index']:>3}")
    return 0
