"""The self-test's stall probe and the studio's device settings."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings, QTimer  # noqa: E402

from desktop.app import SETTINGS_KEYS, configure_device  # noqa: E402
from desktop.selftest import StallProbe  # noqa: E402


def test_stall_probe_sees_a_blocked_event_loop(qtbot):
    probe = StallProbe()
    probe.start()
    qtbot.wait(50)
    QTimer.singleShot(0, lambda: time.sleep(0.25))
    qtbot.wait(100)
    probe.stop()
    assert probe.max_stall_ms >= 200


def test_configure_device_reads_settings_and_falls_back_on_a_bad_saved_device(tmp_path):
    s = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    assert {"device", "precision"} <= set(SETTINGS_KEYS)
    s.setValue("device", "cpu")
    assert configure_device(None, s) == "cpu"
    s.setValue("device", "no-such-device")
    assert configure_device(None, s) in ("cpu", "cuda", "mps")
