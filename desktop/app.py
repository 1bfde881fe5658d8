"""Entry point: ``python -m desktop [MODEL]``, ``styledomain-studio``, ``python -m desktop --self-test``."""

from __future__ import annotations

import argparse
import logging
import platform
import sys
from pathlib import Path

log = logging.getLogger("desktop")


def versions() -> dict[str, str]:
    import numpy
    import PIL
    import PySide6
    import torch

    from desktop import __version__

    return {"studio": __version__, "python": platform.python_version(), "platform": platform.platform(),
            "torch": torch.__version__, "numpy": numpy.__version__, "pillow": PIL.__version__,
            "pyside6": PySide6.__version__, "qt": PySide6.QtCore.qVersion()}


#: QSettings keys (organisation "StyleDomain", application "Studio") that :func:`configure_device` and
#: :func:`configure_precision` read; the settings dialog writes them. Values are strings.
SETTINGS_KEYS: dict[str, str] = {
    "device": "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps; default auto",
    "precision": "preview precision: fp32 (default), fp16 or bf16 (CUDA; bf16 also on CPUs with native bf16); "
                 "exports always render in fp32",
}
DEVICE_KEY = "device"
PRECISION_KEY = "precision"


def _setting(settings, key: str) -> str | None:
    """A QSettings string value, lower-cased and stripped; None when unset or empty."""
    if settings is None:
        return None
    value = settings.value(key, None)
    if value is None:
        return None
    text = str(value).strip().lower()
    return text or None


def model_size_hint(path: str | Path | None) -> int | None:
    """The output size of a StyleDomain ``.safetensors`` generator, read from its JSON header only
    (no tensors); None for other formats or an unreadable file."""
    import json
    import struct

    if path is None or Path(path).suffix.lower() != ".safetensors":
        return None
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if not 0 < n <= 1 << 24:
                return None
            header = json.loads(f.read(n))
        return int(json.loads(header["__metadata__"]["config"])["size"])
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return None


def configure_device(requested: str | None = None, settings=None, *, model_size: int | None = None) -> str:
    """The engine's device/thread policy, applied once at start (before the worker starts); returns the device.

    ``requested`` (the ``--device`` flag) wins and a bad value raises :class:`engine.errors.UserError`;
    otherwise the ``device`` key of ``settings`` (a QSettings, see :data:`SETTINGS_KEYS`) is used, and a
    saved device that is unknown or no longer available falls back to auto with a logged warning.
    ``model_size``: the first model's size, for :func:`engine.device.threads_for` (one intra-op thread
    for small models on the CPU, which also leaves the GUI thread a core).
    """
    from engine import device as engine_device
    from engine.errors import UserError

    choice = requested.strip().lower() if isinstance(requested, str) and requested.strip() else None
    if choice is None:
        saved = _setting(settings, DEVICE_KEY)
        try:
            dev = engine_device.pick_device(saved)
        except UserError as exc:
            log.warning("settings: %s; using auto", exc)
            dev = engine_device.pick_device(None)
    else:
        dev = engine_device.pick_device(choice)
    threads = engine_device.threads_for(dev, model_size) if model_size else None
    return str(engine_device.configure_runtime(str(dev), threads=threads))


def configure_precision(settings, device: str) -> str:
    """The preview precision from ``settings`` (key ``precision``), fp32 when unset or unsupported on
    ``device`` (logged)."""
    import torch

    from engine.device import pick_dtype
    from engine.errors import UserError

    name = _setting(settings, PRECISION_KEY) or "fp32"
    try:
        pick_dtype(name, torch.device(device))
    except (UserError, RuntimeError) as exc:
        log.warning("settings: %s; previews use fp32", exc)
        return "fp32"
    return name


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="styledomain-studio", description="StyleDomain Studio")
    ap.add_argument("model", nargs="?", help="generator file to open (default: the built-in demo model)")
    ap.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps (default: the settings)")
    ap.add_argument("--self-test", action="store_true", help="run the headless self-test and exit")
    ap.add_argument("--report", default=None, help="with --self-test: also write the JSON report here")
    return ap.parse_args(argv)


def load_settings(settings=None):
    """The studio's QSettings (default: organisation "StyleDomain", application "Studio") with the chosen
    library folder applied to this process; call it before anything reads the model library."""
    from PySide6.QtCore import QSettings

    from .settings import apply_library_folder

    settings = settings if settings is not None else QSettings("StyleDomain", "Studio")
    apply_library_folder(settings)
    return settings


def open_studio(model: str | Path, device: str, precision: str, settings, autosave_folder: str | Path | None = None):
    """Start the worker (with the ``preview/policy`` setting), build the main window with autosave and crash
    recovery (and the face detector's warm-up after the first render), and open ``model``; returns the window
    (``window.client``, ``window.autosaver``, ``window.detector_warm_up``), not shown."""
    from .autosave import install_autosave
    from .document import Document
    from .settings import preview_policy
    from .window import StudioWindow
    from .worker import WorkerClient
    from .worker.warm_up import install_detector_warm_up

    client = WorkerClient(device, precision=precision)
    client.set_preview_policy(preview_policy(settings))
    client.start()
    window = StudioWindow(client, Document(), settings)
    install_autosave(window, autosave_folder)  # offers recovery after an unclean exit; never blocks
    geometry = settings.value("window/geometry")
    if geometry is not None:
        window.restoreGeometry(geometry)
    install_detector_warm_up(window)  # dlib's ~1 s GIL-holding load at start-up, not at the first photo
    window.open_model(model)
    return window


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.self_test:
        from .selftest import run_self_test

        return run_self_test(args.report, args.device)

    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from engine.errors import UserError
    from engine.resources import demo_model_path, resources_dir

    from .logs import install_qt_message_handler, setup_logging

    log_path = setup_logging()
    install_qt_message_handler()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("StyleDomain Studio")
    app.setOrganizationName("StyleDomain")
    icon = resources_dir() / "icons" / "styledomain.png"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    settings = load_settings()  # the library folder first: everything below may read the library
    model = Path(args.model) if args.model else demo_model_path()
    if model is None:
        print("styledomain-studio: no model given and the demo model is missing from resources/models/",
              file=sys.stderr)
        return 2
    if not model.is_file():
        print(f"styledomain-studio: {model}: file not found", file=sys.stderr)
        return 2
    try:
        device = configure_device(args.device, settings, model_size=model_size_hint(model))
    except UserError as exc:
        print(f"styledomain-studio: {exc}", file=sys.stderr)
        return 2
    precision = configure_precision(settings, device)
    log.info("starting on %s (%s previews) with %s (log %s)", device, precision, model, log_path)
    window = open_studio(model, device, precision, settings)
    window.show()
    try:
        code = app.exec()
        window.autosaver.finish()  # a clean exit leaves no autosave (a crash leaves it for recovery)
        return code
    finally:
        window.client.stop()


if __name__ == "__main__":
    sys.exit(main())
