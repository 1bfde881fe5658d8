"""Locating files shipped in ``resources/`` (source checkout or frozen app)."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    base = getattr(sys, "_MEIPASS", None)
    if base:
        return Path(base) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def demo_model_path() -> Path | None:
    models = resources_dir() / "models"
    found = sorted(models.glob("demo*.safetensors")) if models.is_dir() else []
    return found[0] if found else None
