"""Issue #11 "Editing comforts": every custom widget has an objectName and an accessible name, every control a
tooltip (main window with its panels, the batch dialog, the model manager, Settings), offscreen."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from desktop_helpers import studio_window  # noqa: E402
from PySide6.QtGui import QAction  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDialog,
    QLineEdit,
    QWidget,
)

CONTROLS = (QAbstractButton, QAbstractSlider, QComboBox, QAbstractSpinBox, QLineEdit)
#: Qt's own parts of composite widgets (a spin box's line edit, a scroll bar, a table's corner button, ...)
QT_PARENTS = ("QComboBox", "QSpinBox", "QDoubleSpinBox", "QScrollBar", "QToolBar", "QTabBar", "QMessageBox",
              "QDialogButtonBox", "QMenuBar", "QScrollArea", "QAbstractScrollArea")


def problems(root: QWidget) -> list[str]:
    found = []
    for w in [root, *root.findChildren(QWidget)]:
        cls, parent = type(w), w.parentWidget()
        if isinstance(w, CONTROLS) and not w.objectName().startswith("qt_") \
                and type(parent).__name__ not in QT_PARENTS and not type(w).__name__.startswith("QScroll"):
            if not w.objectName() or not w.toolTip():
                found.append(f"{cls.__name__} {w.objectName()!r} in {parent.objectName()!r}: name/tooltip missing")
        if cls.__module__.startswith("desktop") and (not w.objectName() or not w.accessibleName()):
            found.append(f"custom {cls.__name__} {w.objectName()!r}: objectName/accessible name missing")
    return found


def test_every_control_is_named_and_explained(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEDOMAIN_HOME", str(tmp_path / "lib"))
    with studio_window(qtbot) as win:
        try:
            _check_every_window(win, qtbot)
        finally:
            for d in win.findChildren(QDialog):
                d.close()


def _check_every_window(win, qtbot) -> None:
    """Open the dialogs from their actions; the window and every dialog have names and tooltips."""
    for name in ("actionBatchExport", "actionModels", "actionSettings"):
        win.findChild(QAction, name).trigger()
    qtbot.waitUntil(lambda: not win.client.pending_jobs(), timeout=30_000)
    dialogs = {d.objectName() for d in win.findChildren(QDialog)}
    assert {"batchDialog", "modelManager", "settingsDialog"} <= dialogs, dialogs
    assert problems(win) == []
    for d in QApplication.topLevelWidgets():
        if isinstance(d, QDialog):
            assert problems(d) == [], d.objectName()
