"""Settings: typed QSettings keys and the Settings dialog, on a temporary ini file."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QSettings

from desktop import settings as st
from desktop.panels.settings_dialog import SettingsDialog


@pytest.fixture
def ini(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEDOMAIN_HOME", str(tmp_path / "default-lib"))
    return tmp_path / "studio.ini"


def test_defaults_and_bad_stored_values(ini):
    s = QSettings(str(ini), QSettings.Format.IniFormat)
    assert (st.device(s), st.precision(s), st.preview_policy(s)) == ("auto", "fp32", "adaptive")
    assert st.library_folder(s) == ini.parent / "default-lib"
    s.setValue("precision", "fp8")
    s.setValue("preview/policy", "huge")
    assert (st.precision(s), st.preview_policy(s)) == ("fp32", "adaptive")


def test_dialog_round_trips_through_the_ini_file(qtbot, ini, tmp_path):
    s = QSettings(str(ini), QSettings.Format.IniFormat)
    dlg = SettingsDialog(s, devices=["auto", "cpu", "cuda:0"])
    qtbot.addWidget(dlg)
    dlg.device.setCurrentIndex(dlg.device.findData("cpu"))
    dlg.precision.setCurrentIndex(dlg.precision.findData("bf16"))
    dlg.policy.setCurrentIndex(dlg.policy.findData("smallest"))
    dlg.folder.setText(str(tmp_path / "mylib"))
    dlg.accept()
    again = QSettings(str(ini), QSettings.Format.IniFormat)
    assert (again.value("device"), again.value("precision"), again.value("preview/policy")) == \
        ("cpu", "bf16", "smallest")
    assert st.library_folder(again) == tmp_path / "mylib"
    assert os.environ["STYLEDOMAIN_HOME"] == str(tmp_path / "mylib")
    shown = SettingsDialog(again, devices=["auto", "cpu"])
    qtbot.addWidget(shown)
    assert shown.device.currentData() == "cpu" and shown.precision.currentData() == "bf16"


def test_cancel_stores_nothing_and_device_list_has_cpu(qtbot, ini):
    s = QSettings(str(ini), QSettings.Format.IniFormat)
    dlg = SettingsDialog(s)
    qtbot.addWidget(dlg)
    items = [dlg.device.itemData(i) for i in range(dlg.device.count())]
    assert items[:2] == ["auto", "cpu"]
    dlg.device.setCurrentIndex(1)
    dlg.reject()
    assert s.value("device") is None
