"""A studio window on its own CPU worker, for pytest-qt tests (import only after ``importorskip("PySide6")``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def studio_window(qtbot, settings=None) -> Iterator:
    """A :class:`desktop.window.StudioWindow` (not shown) whose close never asks; on leaving, the window is
    closed and the worker thread must stop."""
    from desktop.document import Document
    from desktop.window import StudioWindow
    from desktop.worker.client import WorkerClient

    client = WorkerClient("cpu")
    client.start()
    win = StudioWindow(client, Document()) if settings is None else StudioWindow(client, Document(), settings)
    win.confirm_close = lambda: True
    qtbot.addWidget(win)
    try:
        yield win
    finally:
        win.close()
        assert client.stop(), "the worker thread did not stop"
