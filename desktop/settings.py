"""Typed access to the studio's QSettings keys (device, precision, preview policy, library folder)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

DEVICE_KEY = "device"  # "auto" | "cpu" | "cuda" | "cuda:N" | "mps"
PRECISION_KEY = "precision"  # "fp32" | "fp16" | "bf16"
PREVIEW_POLICY_KEY = "preview/policy"  # "adaptive" | "smallest" | "full"
LIBRARY_FOLDER_KEY = "library/folder"  # "" = the engine's default folder

PRECISIONS = ("fp32", "fp16", "bf16")
PREVIEW_POLICIES = {
    "adaptive": "Adaptive: largest draft that renders within 150 ms while dragging",
    "smallest": "Smallest: lowest-resolution draft while dragging (slow machines)",
    "full": "Full: always full resolution (fast GPUs)",
}
DEFAULTS = {DEVICE_KEY: "auto", PRECISION_KEY: "fp32", PREVIEW_POLICY_KEY: "adaptive", LIBRARY_FOLDER_KEY: ""}


def _text(settings: QSettings, key: str) -> str:
    value = settings.value(key, DEFAULTS[key])
    return str(value) if value is not None else DEFAULTS[key]


def device(settings: QSettings) -> str:
    return _text(settings, DEVICE_KEY) or "auto"


def precision(settings: QSettings) -> str:
    value = _text(settings, PRECISION_KEY)
    return value if value in PRECISIONS else DEFAULTS[PRECISION_KEY]


def preview_policy(settings: QSettings) -> str:
    value = _text(settings, PREVIEW_POLICY_KEY)
    return value if value in PREVIEW_POLICIES else DEFAULTS[PREVIEW_POLICY_KEY]


def library_folder(settings: QSettings) -> Path:
    """The chosen library folder, else the engine's default (``$STYLEDOMAIN_HOME`` or the per-user folder)."""
    chosen = _text(settings, LIBRARY_FOLDER_KEY).strip()
    if chosen:
        return Path(chosen).expanduser()
    from engine.library import default_library_dir

    return default_library_dir()


def apply_library_folder(settings: QSettings) -> None:
    """Point this process's engine library (``$STYLEDOMAIN_HOME``) at the chosen folder, when one is chosen."""
    chosen = _text(settings, LIBRARY_FOLDER_KEY).strip()
    if chosen:
        from engine.library import HOME_VARIABLE

        os.environ[HOME_VARIABLE] = str(Path(chosen).expanduser())


def save(settings: QSettings, *, device_name: str, precision_name: str, policy: str, folder: str) -> None:
    """Store all four values (unknown precision / policy values are refused with ValueError)."""
    if precision_name not in PRECISIONS or policy not in PREVIEW_POLICIES:
        raise ValueError(f"bad precision {precision_name!r} or preview policy {policy!r}")
    settings.setValue(DEVICE_KEY, device_name or "auto")
    settings.setValue(PRECISION_KEY, precision_name)
    settings.setValue(PREVIEW_POLICY_KEY, policy)
    settings.setValue(LIBRARY_FOLDER_KEY, folder.strip())
    settings.sync()


def available_devices() -> list[str]:
    """auto, cpu, each cuda:N found, and mps when available."""
    import torch

    out = ["auto", "cpu"]
    if torch.cuda.is_available():
        out += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    return out
