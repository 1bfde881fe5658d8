"""The studio's main window and self-test, offscreen (pytest-qt)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from desktop_helpers import studio_window  # noqa: E402

from engine.resources import demo_model_path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def window(qtbot):
    with studio_window(qtbot) as win:
        yield win


def test_demo_model_shows_the_demo_badge_and_title(window, qtbot):
    assert not window.demo_badge_action.isVisible()
    window.show()
    window.open_model(demo_model_path())
    qtbot.waitUntil(lambda: window.document.state.model is not None, timeout=30_000)
    qtbot.waitUntil(window.demo_badge_action.isVisible, timeout=5_000)
    assert window.windowTitle().startswith("StyleDomain Studio — ")


def test_self_test_passes_and_reports_every_step(tmp_path):
    report = tmp_path / "report.json"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT), STYLEDOMAIN_HOME=str(tmp_path / "lib"))
    proc = subprocess.run([sys.executable, "-m", "desktop", "--self-test", "--report", str(report)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    data = json.loads(report.read_text())
    assert json.loads(proc.stdout) == data  # one JSON object on stdout, the same in the report
    failed = [s for s in data["steps"] if not s["ok"]]
    assert proc.returncode == 0 and data["ok"] and not failed, (failed, proc.stderr[-2000:])
    assert data["max_event_loop_stall_ms"] <= 100
    assert Path(data["window_png"]).is_file()
