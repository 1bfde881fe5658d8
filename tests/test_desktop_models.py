"""The model manager dialog offscreen: drop import, bad files, verify, remove, through worker-style runners."""

from __future__ import annotations

import pytest
from conftest import make_generator
from PySide6.QtCore import QMimeData, QPoint, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent

from desktop.panels.jobs import InlineRunner
from desktop.panels.models_dialog import ModelManagerDialog
from desktop.worker.client import WorkerClient
from engine.checkpoints import save_native
from engine.library import Library

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEDOMAIN_HOME", str(tmp_path / "default-lib"))
    s = QSettings(str(tmp_path / "studio.ini"), QSettings.Format.IniFormat)
    s.setValue("library/folder", str(tmp_path / "lib"))
    return s


@pytest.fixture
def gen_file(tmp_path):
    path = tmp_path / "src" / "tiny.safetensors"
    path.parent.mkdir()
    save_native(make_generator(seed=2), path, license_note="test licence")
    return path


def _drop(widget, paths) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPoint(5, 5).toPointF(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)


def _names(dlg) -> list[str]:
    return [dlg.table.item(r, 1).text() for r in range(dlg.table.rowCount())]


def _user_names(tmp_path) -> list[str]:
    return [e.name for e in Library(tmp_path / "lib").entries() if not e.read_only]


def test_drop_imports_on_the_worker_and_lists_the_entry(qtbot, settings, gen_file, tmp_path):
    client = WorkerClient("cpu")
    client.start()
    try:
        dlg = ModelManagerDialog(client, settings)
        qtbot.addWidget(dlg)
        qtbot.waitUntil(lambda: dlg._job is None, timeout=20_000)
        assert "tiny" not in _names(dlg)
        _drop(dlg, [gen_file])
        qtbot.waitUntil(lambda: "tiny" in _names(dlg), timeout=20_000)
        assert _user_names(tmp_path) == ["tiny"]
        row = _names(dlg).index("tiny")
        assert dlg.table.item(row, 0).text() == "generator" and dlg.table.item(row, 5).text() == "test licence"
    finally:
        assert client.stop()


def test_corrupt_and_wrong_kind_files_give_a_message_and_add_nothing(qtbot, settings, tmp_path):
    corrupt = tmp_path / "broken.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    dlg = ModelManagerDialog(InlineRunner(), settings)
    qtbot.addWidget(dlg)
    before = _names(dlg)
    _drop(dlg, [corrupt, text])
    assert _names(dlg) == before and _user_names(tmp_path) == []
    shown = dlg.message.text()
    assert dlg.message.level == "error" and "broken.safetensors" in shown and "notes.pt" in shown


def test_verify_reports_a_changed_file_and_remove_removes(qtbot, settings, gen_file, tmp_path):
    dlg = ModelManagerDialog(InlineRunner(), settings)
    qtbot.addWidget(dlg)
    dlg.import_files([str(gen_file)])
    row = _names(dlg).index("tiny")
    entry = dlg.entries[row]
    data = bytearray(entry.path.read_bytes())
    data[-1] ^= 0xFF  # same size, other contents
    entry.path.write_bytes(bytes(data))
    dlg.table.selectRow(row)
    dlg.verify()
    assert dlg.table.item(_names(dlg).index("tiny"), 4).text() == "changed"
    assert dlg.message.level == "error" and "tiny" in dlg.message.text()

    dlg.table.selectRow(_names(dlg).index("tiny"))
    dlg.confirm_remove = lambda e: True
    dlg.remove_selected()
    assert "tiny" not in _names(dlg) and _user_names(tmp_path) == []
    assert not entry.path.exists() and gen_file.exists()  # the library's copy goes, the original stays


def test_built_ins_cannot_be_removed_and_generators_can_be_opened(qtbot, settings):
    opened = []

    class Window:
        def open_model(self, path):
            opened.append(path)

    dlg = ModelManagerDialog(InlineRunner(), settings, Window())
    qtbot.addWidget(dlg)
    row = next(r for r, e in enumerate(dlg.entries) if e.kind == "generator" and e.read_only)
    dlg.table.selectRow(row)
    assert not dlg.btn_remove.isEnabled() and dlg.btn_open.isEnabled()
    dlg.btn_open.click()
    assert opened == [dlg.entries[row].path]


def test_cancelled_verify_changes_nothing_and_frees_the_dialog(qtbot, settings):
    runner = InlineRunner()
    dlg = ModelManagerDialog(runner, settings)
    qtbot.addWidget(dlg)
    runner.cancel_after = 1
    dlg.verify()  # every entry: the shipped files are several chunks
    assert dlg._job is None and dlg.btn_verify.isEnabled() and not dlg.btn_cancel.isEnabled()
    assert "Cancelled" in dlg.message.text() and "verified" not in dlg.statuses.values()


def test_install_adds_tools_actions_to_the_window(qtbot, settings):
    from desktop.document import Document
    from desktop.panels.models_dialog import install_model_manager
    from desktop.panels.settings_dialog import install_settings
    from desktop.window import StudioWindow

    client = WorkerClient("cpu")
    client.start()
    try:
        win = StudioWindow(client, Document(), settings)
        win.confirm_close = lambda: True
        qtbot.addWidget(win)
        models, prefs = install_model_manager(win), install_settings(win)
        assert models.shortcut().toString() == "Ctrl+M" and prefs.shortcut().toString() == "Ctrl+,"
        models.trigger()
        assert win.model_manager.isVisible() and not win.model_manager.isModal()
        qtbot.waitUntil(lambda: win.model_manager._job is None, timeout=20_000)
    finally:
        assert client.stop()
