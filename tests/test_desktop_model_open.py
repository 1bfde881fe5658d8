"""Opening a model reads its StyleSpace layout for the Domains panel as quiet worker work, not a job: the job
bar and the quit question never see it (closing the window just after start asked "A job is still running (Read
model layout)" before)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from desktop.document import Document  # noqa: E402
from desktop.window import StudioWindow  # noqa: E402
from desktop.worker.client import WorkerClient  # noqa: E402
from engine.resources import demo_model_path  # noqa: E402
from engine.stylespace import style_layout  # noqa: E402


def test_the_model_layout_is_read_in_the_background_and_reaches_the_domains_panel(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEDOMAIN_HOME", str(tmp_path / "lib"))
    client = WorkerClient("cpu")
    client.start()
    win = StudioWindow(client, Document())
    asked: list[bool] = []
    win.confirm_close = lambda: asked.append(True) or True
    qtbot.addWidget(win)
    win.show()
    names: list[str] = []
    client.jobs_changed.connect(lambda _n: names.extend(name for _id, name in client.pending_jobs()))
    win.open_model(demo_model_path())
    panel = win.panel_binding.domains
    qtbot.waitUntil(lambda: panel._layout is not None, timeout=30_000)
    from engine.checkpoints import load_generator

    assert panel._layout == style_layout(load_generator(demo_model_path()).generator.config)
    assert "Read model layout" not in names
    qtbot.waitUntil(lambda: not client.pending_jobs(), timeout=30_000)
    win.close()
    assert not asked  # nothing was running: no question
    assert client.stop(), "the worker thread did not stop"
