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


def configure_device(requested: str | None) -> str:
    """The engine's device/thread policy, called once at start; returns the device name to use."""
    from engine import device as engine_device

    configure = getattr(engine_device, "configure_runtime", None)
    if configure is not None:
        try:
            result = configure(requested)
        except TypeError:
            result = configure()
        dev = getattr(result, "device", result)
        if dev is not None and not isinstance(dev, (dict, tuple)):
            return str(dev)
    return str(engine_device.pick_device(requested))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="styledomain-studio", description="StyleDomain Studio")
    ap.add_argument("model", nargs="?", help="generator file to open (default: the built-in demo model)")
    ap.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps (default: the settings)")
    ap.add_argument("--self-test", action="store_true", help="run the headless self-test and exit")
    ap.add_argument("--report", default=None, help="with --self-test: also write the JSON report here")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.self_test:
        from .selftest import run_self_test

        return run_self_test(args.report, args.device)

    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from engine.errors import UserError
    from engine.resources import demo_model_path, resources_dir

    from .document import Document
    from .logs import install_qt_message_handler, setup_logging
    from .window import StudioWindow
    from .worker import WorkerClient

    log_path = setup_logging()
    install_qt_message_handler()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("StyleDomain Studio")
    app.setOrganizationName("StyleDomain")
    icon = resources_dir() / "icons" / "styledomain.png"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    settings = QSettings("StyleDomain", "Studio")
    try:
        device = configure_device(args.device or settings.value("device", "auto"))
    except UserError as exc:
        print(f"styledomain-studio: {exc}", file=sys.stderr)
        return 2
    model = Path(args.model) if args.model else demo_model_path()
    if model is None:
        print("styledomain-studio: no model given and the demo model is missing from resources/models/",
              file=sys.stderr)
        return 2
    if not model.is_file():
        print(f"styledomain-studio: {model}: file not found", file=sys.stderr)
        return 2
    log.info("starting on %s with %s (log %s)", device, model, log_path)
    client = WorkerClient(device)
    client.start()
    doc = Document()
    window = StudioWindow(client, doc, settings)
    geometry = settings.value("window/geometry")
    if geometry is not None:
        window.restoreGeometry(geometry)
    window.open_model(model)
    window.show()
    try:
        return app.exec()
    finally:
        client.stop()


if __name__ == "__main__":
    sys.exit(main())
