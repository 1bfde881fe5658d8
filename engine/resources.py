"""Locating files shipped in ``resources/`` (source checkout or frozen app)."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    base = getattr(sys, "_MEIPASS", None)
    if base:
        return Path(base) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


#: The built-in demo generator (see its model card beside it); its encoder is ``demo-faces-64-encoder``.
DEMO_MODEL_NAME = "demo-faces-64.safetensors"


def demo_model_path() -> Path | None:
    path = resources_dir() / "models" / DEMO_MODEL_NAME
    return path if path.is_file() else None
