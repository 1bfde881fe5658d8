"""Load the face detector early, on the worker, so opening the first photo does not freeze the window.

dlib's 68-point landmark model takes about 1 s to load and holds Python's GIL all that time (dlib has
no GIL-releasing load; see tools/dlib_gil_probe.py), so the GUI event loop cannot run meanwhile. Done
when the user opens a photo, that is a visible freeze; done here, right after the first render at
start-up as a background task (not a job), it happens once while the window is just appearing. The
status bar says "Preparing the face detector…" first (painted before the load starts). A photo opened
after that waits for the load on the worker's queue and then reuses the loaded models; one opened
before it (within ``DELAY_MS`` of the first render) loads them itself, and the warm-up finds them loaded.
"""

from __future__ import annotations

import importlib.util
import logging

from PySide6.QtCore import QObject, QTimer, Signal

log = logging.getLogger("desktop.worker")

WARM_UP_MESSAGE = "Preparing the face detector…"
#: the first render's paint gets this long before the load takes the GIL (milliseconds)
DELAY_MS = 100


def detector_available() -> bool:
    """Whether dlib and the packaged landmark model are installed (found without importing dlib)."""
    from engine.alignment.models import packaged_predictor_path

    try:
        return importlib.util.find_spec("dlib") is not None and packaged_predictor_path() is not None
    except (ImportError, ValueError):
        return False


def _warm_up() -> bool:
    from engine.alignment.dlib_detector import warm_up

    loaded = warm_up()
    _import_optimiser_machinery()
    return loaded


def _import_optimiser_machinery() -> None:
    """``torch.optim``'s first optimiser imports ``torch._dynamo`` (about 1.7 s of imports, sympy among them,
    partly holding the GIL): done at the first adaptation, that stalled the window ~150-230 ms. Done here."""
    import torch._dynamo  # noqa: F401


class DetectorWarmUp(QObject):
    """After the window's first shown preview: say so in the status bar, then warm the detector up once."""

    finished = Signal(bool)  # True when the models are loaded (False: dlib or the model is missing)

    def __init__(self, window, delay_ms: int = DELAY_MS) -> None:
        super().__init__(window)
        self.setObjectName("detectorWarmUp")
        self.window, self.delay_ms = window, delay_ms
        self.task_id: int | None = None
        self.done: bool | None = None
        window.preview_shown.connect(self._on_first_preview)

    def _on_first_preview(self, _result=None) -> None:
        self.window.preview_shown.disconnect(self._on_first_preview)
        if not detector_available():
            log.info("face detector not installed: no detector warm-up")
            self.window.client.run_in_background("Prepare the optimiser", _import_optimiser_machinery)
            self.done = False
            self.finished.emit(False)
            return
        bar = self.window.statusBar()
        bar.showMessage(WARM_UP_MESSAGE)
        bar.repaint()  # painted now, before the worker holds the GIL
        timer = QTimer(self)  # a child: it dies with the window
        timer.setSingleShot(True)
        timer.timeout.connect(self._submit)
        timer.start(self.delay_ms)

    def _submit(self) -> None:
        self.task_id = self.window.client.run_in_background("Prepare the face detector", _warm_up,
                                                        on_done=self._finish, on_error=lambda _m: self._finish(False))

    def _finish(self, ok: object) -> None:
        self.done = bool(ok)
        bar = self.window.statusBar()
        if bar.currentMessage() == WARM_UP_MESSAGE:
            bar.clearMessage()
        log.info("face detector warm-up: %s", "loaded" if ok else "not available")
        self.finished.emit(self.done)


def install_detector_warm_up(window, delay_ms: int = DELAY_MS) -> DetectorWarmUp:
    """Warm the face detector up after ``window``'s first preview (kept as ``window.detector_warm_up``)."""
    window.detector_warm_up = DetectorWarmUp(window, delay_ms)
    return window.detector_warm_up
