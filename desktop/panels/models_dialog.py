"""The model manager: the per-user model library in a non-modal dialog (import, verify, remove, open)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop import settings as studio_settings
from desktop.widgets.drops import PathDropTarget
from desktop.widgets.message_bar import MessageBar
from desktop.worker import library_jobs
from engine.library.index import format_size

PENDING = -1
COLUMNS = ("Kind", "Name", "Size", "sha256", "Status", "Licence")


def _status(entry) -> str:
    """What can be told without hashing: missing, changed (size differs), else not yet verified."""
    if not entry.path.is_file():
        return "missing"
    if entry.path.stat().st_size != entry.size:
        return "changed"
    return "not verified"


class ModelManagerDialog(PathDropTarget, QDialog):
    """Lists the library in ``folder``; every library call runs as a job on ``runner`` (the worker client)."""

    def __init__(self, runner: Any, settings, window: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelManager")
        self.setAccessibleName("Model manager")
        self.setWindowTitle("Models")
        self.setModal(False)
        self.setAcceptDrops(True)
        self.runner, self.settings, self.window = runner, settings, window
        self.entries: list = []
        self.statuses: dict[str, str] = {}
        self._job: int | None = None
        self.message = MessageBar(self, "modelsMessage")
        self.folder_label = QLabel(self)
        self.folder_label.setObjectName("libraryFolder")
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("modelsTable")
        self.table.setAccessibleName("Library entries")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        # the licence column takes the width left over and wraps, so long notes need no sideways scrolling
        modes = QHeaderView.ResizeMode
        for c, title in enumerate(COLUMNS):
            self.table.horizontalHeader().setSectionResizeMode(
                c, modes.Stretch if title == "Licence" else modes.ResizeToContents)
        self.table.setWordWrap(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setToolTip("The model library; drop generator, encoder, CLIP, landmark or VGG files here")
        self.progress = QProgressBar(self)
        self.progress.setObjectName("modelsProgress")
        self.progress.setVisible(False)
        buttons = QHBoxLayout()
        self.btn_import = self._button("Import…", "Import model files (NVIDIA .pkl / rosinality .pt are converted)",
                                       self.import_dialog, buttons)
        self.btn_verify = self._button("Verify", "Re-hash the selected entry (all when none is selected)",
                                       self.verify, buttons)
        self.btn_remove = self._button("Remove", "Remove the selected entry and delete its copy in the library",
                                       self.remove_selected, buttons)
        self.btn_open = self._button("Open", "Open the selected generator in the studio", self.open_selected, buttons)
        self.btn_folder = self._button("Library folder…", "Choose the folder the library lives in",
                                       self.choose_folder, buttons)
        self.btn_cancel = self._button("Cancel", "Cancel the running import or verify", self.cancel_job, buttons)
        self.btn_cancel.setEnabled(False)
        lay = QVBoxLayout(self)
        lay.addWidget(self.message)
        lay.addWidget(self.folder_label)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.progress)
        lay.addLayout(buttons)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        progress = getattr(runner, "job_progress", None)
        if progress is not None:
            progress.connect(self._on_progress)
        cancelled = getattr(runner, "job_cancelled", None)
        if cancelled is not None:
            cancelled.connect(self._on_cancelled)
        self.resize(900, 420)
        self.refresh()

    def _button(self, text: str, tip: str, slot, layout) -> QPushButton:
        b = QPushButton(text, self)
        b.setObjectName("models" + "".join(w.capitalize() for w in text.replace("…", "").split()))
        b.setAccessibleName(text.replace("…", ""))
        b.setToolTip(tip)
        b.clicked.connect(slot)
        layout.addWidget(b)
        return b

    # ---- state -----------------------------------------------------------------------------------
    @property
    def folder(self) -> Path:
        return studio_settings.library_folder(self.settings)

    def selected(self):
        rows = {i.row() for i in self.table.selectedItems()}
        return self.entries[min(rows)] if rows else None

    def _update_buttons(self) -> None:
        e = self.selected()
        busy = self._job is not None
        for b in (self.btn_import, self.btn_verify, self.btn_folder):
            b.setEnabled(not busy)
        self.btn_remove.setEnabled(not busy and e is not None and not e.read_only)
        self.btn_open.setEnabled(e is not None and e.kind == "generator" and self.window is not None)
        self.btn_cancel.setEnabled(busy)

    def _submit(self, name: str, fn, on_done) -> None:
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)

        def done(result) -> None:
            self._finish()
            on_done(result)

        def failed(text: str) -> None:
            self._finish()
            self.message.show_message(text, "error")

        self._job = PENDING  # an inline runner finishes (and resets this) before submit returns
        job = self.runner.submit(name, fn, on_done=done, on_error=failed)
        if self._job == PENDING:
            self._job = job
        self._update_buttons()

    def _on_cancelled(self, job_id: int) -> None:
        if self._job is not None and (job_id == self._job or self._job == PENDING):
            self._finish(cancelled_job=True)

    def _finish(self, cancelled_job: bool = False) -> None:
        self._job = None
        self.progress.setVisible(False)
        if cancelled_job:
            self.message.show_message("Cancelled; the library is unchanged.", "info", 5000)
        self._update_buttons()

    def _on_progress(self, p) -> None:
        if self._job is None or getattr(p, "job_id", None) != self._job:
            return
        if p.fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(p.fraction * 1000))
        self.progress.setFormat(p.message or "%p%")

    # ---- actions ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the library on the worker and fill the table (skipped while a job of ours runs)."""
        if self._job is not None:
            return
        self.folder_label.setText(f"Library folder: {self.folder}")
        self._submit("List models", library_jobs.list_job(str(self.folder)), self._fill)

    def _fill(self, result) -> None:
        entries, notices = result
        self.entries = entries
        self.table.setRowCount(len(entries))
        for r, e in enumerate(entries):
            status = self.statuses.get(str(e.path)) or _status(e)
            lic = e.licence or ("(none given)" if not e.read_only else "")
            origin = f" (converted from {e.source_format})" if e.source_sha256 else ""
            values = (e.kind, e.name + (" (built-in)" if e.read_only else ""), format_size(e.size),
                      e.sha256[:12], status, lic if len(lic) <= 70 else lic[:69] + "…")
            for c, v in enumerate(values):
                item = QTableWidgetItem(v)
                item.setToolTip(f"{e.path}{origin}\nsha256 {e.sha256}\nlicence: {lic}\n{'; '.join(e.notes)}".strip())
                self.table.setItem(r, c, item)
        self.table.resizeRowsToContents()
        if notices:
            self.message.show_message("; ".join(notices), "warning")
        self._update_buttons()

    def paths_dropped(self, paths: list[Path]) -> None:
        self.import_files([str(p) for p in paths])

    def import_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Import model files", "",
                                                "Model files (*.safetensors *.pt *.pth *.pkl *.bin *.dat);;All (*)")
        if files:
            self.import_files(files)

    def import_files(self, paths: list[str]) -> None:
        """Import on the worker; bad files give one message naming each file, and add nothing."""
        if self._job is not None:
            self.message.show_message("Wait for the running job to finish (or cancel it).", "warning", 5000)
            return

        def done(result) -> None:
            imported, problems = result
            if problems:
                self.message.show_message("Not imported: " + "; ".join(problems), "error")
            elif imported:
                self.message.show_message("Imported " + ", ".join(f"{e.name} ({e.kind})" for e in imported),
                                          "info", 8000)
            self.refresh()

        self._submit("Import models", library_jobs.import_job(str(self.folder), paths), done)

    def verify(self) -> None:
        e = self.selected()

        def done(results) -> None:
            for r in results:
                self.statuses[str(r.entry.path)] = {"ok": "verified", "modified": "changed"}.get(r.status, r.status)
            bad = [f"{r.entry.name}: {self.statuses[str(r.entry.path)]}" for r in results if not r.ok]
            if bad:
                self.message.show_message("Verify found problems: " + "; ".join(bad), "error")
            else:
                self.message.show_message(f"{len(results)} file(s) verified.", "info", 5000)
            self.refresh()

        self._submit("Verify models", library_jobs.verify_job(str(self.folder), e.name if e else None), done)

    def confirm_remove(self, entry) -> bool:
        answer = QMessageBox.question(self, "Remove model",
                                      f"Remove {entry.name!r} from the library? Its copy in the library folder "
                                      f"({entry.path.name}) is deleted; the file you imported from is not touched.")
        return answer == QMessageBox.StandardButton.Yes

    def remove_selected(self) -> None:
        e = self.selected()
        if e is None or e.read_only or not self.confirm_remove(e):
            return

        def done(removed) -> None:
            self.message.show_message(f"Removed {removed.name}.", "info", 5000)
            self.refresh()

        self._submit(f"Remove {e.name}", library_jobs.remove_job(str(self.folder), e.name), done)

    def open_selected(self) -> None:
        e = self.selected()
        if e is not None and e.kind == "generator" and self.window is not None:
            self.window.open_model(e.path)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Library folder", str(self.folder))
        if folder:
            self.set_folder(folder)

    def set_folder(self, folder: str) -> None:
        """Use ``folder`` for the library from now on (stored in the settings, applied to this process)."""
        self.settings.setValue(studio_settings.LIBRARY_FOLDER_KEY, str(folder))
        self.settings.sync()
        studio_settings.apply_library_folder(self.settings)
        self.statuses.clear()
        self.refresh()

    def cancel_job(self) -> None:
        if self._job is not None:
            self.runner.cancel(self._job)


def install_model_manager(window) -> QAction:
    """Add Tools → Models… (Ctrl+M) to the studio window; the dialog is created once and reused."""
    act = QAction("Models…", window)
    act.setObjectName("actionModels")
    act.setShortcut(QKeySequence("Ctrl+M"))
    act.setToolTip("The model library: import, verify, remove and open models")

    def show() -> None:
        dlg = getattr(window, "model_manager", None)
        if dlg is None:
            dlg = ModelManagerDialog(window.client, window.settings, window, window)
            window.model_manager = dlg
        else:
            dlg.refresh()
        dlg.show()
        dlg.raise_()

    act.triggered.connect(show)
    window.add_menu_action("Tools", act)
    return act


__all__ = ["ModelManagerDialog", "install_model_manager"]
