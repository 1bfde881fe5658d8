"""The Batch export dialog: the current edit applied to many photos through the engine's batch pipeline.

Drop files or folders (or use Add files… / Add folder…), pick an output folder, a naming template (the
engine's ``{stem}_{recipe}.{ext}`` syntax, with a live example), a format and quality, then Start: the
document's recipe runs through :func:`engine.pipeline.batch.run_batch` on the worker
(:mod:`desktop.worker.batch_job`). Each photo's row shows its outcome as it arrives; the overall bar
shows progress with an ETA; Cancel stops at the next image (finished files are kept, nothing is half
written). At the end every photo is listed as exported, skipped or failed with its reason. The engine's
manifest in the output folder makes a rerun of the same photos skip what is done ("n already done,
resumed"), and existing files are never replaced unless "Overwrite existing" is on.

``install_batch_dialog(window)`` adds File → Batch export… (Ctrl+B); ``open_batch_dialog(window, paths)``
opens (or raises) the window's one dialog with extra photos.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.document import Document, EditState
from desktop.widgets.drops import PathDropTarget, expand_folders
from desktop.widgets.eta import EtaEstimator, format_duration
from desktop.worker.batch_job import BatchEvent, BatchFeed, BatchRequest, batch_job, output_folder_problem
from desktop.worker.requests import JobProgress
from desktop.worker.tasks import STUDIO_INVERT_STEPS
from engine.errors import UserError
from engine.pipeline.batch import DEFAULT_TEMPLATE, IMAGE_SUFFIXES, InputFile
from engine.pipeline.batch.inputs import scan_folder
from engine.pipeline.batch.naming import NameTemplate
from engine.pipeline.batch.writers import DEFAULT_QUALITY

#: (label, engine format) in the format box
FORMAT_CHOICES = (("PNG (recipe embedded)", "png"), ("JPEG", "jpg"), ("WebP", "webp"))
STATUS_TEXT = {"done": "exported", "skipped": "skipped", "failed": "failed"}
STATUS_COLOUR = {"done": "#2e7d32", "skipped": "#8a6d00", "failed": "#c62828", "waiting": "#666666"}
COL_PHOTO, COL_STATUS, COL_DETAILS = 0, 1, 2
_LABEL_JUNK = re.compile(r"[^A-Za-z0-9_-]+")


def _names(widget: QWidget, name: str, accessible: str, tip: str) -> None:
    widget.setObjectName(name)
    widget.setAccessibleName(accessible)
    widget.setToolTip(tip)


def edit_problem(state: EditState) -> str | None:
    """Why the current edit cannot be batch-exported (one line), or None."""
    if state.model is None:
        return "No model is open: open a model (File → Open) and make an edit before a batch export."
    if not any(d.enabled for d in state.directions) and not any(d.enabled for d in state.deltas):
        return "The current edit changes nothing: enable a domain (a direction or a delta) first."
    return None


def edit_label(state: EditState) -> str:
    """The ``{recipe}`` field for the current edit: its enabled domains' names, e.g. ``sketch+pop_art``."""
    names = [d.name for d in state.directions if d.enabled] + [d.name for d in state.deltas if d.enabled]
    parts = [p for p in (_LABEL_JUNK.sub("-", n).strip("-") for n in names) if p]
    return "+".join(parts)[:60].strip("+") or "edit"


def edit_summary(state: EditState) -> str:
    """One line naming the model and the enabled domains with their weights."""
    if state.model is None:
        return "no model"
    terms = [f"{d.name} {d.weight:.2f}" for d in state.directions if d.enabled]
    terms += [f"{d.name} (delta) {d.weight:.2f}" for d in state.deltas if d.enabled]
    return f"{state.model.name} · {', '.join(terms) or 'no domains'} · strength {state.strength:.2f}"


def _hidden_below(path: Path, root: Path) -> bool:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False
    return any(p.startswith(".") for p in parts)


class BatchDialog(PathDropTarget, QDialog):
    """Non-modal batch export of the document's current edit (see the module docstring)."""

    def __init__(self, client, document: Document, parent: QWidget | None = None,
                 settings: QSettings | None = None, notify: Callable[[str, str], None] | None = None) -> None:
        super().__init__(parent)
        self.client, self.document, self.settings, self.notify = client, document, settings, notify
        _names(self, "batchDialog", "Batch export", "Apply the current edit to many photos")
        self.setWindowTitle("Batch export")
        self.setModal(False)
        self.setAcceptDrops(True)
        self.resize(760, 640)
        self.sources: list[Path] = []  # files and folders as given (the engine scans folders itself)
        self.rows: dict[str, QTreeWidgetItem] = {}  # input path -> row
        self.inputs: list[InputFile] = []  # the images the engine will see, in order
        self.not_images: list[tuple[str, str]] = []  # (path, reason) skipped before the run
        self.job_id: int | None = None
        self.feed: BatchFeed | None = None
        self.report = None
        self.summary = ""
        self._eta = EtaEstimator()
        self._build()
        self._load_settings()
        self._connect()
        self.refresh()

    # ---- construction ----------------------------------------------------------------------------
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        self.edit_label = QLabel(self)
        _names(self.edit_label, "batchEdit", "Edit to apply", "The current edit, applied to every photo")
        self.edit_label.setWordWrap(True)
        lay.addWidget(self.edit_label)

        photos = QGroupBox("Photos", self)
        photos.setObjectName("batchPhotosGroup")
        pl = QVBoxLayout(photos)
        self.table = QTreeWidget(photos)
        _names(self.table, "batchInputs", "Photos to export",
               "The photos of this batch and, once it runs, each one's outcome. Drop files or folders here.")
        self.table.setHeaderLabels(["Photo", "Status", "Details"])
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        head = self.table.header()
        head.setSectionResizeMode(COL_PHOTO, QHeaderView.ResizeMode.Interactive)
        head.setSectionResizeMode(COL_STATUS, QHeaderView.ResizeMode.ResizeToContents)
        head.setStretchLastSection(True)
        self.table.setColumnWidth(COL_PHOTO, 260)
        self.drop_hint = QLabel("Drop photos or folders here, or use Add files… / Add folder…", photos)
        self.drop_hint.setObjectName("batchDropHint")
        self.drop_hint.setAccessibleName("Drop hint")
        self.drop_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        row = QHBoxLayout()
        self.add_files_button = QPushButton("Add files…", photos)
        _names(self.add_files_button, "batchAddFiles", "Add files", "Add photo files to the batch")
        self.add_folder_button = QPushButton("Add folder…", photos)
        _names(self.add_folder_button, "batchAddFolder", "Add folder",
               "Add a folder: its images (sub-folders included, hidden files skipped)")
        self.clear_button = QPushButton("Clear", photos)
        _names(self.clear_button, "batchClear", "Clear the list", "Remove every photo from the list")
        self.count_label = QLabel(photos)
        _names(self.count_label, "batchCount", "Number of photos", "How many photos the batch will export")
        for w in (self.add_files_button, self.add_folder_button, self.clear_button):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.count_label)
        pl.addWidget(self.table, 1)
        pl.addWidget(self.drop_hint)
        pl.addLayout(row)
        lay.addWidget(photos, 1)

        out = QGroupBox("Output", self)
        out.setObjectName("batchOutputGroup")
        form = QFormLayout(out)
        folder_row = QHBoxLayout()
        self.out_edit = QLineEdit(out)
        _names(self.out_edit, "batchOutputFolder", "Output folder",
               "Where the exported files go (created if missing). Rerunning into the same folder resumes.")
        self.out_button = QPushButton("Choose…", out)
        _names(self.out_button, "batchChooseOutput", "Choose output folder", "Choose the output folder")
        folder_row.addWidget(self.out_edit, 1)
        folder_row.addWidget(self.out_button)
        form.addRow("Folder:", folder_row)
        self.name_edit = QLineEdit(DEFAULT_TEMPLATE, out)
        _names(self.name_edit, "batchNameTemplate", "Naming template",
               "Output names: {stem} {name} {suffix} {folder} {recipe} {model} {index} {ext}; "
               "format specs work ({index:04d}); '/' makes sub-folders")
        form.addRow("Names:", self.name_edit)
        self.example_label = QLabel(out)
        _names(self.example_label, "batchNameExample", "Example output name",
               "The name the first photo's output gets")
        self.example_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("", self.example_label)
        fmt_row = QHBoxLayout()
        self.format_box = QComboBox(out)
        _names(self.format_box, "batchFormat", "Output format",
               "PNG keeps the edit's recipe in each file; JPEG and WebP are smaller")
        for text, fmt in FORMAT_CHOICES:
            self.format_box.addItem(text, fmt)
        self.quality_spin = QSpinBox(out)
        _names(self.quality_spin, "batchQuality", "Quality", "JPEG / WebP quality, 1 to 100")
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setPrefix("quality ")
        self.quality_spin.setValue(DEFAULT_QUALITY["jpg"])
        fmt_row.addWidget(self.format_box)
        fmt_row.addWidget(self.quality_spin)
        fmt_row.addStretch(1)
        form.addRow("Format:", fmt_row)
        self.overwrite_box = QCheckBox("Overwrite existing files", out)
        _names(self.overwrite_box, "batchOverwrite", "Overwrite existing files",
               "Off: files already in the folder that no batch wrote are kept and their photos skipped")
        self.paste_box = QCheckBox("Paste the face back into the full photo", out)
        _names(self.paste_box, "batchPasteBack", "Paste back",
               "On: each output is the whole photo with the edited face pasted back; off: the aligned crop")
        self.aligned_box = QCheckBox("Photos are aligned face crops (no face detection)", out)
        _names(self.aligned_box, "batchAligned", "Photos are aligned crops",
               "Skip face detection: each photo is used as an aligned square face crop")
        self.steps_spin = QSpinBox(out)
        _names(self.steps_spin, "batchSteps", "Refinement steps",
               "Optimisation steps after the encoder for each photo (0 = encoder only, fastest)")
        self.steps_spin.setRange(0, 1000)
        self.steps_spin.setValue(STUDIO_INVERT_STEPS)
        self.steps_spin.setSuffix(" refinement steps")
        form.addRow("", self.overwrite_box)
        form.addRow("", self.paste_box)
        form.addRow("", self.aligned_box)
        form.addRow("Inversion:", self.steps_spin)
        lay.addWidget(out)

        self.progress_bar = QProgressBar(self)
        _names(self.progress_bar, "batchProgress", "Overall progress", "Photos finished out of all photos")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("%v / %m")
        self.item_label = QLabel(self)
        _names(self.item_label, "batchCurrent", "Latest photo", "The photo that finished last and its outcome")
        self.eta_label = QLabel(self)
        _names(self.eta_label, "batchEta", "Time left", "Estimated time left for the batch")
        prow = QHBoxLayout()
        prow.addWidget(self.progress_bar, 1)
        prow.addWidget(self.eta_label)
        lay.addLayout(prow)
        lay.addWidget(self.item_label)
        self.message_label = QLabel(self)
        _names(self.message_label, "batchMessage", "Batch message", "Problems and the result of the last run")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.message_label)

        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open output folder", self)
        _names(self.open_button, "batchOpenFolder", "Open output folder", "Show the output folder")
        self.start_button = QPushButton("Start", self)
        _names(self.start_button, "batchStart", "Start batch export",
               "Apply the current edit to every photo in the list")
        self.start_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel", self)
        _names(self.cancel_button, "batchCancel", "Cancel batch export",
               "Stop after the photo in progress; finished files are kept and a rerun resumes")
        self.close_button = QPushButton("Close", self)
        _names(self.close_button, "batchClose", "Close", "Close this dialog (a running batch goes on)")
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        for b in (self.start_button, self.cancel_button, self.close_button):
            buttons.addWidget(b)
        lay.addLayout(buttons)

    def _connect(self) -> None:
        self.add_files_button.clicked.connect(self.choose_files)
        self.add_folder_button.clicked.connect(self.choose_folder)
        self.clear_button.clicked.connect(self.clear)
        self.out_button.clicked.connect(self.choose_output)
        self.open_button.clicked.connect(self.open_output)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self.name_edit.textChanged.connect(self.refresh)
        self.out_edit.textChanged.connect(self.refresh)
        self.format_box.currentIndexChanged.connect(self._format_changed)
        self.document.changed.connect(self._document_changed)
        self.client.job_progress.connect(self._on_progress)
        self.client.job_cancelled.connect(self._on_cancelled)

    # ---- settings ----------------------------------------------------------------------------------
    def _load_settings(self) -> None:
        s = self.settings
        self.paste_box.setChecked(self.document.state.paste_back)
        if s is not None:
            self.out_edit.setText(str(s.value("batch/out_dir", "")))
            self.name_edit.setText(str(s.value("batch/template", DEFAULT_TEMPLATE)) or DEFAULT_TEMPLATE)
            i = self.format_box.findData(str(s.value("batch/format", "png")))
            self.format_box.setCurrentIndex(max(0, i))
        self._format_changed()

    def _save_settings(self) -> None:
        if self.settings is not None:
            self.settings.setValue("batch/out_dir", self.out_edit.text())
            self.settings.setValue("batch/template", self.name_edit.text())
            self.settings.setValue("batch/format", self.fmt)

    @property
    def fmt(self) -> str:
        return str(self.format_box.currentData())

    def _format_changed(self, *_args) -> None:
        q = DEFAULT_QUALITY.get(self.fmt)
        self.quality_spin.setEnabled(q is not None)
        if q is not None:
            self.quality_spin.setValue(q)
        self.refresh()

    # ---- inputs ------------------------------------------------------------------------------------
    def add_paths(self, paths: Iterable[str | os.PathLike]) -> int:
        """Add files and folders (folders: their images, recursively; other files are listed as skipped).
        Returns how many photos were added."""
        added = 0
        missing = []
        for raw in paths:
            p = Path(raw).expanduser()
            if not p.exists():
                missing.append(p.name or str(p))
                continue
            if p.is_dir():
                found = list(scan_folder(p))
                images = [i for i in found if str(i.path) not in self.rows]
                if images:
                    self.sources.append(p)
                for item in images:
                    self._add_row(item)
                    added += 1
                scanned = {str(i.path) for i in found}
                for f in expand_folders([p]):
                    if str(f) not in scanned and str(f) not in self.rows and not _hidden_below(f, p):
                        self._add_skipped_row(f, f"not an image type ({f.suffix or 'no suffix'})")
            elif str(p) in self.rows:
                continue
            elif p.suffix.lower() in IMAGE_SUFFIXES:
                self.sources.append(p)
                self._add_row(InputFile(p))
                added += 1
            else:
                self._add_skipped_row(p, f"not an image type ({p.suffix or 'no suffix'})")
        if missing:
            self.show_problem(f"Not found: {', '.join(missing)}")
        self.refresh()
        return added

    def paths_dropped(self, paths: list[Path]) -> None:
        self.add_paths(paths)

    def _add_row(self, item: InputFile) -> None:
        row = QTreeWidgetItem([self._display(item.path), "waiting", ""])
        row.setToolTip(COL_PHOTO, str(item.path))
        self.table.addTopLevelItem(row)
        self.rows[str(item.path)] = row
        self.inputs.append(item)
        self._set_status(row, "waiting", "")

    def _add_skipped_row(self, path: Path, reason: str) -> None:
        row = QTreeWidgetItem([self._display(path), "skipped", reason])
        row.setToolTip(COL_PHOTO, str(path))
        self.table.addTopLevelItem(row)
        self.rows[str(path)] = row
        self.not_images.append((str(path), reason))
        self._set_status(row, "skipped", reason)

    @staticmethod
    def _display(path: Path) -> str:
        return f"{path.parent.name}/{path.name}" if path.parent.name else path.name

    def clear(self) -> None:
        if self.running:
            return
        self.table.clear()
        self.rows.clear()
        self.sources.clear()
        self.inputs.clear()
        self.not_images.clear()
        self.report = None
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.item_label.clear()
        self.eta_label.clear()
        self.refresh()

    def choose_files(self) -> None:
        suffixes = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        files, _ = QFileDialog.getOpenFileNames(self, "Add photos", "", f"Images ({suffixes});;All files (*)")
        if files:
            self.add_paths(files)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos")
        if folder:
            self.add_paths([folder])

    def choose_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.out_edit.text())
        if folder:
            self.out_edit.setText(folder)

    def open_output(self) -> None:
        folder = self.out_edit.text().strip()
        if folder and Path(folder).is_dir():
            QDesktopServices.openUrl(QUrl.fromLocalFile(folder))
        else:
            self.show_problem("The output folder does not exist yet.")

    # ---- state -------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job_id is not None

    def _document_changed(self, _state) -> None:
        self.refresh()

    def example_name(self) -> str:
        """The first photo's output name under the current template (UserError for a bad template)."""
        st = self.document.state
        first = self.inputs[0] if self.inputs else InputFile(Path("photo.jpg"))
        p = first.path
        template = NameTemplate(self.name_edit.text(), self.fmt)
        return str(template.render(stem=p.stem, name=p.name, suffix=p.suffix.lstrip("."), folder=first.folder,
                                   recipe=edit_label(st), model=st.model.name if st.model else "model", index=1))

    def refresh(self, *_args) -> None:
        """Update the edit line, the example name, the count and which buttons are enabled."""
        st = self.document.state
        problem = edit_problem(st)
        if problem:
            self.edit_label.setText(f"<span style='color:#c62828'>{problem}</span>")
        else:
            self.edit_label.setText(f"Applies the current edit: <b>{edit_summary(st)}</b>")
        template_ok = True
        try:
            self.example_label.setText(f"Example: {self.example_name()}")
            self.example_label.setStyleSheet("")
        except UserError as exc:
            template_ok = False
            self.example_label.setText(str(exc))
            self.example_label.setStyleSheet("color: #c62828")
        n_skip = len(self.not_images)
        count = f"{len(self.inputs)} photo(s)" + (f", {n_skip} other file(s) will be skipped" if n_skip else "")
        self.count_label.setText(count)
        self.drop_hint.setVisible(not self.rows)
        idle = not self.running
        self.start_button.setEnabled(idle and problem is None and template_ok and bool(self.inputs))
        self.cancel_button.setEnabled(not idle)
        for w in (self.add_files_button, self.add_folder_button, self.clear_button, self.out_edit, self.out_button,
                  self.name_edit, self.format_box, self.overwrite_box, self.paste_box, self.aligned_box,
                  self.steps_spin):
            w.setEnabled(idle)
        self.quality_spin.setEnabled(idle and DEFAULT_QUALITY.get(self.fmt) is not None)

    def show_problem(self, text: str) -> None:
        self.message_label.setStyleSheet("color: #c62828")
        self.message_label.setText(text)

    def show_info(self, text: str) -> None:
        self.message_label.setStyleSheet("")
        self.message_label.setText(text)

    # ---- running -----------------------------------------------------------------------------------
    def start_problem(self) -> str | None:
        """Why Start cannot run now (one line), or None."""
        if self.running:
            return "A batch is already running."
        problem = edit_problem(self.document.state)
        if problem:
            return problem
        if not self.inputs:
            return "Add photos first: drop files or folders here, or use Add files… / Add folder…."
        try:
            self.example_name()
        except UserError as exc:
            return str(exc)
        return output_folder_problem(self.out_edit.text())

    def build_request(self) -> BatchRequest:
        st = self.document.state
        return BatchRequest(
            sources=tuple(str(p) for p in self.sources), out_dir=str(Path(self.out_edit.text().strip()).expanduser()),
            recipe_text=self.document.to_recipe(None).dumps(), recipe_label=edit_label(st),
            model_path=st.model.path, fmt=self.fmt,
            quality=self.quality_spin.value() if DEFAULT_QUALITY.get(self.fmt) is not None else None,
            template=self.name_edit.text(), overwrite=self.overwrite_box.isChecked(),
            paste_back=self.paste_box.isChecked(), steps=self.steps_spin.value(),
            aligned=self.aligned_box.isChecked())

    def start(self) -> int | None:
        """Queue the batch on the worker; returns the job id, or None (with a message) when it cannot start."""
        problem = self.start_problem()
        if problem:
            self.show_problem(problem)
            return None
        request = self.build_request()
        self._save_settings()
        self.feed = BatchFeed(self.rows)
        self.report = None
        for item in self.inputs:
            self._set_status(self.rows[str(item.path)], "waiting", "")
        self.progress_bar.setRange(0, max(1, len(self.inputs)))
        self.progress_bar.setValue(0)
        self.item_label.setText("Starting…")
        self._eta.reset()
        self.eta_label.setText("estimating…")
        self.show_info(f"Exporting {len(self.inputs)} photo(s) to {request.out_dir}…")
        self.job_id = self.client.submit("Batch export", batch_job(request, self.feed), on_done=self._on_done,
                                         on_error=self._on_error, interleave_previews=False)
        self.refresh()
        return self.job_id

    def cancel(self) -> None:
        if self.job_id is not None:
            self.client.cancel(self.job_id)
            self.item_label.setText("Cancelling after the photo in progress…")
            self.cancel_button.setEnabled(False)

    def _set_status(self, row: QTreeWidgetItem, status: str, details: str) -> None:
        row.setText(COL_STATUS, STATUS_TEXT.get(status, status))
        row.setText(COL_DETAILS, details)
        row.setToolTip(COL_DETAILS, details)
        row.setForeground(COL_STATUS, _brush(STATUS_COLOUR.get(status, STATUS_COLOUR["waiting"])))

    def _apply_events(self, events: Iterable[BatchEvent]) -> None:
        for e in events:
            row = self.rows.get(e.input)
            if row is not None:
                self._set_status(row, e.status, e.reason)
            name = Path(e.input).name
            self.item_label.setText(f"{name}: {STATUS_TEXT.get(e.status, e.status)}"
                                    + (f" ({e.reason})" if e.reason else ""))

    def _on_progress(self, p: JobProgress) -> None:
        if p.job_id != self.job_id:
            return
        if self.feed is not None:
            self._apply_events(self.feed.drain())
        if p.total:
            self.progress_bar.setRange(0, p.total)
            self.progress_bar.setValue(p.step)
        self._eta.update(p.fraction)
        self.eta_label.setText(self._eta.text())

    def _on_done(self, report) -> None:
        self._finish(report)

    def _on_error(self, message: str) -> None:
        self.job_id = None
        self.item_label.clear()
        self.eta_label.clear()
        self.show_problem(message)
        self.refresh()

    def _on_cancelled(self, job_id: int) -> None:
        if job_id != self.job_id:
            return
        report = self.feed.report if self.feed is not None else None
        if report is None:
            self.job_id = None
            self.item_label.clear()
            self.eta_label.clear()
            self.show_info("Cancelled before any photo was started.")
            self.refresh()
            return
        report.cancelled = True
        self._finish(report)

    def _finish(self, report) -> None:
        """Show the final report: every photo's outcome and a summary line."""
        self.job_id = None
        self.report = report
        if self.feed is not None:
            self.feed.drain()
        for d in report.done:
            if (row := self.rows.get(d["input"])) is not None:
                self._set_status(row, "done", _relative(d["output"], report.out_dir))
        for kind in ("skipped", "failed"):
            for d in getattr(report, kind):
                if (row := self.rows.get(d["input"])) is not None:
                    self._set_status(row, kind, d["reason"])
        finished = {d["input"] for d in report.done + report.skipped + report.failed}
        not_started = 0
        for item in self.inputs:
            if str(item.path) not in finished:
                not_started += 1
                why = ("cancelled before this photo" if report.cancelled else
                       "inside the output folder" if _inside(item.path, report.out_dir) else "not processed")
                self._set_status(self.rows[str(item.path)], "not started", why)
        self.summary = summary_text(report, len(self.not_images), not_started)
        self.progress_bar.setValue(self.progress_bar.maximum() if not report.cancelled else
                                   len(finished))
        self.eta_label.setText("cancelled" if report.cancelled else f"done in {format_duration(report.seconds)}")
        self.item_label.setText("; ".join(report.notes))
        problems = report.failed or report.cancelled
        (self.show_problem if problems else self.show_info)(self.summary)
        if self.notify is not None:
            self.notify(f"Batch export: {self.summary}", "error" if report.failed else "ok")
        self.refresh()


def _brush(colour: str):
    from PySide6.QtGui import QBrush, QColor

    return QBrush(QColor(colour))


def _inside(path: Path, folder) -> bool:
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(folder))
        return True
    except ValueError:
        return False


def _relative(output: str, out_dir) -> str:
    try:
        return str(Path(output).relative_to(out_dir))
    except ValueError:
        return str(output)


def summary_text(report, not_images: int = 0, not_started: int = 0) -> str:
    """``"3 exported, 1 skipped, 2 failed in 4 s; 1 already done, resumed"`` (+ cancelled, not started)."""
    resumed = sum(1 for s in report.skipped if s["reason"].startswith("already exported"))
    skipped = len(report.skipped) + not_images
    text = f"{len(report.done)} exported, {skipped} skipped, {len(report.failed)} failed"
    text += f" in {format_duration(report.seconds)}"
    if resumed:
        text += f"; {resumed} already done, resumed"
    if report.cancelled:
        text += f"; cancelled ({not_started} not started)"
    return text


def open_batch_dialog(window, paths: Iterable[str | os.PathLike] | None = None) -> BatchDialog:
    """Show the window's batch dialog (created on first use), adding ``paths`` to its list."""
    dialog = window.findChild(BatchDialog, "batchDialog")
    if dialog is None:
        dialog = BatchDialog(window.client, window.document, parent=window,
                             settings=getattr(window, "settings", None), notify=window.show_message)
    if paths:
        dialog.add_paths(paths)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


def install_batch_dialog(window) -> QAction:
    """File → Batch export… (Ctrl+B) on the main window (once); returns the action."""
    existing = window.findChild(QAction, "actionBatchExport")
    if existing is not None:
        return existing
    act = QAction("Batch export…", window)
    act.setObjectName("actionBatchExport")
    act.setShortcut(QKeySequence("Ctrl+B"))
    act.setToolTip("Apply the current edit to many photos (files or folders)")
    act.setStatusTip(act.toolTip())
    act.triggered.connect(lambda: open_batch_dialog(window))
    window.add_menu_action("File", act)
    return act
