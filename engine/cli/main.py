"""``styledomain`` entry point: one module per verb, each with ``register(subparsers)``.

A verb's handler returns an exit code. :class:`engine.errors.UserError` becomes one line on
stderr and exit code 2; nothing else is printed for user errors.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Verb modules under ``engine.cli``; each defines ``register(subparsers)``.
VERB_MODULES = [
    "info", "render", "convert", "bench", "direction", "align", "invert", "train_encoder", "apply",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="styledomain",
        description="StyleDomain Studio command line: StyleGAN2 models, photos, latents and StyleSpace domain "
        "directions, offline.",
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for name in VERB_MODULES:
        importlib.import_module(f"engine.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from engine.errors import UserError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"styledomain {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"styledomain {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
