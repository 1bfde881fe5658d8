"""Screenshot of the crash-recovery banner from a real studio window (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tools/recovery_screenshot.py [OUT.png]

A first window autosaves an edit and "crashes" (its autosave is left behind, its lock released); the
studio is then started as ``python -m desktop`` starts it (``desktop.app.open_studio``) in a temporary
library folder and grabbed once the preview is on screen. Nothing outside a temporary folder is written
except OUT (default docs/screenshots/recovery-banner.png).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _wait(app, cond, seconds: float = 60.0) -> None:
    import time

    end = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("the studio did not get there in time")
        app.processEvents()
        time.sleep(0.01)


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "docs" / "screenshots" / "recovery-banner.png"
    tmp = Path(tempfile.mkdtemp(prefix="studio-recovery-"))
    os.environ["STYLEDOMAIN_HOME"] = str(tmp / "lib")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from desktop.app import load_settings, open_studio
    from desktop.autosave import install_autosave
    from desktop.document import Document
    from desktop.window import StudioWindow
    from desktop.worker import WorkerClient
    from engine.resources import demo_model_path

    app = QApplication.instance() or QApplication(argv[:1])
    settings = load_settings(QSettings(str(tmp / "studio.ini"), QSettings.Format.IniFormat))
    crashed_client = WorkerClient("cpu")
    crashed_client.start()
    crashed = StudioWindow(crashed_client, Document(), settings)
    saver = install_autosave(crashed)
    crashed.open_model(demo_model_path())
    _wait(app, lambda: crashed.document.state.model is not None)
    crashed.document.set_strength(0.4)
    saver.save_now()
    saver.enabled = False  # the "crash": the autosave stays, the lock goes with the process
    saver.lock.unlock()
    crashed_client.stop()

    window = open_studio(demo_model_path(), "cpu", "fp32", settings)
    window.resize(1400, 860)
    window.show()
    shown = []
    window.preview_shown.connect(shown.append)
    _wait(app, lambda: bool(shown) and window.autosaver.bar.isVisible())
    for _ in range(30):
        app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    ok = window.grab().save(str(out))
    window.autosaver.finish()
    window.client.stop()
    print(out if ok else "could not save the screenshot")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
