"""The studio's main window: library (left), canvas (centre), panel docks (right), jobs and messages.

Panels plug in with :meth:`StudioWindow.add_panel`; ``desktop.panels.install(window)`` is called at
start when that module exists. Everything slow runs on the worker (:class:`desktop.worker.WorkerClient`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSettings, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QIcon, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from engine.resources import resources_dir

from .canvas import Canvas
from .document import Document, EditState, ModelInfo, Source, anchors_from_recipe, pad_from_recipe
from .widgets.eta import format_duration
from .widgets.message_bar import MessageBar
from .worker import JobProgress, PreviewResult, WorkerClient, tasks

log = logging.getLogger("desktop.window")

APP_TITLE = "StyleDomain Studio"
MODEL_SUFFIXES = {".safetensors", ".pt", ".pth", ".pkl"}
RECIPE_SUFFIXES = {".json"}
PROJECT_SUFFIX = ".sdproj"
EXPORT_FILTER = "PNG with recipe (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp)"
MAX_RECENT = 10


def _set_names(widget: QWidget, name: str, accessible: str, tip: str) -> None:
    widget.setObjectName(name)
    widget.setAccessibleName(accessible)
    widget.setToolTip(tip)


class JobBar(QWidget):
    """Status-bar strip: the running job's name, progress, ETA and a Cancel button."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        _set_names(self, "jobBar", "Job progress", "The running job")
        self.label = QLabel(self)
        self.label.setObjectName("jobLabel")
        self.label.setAccessibleName("Job status")
        self.bar = QProgressBar(self)
        _set_names(self.bar, "jobProgress", "Job progress", "Progress of the running job")
        self.bar.setMaximumWidth(180)
        self.bar.setTextVisible(True)
        self.cancel = QPushButton("Cancel", self)
        _set_names(self.cancel, "jobCancel", "Cancel job", "Cancel the running job (Esc)")
        self.cancel.clicked.connect(self.cancel_requested)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.bar)
        lay.addWidget(self.cancel)
        self.setVisible(False)

    def started(self, name: str) -> None:
        self.label.setText(name)
        self.bar.setRange(0, 0)
        self.setVisible(True)

    def update_progress(self, p: JobProgress) -> None:
        if p.fraction is None:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(p.fraction * 1000))
        eta = f" · about {format_duration(p.eta_seconds)} left" if p.eta_seconds is not None else ""
        msg = f" · {p.message}" if p.message else ""
        self.label.setText(f"{p.name}{msg}{eta}")

    def idle(self) -> None:
        self.setVisible(False)


class LibraryPanel(QListWidget):
    """Thumbnails of photos, projects and exports; activating one opens it."""

    activated_path = Signal(str)

    THUMB = 72

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        _set_names(self, "library", "Library", "Photos and exports: double-click to open; drop files here")
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(self.THUMB, self.THUMB))
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMovement(QListWidget.Movement.Static)
        self.setSpacing(6)
        self.setWordWrap(True)
        self.setUniformItemSizes(True)
        self.setGridSize(QSize(self.THUMB + 24, self.THUMB + 34))
        self.itemActivated.connect(lambda item: self.activated_path.emit(item.data(Qt.ItemDataRole.UserRole)))
        self._paths: set[str] = set()

    def add_image(self, path: str | Path, label: str | None = None) -> bool:
        p = str(Path(path).resolve())
        if p in self._paths:
            return False
        img = QImage(p)
        if img.isNull():
            return False
        thumb = img.scaled(self.THUMB, self.THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                           Qt.TransformationMode.SmoothTransformation)
        item = QListWidgetItem(QIcon(QPixmap.fromImage(thumb)), label or Path(p).name)
        item.setData(Qt.ItemDataRole.UserRole, p)
        item.setToolTip(p)
        self.addItem(item)
        self._paths.add(p)
        return True

    def add_project(self, path: str | Path, thumbnail: QImage | None = None) -> bool:
        """List a project file (thumbnail: its last preview, else a file icon); an existing one is updated."""
        p = str(Path(path).resolve())
        if thumbnail is not None and not thumbnail.isNull():
            icon = QIcon(QPixmap.fromImage(thumbnail.scaled(self.THUMB, self.THUMB,
                                                            Qt.AspectRatioMode.KeepAspectRatio,
                                                            Qt.TransformationMode.SmoothTransformation)))
        else:
            icon = self.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon)
        if p in self._paths:
            for i in range(self.count()):
                if self.item(i).data(Qt.ItemDataRole.UserRole) == p:
                    self.item(i).setIcon(icon)
            return False
        item = QListWidgetItem(icon, Path(p).name)
        item.setData(Qt.ItemDataRole.UserRole, p)
        item.setToolTip(f"Project {p}")
        self.addItem(item)
        self._paths.add(p)
        return True

    def paths(self) -> list[str]:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())]


def images_in(folder: Path) -> tuple[list[Path], int]:
    """Image files under ``folder`` (recursive, hidden skipped) and the number of other files."""
    found, other = [], 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            if Path(name).suffix.lower() in tasks.IMAGE_SUFFIXES:
                found.append(Path(root) / name)
            else:
                other += 1
    return found, other


def _with_recipe_pad(job, path: str | Path):
    """Wrap a restore job so that the restored state also gets the blend-pad puck and anchor positions
    stored in the recipe."""

    def with_pad(state: EditState) -> EditState:
        recipe = tasks.read_recipe_file(str(path))
        return replace(state, pad=pad_from_recipe(recipe), pad_anchors=anchors_from_recipe(recipe, state))

    def wrapped(ctx):
        result = job(ctx)
        if isinstance(result, EditState):
            return with_pad(result)
        if isinstance(result, tuple) and result and result[0] == "recipe":
            return "recipe", with_pad(result[1])
        return result

    return wrapped


class StudioWindow(QMainWindow):
    """The main window. ``client`` runs every render and job; ``document`` holds the edit."""

    preview_shown = Signal(object)  # PreviewResult, after it is on the canvas
    closing = Signal()  # the window accepted a close (a clean exit): autosave cleans up
    batch_offered = Signal(object)  # the batch dialog, opened for a dropped folder of photos

    def __init__(self, client: WorkerClient, document: Document, settings: QSettings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("studioWindow")
        self.setAccessibleName(APP_TITLE)
        self.client, self.document = client, document
        self.settings = settings or QSettings("StyleDomain", "Studio")
        self.confirm_close: Callable[[], bool] = self._ask_close
        self.panels: dict[str, QDockWidget] = {}
        self.last_preview: PreviewResult | None = None
        self._closing = False
        self._preview_policy: str | None = None
        self.setAcceptDrops(True)
        self.resize(1280, 800)
        self._build_central()
        self._build_library()
        self._build_actions()
        self._build_status()
        self._connect()
        self._update_title()
        self._install_panels()

    # ---- construction ----------------------------------------------------------------------------
    def _build_central(self) -> None:
        central = QWidget(self)
        central.setObjectName("centralArea")
        lay = QVBoxLayout(central)
        lay.setContentsMargins(6, 6, 6, 6)
        self.message_bar = MessageBar(central, "messageBar")
        self.canvas = Canvas(central)
        self.split_slider = QSlider(Qt.Orientation.Horizontal, central)
        _set_names(self.split_slider, "compareSplit", "Before/after split",
                   "Before/after split: the original is shown left of the line")
        self.split_slider.setRange(0, 1000)
        self.split_slider.setValue(500)
        self.split_slider.setVisible(False)
        self.empty_hint = QLabel("Drop a photo, a recipe PNG or a model file anywhere on the window", central)
        self.empty_hint.setObjectName("emptyHint")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.message_bar)
        lay.addWidget(self.canvas, 1)
        lay.addWidget(self.split_slider)
        lay.addWidget(self.empty_hint)
        self.setCentralWidget(central)

    def _build_library(self) -> None:
        self.library = LibraryPanel(self)
        dock = QDockWidget("Library", self)
        dock.setObjectName("libraryDock")
        dock.setAccessibleName("Library")
        dock.setWidget(self.library)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.panels["library"] = dock
        samples = resources_dir() / "samples"
        if samples.is_dir():
            for p in sorted(samples.glob("*.png")):
                self.library.add_image(p)

    def _action(self, text: str, slot, shortcut=None, tip: str = "", checkable: bool = False) -> QAction:
        act = QAction(text, self)
        act.setObjectName("action" + "".join(w.capitalize() for w in text.replace("…", "").replace("%", "").split()))
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.setToolTip(tip or text)
        act.setStatusTip(tip or text)
        act.setCheckable(checkable)
        (act.toggled if checkable else act.triggered).connect(slot)
        self.addAction(act)
        return act

    def _build_actions(self) -> None:
        S = QKeySequence.StandardKey
        self.act_open = self._action("Open…", self.open_dialog, S.Open, "Open photos, recipes or model files")
        self.act_export = self._action("Export…", self.export_dialog, QKeySequence("Ctrl+E"),
                                       "Export the image (PNG with its recipe, JPEG or WebP)")
        self.act_undo = self.document.undo_stack.createUndoAction(self, "Undo")
        self.act_undo.setShortcuts([QKeySequence(S.Undo)])
        self.act_undo.setObjectName("actionUndo")
        self.act_redo = self.document.undo_stack.createRedoAction(self, "Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence(S.Redo)])
        self.act_redo.setObjectName("actionRedo")
        self.addAction(self.act_undo)
        self.addAction(self.act_redo)
        self.act_fit = self._action("Fit", self.canvas.fit, QKeySequence("Ctrl+0"), "Fit the image in the view")
        self.act_100 = self._action("100 %", self.canvas.actual_size, QKeySequence("Ctrl+1"),
                                    "One image pixel per screen pixel")
        self.act_compare = self._action("Compare", self.set_compare, QKeySequence("C"),
                                        "Before/after split view", checkable=True)
        self.act_paste = self._action("Paste back", self.document.set_paste_back, QKeySequence("P"),
                                      "Show the face pasted back into the full photo (else the aligned crop)",
                                      checkable=True)
        self.act_cancel = self._action("Cancel job", lambda: self.client.cancel(), QKeySequence("Esc"),
                                       "Cancel running jobs")
        self.act_quit = self._action("Quit", self.close, S.Quit, "Quit the studio")
        self.act_diag = self._action("Diagnostics", self.copy_diagnostics, None,
                                     "Copy versions, device and models to the clipboard")
        self.act_logs = self._action("Open log folder", self.open_log_folder, None, "Open the folder of the log file")
        bar = self.menuBar()
        m = bar.addMenu("&File")
        m.addAction(self.act_open)
        self.recent_menu = m.addMenu("Open &Recent")
        self.recent_menu.setObjectName("recentMenu")
        m.addAction(self.act_export)
        m.addSeparator()
        m.addAction(self.act_quit)
        m = bar.addMenu("&Edit")
        m.addAction(self.act_undo)
        m.addAction(self.act_redo)
        self.view_menu = bar.addMenu("&View")
        for a in (self.act_fit, self.act_100, self.act_compare, self.act_paste):
            self.view_menu.addAction(a)
        self.view_menu.addSeparator()
        self.panels_menu = self.view_menu.addMenu("Panels")
        self.panels_menu.addAction(self.panels["library"].toggleViewAction())
        self.help_menu = bar.addMenu("&Help")
        self.help_menu.addAction(self.act_diag)
        self.help_menu.addAction(self.act_logs)
        tb = self.addToolBar("Main")
        tb.setObjectName("mainToolbar")
        for a in (self.act_open, self.act_export, self.act_undo, self.act_redo, self.act_fit, self.act_100,
                  self.act_compare, self.act_paste):
            tb.addAction(a)
        spacer = QWidget(tb)
        spacer.setObjectName("toolbarSpacer")
        spacer.setSizePolicy(spacer.sizePolicy().horizontalPolicy().Expanding,
                             spacer.sizePolicy().verticalPolicy().Preferred)
        tb.addWidget(spacer)
        self.demo_badge = QLabel(" demo model ", tb)
        _set_names(self.demo_badge, "demoBadge", "Demo model badge",
                   "The built-in demo model: a small StyleGAN2 of cartoon faces, not a real face model. "
                   "Open your own with File → Open or the model manager.")
        self.demo_badge.setStyleSheet("#demoBadge { background: #b36b00; color: white; border-radius: 8px;"
                                      " padding: 2px 8px; font-weight: bold; }")
        # a widget in a toolbar is shown and hidden through its action, not through the widget itself
        self.demo_badge_action = tb.addWidget(self.demo_badge)
        self.demo_badge_action.setVisible(False)
        self._refresh_recent()

    def _build_status(self) -> None:
        self.job_bar = JobBar(self)
        self.status_label = QLabel(self)
        self.status_label.setObjectName("statusInfo")
        self.status_label.setAccessibleName("Image information")
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.job_bar)

    def _connect(self) -> None:
        d, c = self.document, self.client
        d.changed.connect(self._on_changed)
        d.gesture_finished.connect(lambda: self.request_preview(draft=False))
        d.view_changed.connect(self._sync_view_action)
        c.preview_ready.connect(self._on_preview)
        c.error.connect(lambda m: self.show_message(m, "error"))
        c.notice.connect(lambda m: self.show_message(m, "info"))
        c.job_started.connect(lambda _i, name: self.job_bar.started(name))
        c.job_progress.connect(self._on_progress)
        c.jobs_changed.connect(lambda n: self.job_bar.idle() if n == 0 else None)
        self.job_bar.cancel_requested.connect(lambda: c.cancel())
        self.split_slider.valueChanged.connect(lambda v: self.canvas.set_compare(v / 1000))
        self.library.activated_path.connect(lambda p: self.open_paths([p]))
        self.canvas.zoom_changed.connect(lambda _z: self._update_status())

    def _install_panels(self) -> None:
        try:
            from desktop import panels  # the panels engineer's package, when present
        except ImportError:
            return
        install = getattr(panels, "install", None)
        if install is None:
            return
        try:
            install(self)
        except Exception as exc:  # a broken panel must not keep the studio from starting
            log.exception("panels failed to install")
            self.show_message(f"Some panels failed to load: {exc}", "error")

    # ---- panels API ------------------------------------------------------------------------------
    def add_panel(self, key: str, widget: QWidget, title: str,
                  area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea) -> QDockWidget:
        """Put ``widget`` in a dock (tabified with the other right-hand docks); returns the dock."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{key}Dock")
        dock.setAccessibleName(title)
        dock.setWidget(widget)
        others = [p for k, p in self.panels.items() if k != "library" and self.dockWidgetArea(p) == area]
        self.addDockWidget(area, dock)
        if others:
            self.tabifyDockWidget(others[-1], dock)
        self.panels[key] = dock
        self.panels_menu.addAction(dock.toggleViewAction())
        return dock

    def add_menu_action(self, menu: str, action: QAction) -> None:
        """Add an action to a top-level menu by title ("File", "Edit", "View", "Tools", "Help")."""
        for a in self.menuBar().actions():
            if a.menu() is not None and a.text().replace("&", "") == menu:
                a.menu().addAction(action)
                return
        new = QMenu(f"&{menu}", self.menuBar())
        self.menuBar().insertMenu(self.help_menu.menuAction(), new)  # Help stays last
        new.addAction(action)

    # ---- messages --------------------------------------------------------------------------------
    def show_message(self, text: str, level: str = "info") -> None:
        log.info("message (%s): %s", level, text)
        self.message_bar.show_message(text, level, 0 if level == "error" else 10_000)
        self.statusBar().showMessage(text, 8000)

    # ---- model and previews ----------------------------------------------------------------------
    def open_model(self, path: str | Path, on_done: Callable[[ModelInfo], None] | None = None) -> int:
        """Load a generator on the worker; when loaded, it becomes the document's model."""

        def done(info: ModelInfo) -> None:
            self._use_model(info)
            if on_done:
                on_done(info)

        return self.client.submit(f"Load {Path(path).name}", tasks.load_model(str(path)), on_done=done)

    def _use_model(self, info: ModelInfo) -> None:
        st = self.document.state
        if st.model is None:
            self.document.reset(EditState(model=info, source=Source("seed", 0)))
            return
        same_layout = st.model.layout_fingerprint == info.layout_fingerprint
        new = replace(st, model=info, source=st.source if same_layout else Source("seed", 0),
                      directions=st.directions if same_layout else (), deltas=())
        self.document.set_state(new, f"Open model {info.name}")
        self._add_recent(info.path)

    def request_preview(self, draft: bool | None = None) -> int | None:
        spec = self.document.state.render_spec()
        if spec is None:
            return None
        if draft is None:
            draft = self.document.in_gesture
        self._sync_preview_policy()
        compare = self.act_compare.isChecked()
        return self.client.request_preview(spec, draft=draft, paste_back=self.document.state.paste_back,
                                           want_before=compare or not draft)

    def _sync_preview_policy(self) -> None:
        """Hand the ``preview/policy`` setting to the worker when it changed (the Settings dialog writes it)."""
        from .settings import preview_policy

        policy = preview_policy(self.settings)
        if policy != self._preview_policy and hasattr(self.client, "set_preview_policy"):
            self.client.set_preview_policy(policy)
            self._preview_policy = policy

    def _on_changed(self, state: EditState) -> None:
        self._update_title()
        self.demo_badge_action.setVisible(bool(state.model and state.model.is_demo))
        self.request_preview()

    def _on_preview(self, result: PreviewResult) -> None:
        self.last_preview = result
        self.canvas.set_images(result.image, result.before)
        self.empty_hint.setVisible(False)
        self._update_status()
        self.preview_shown.emit(result)

    def _on_progress(self, p: JobProgress) -> None:
        self.job_bar.update_progress(p)

    def _update_title(self) -> None:
        st = self.document.state
        parts = [st.model.name if st.model else "no model"]
        if st.model:
            parts.append(st.source.label)
        self.setWindowTitle(f"{APP_TITLE} — " + " — ".join(parts))

    def _update_status(self) -> None:
        r = self.last_preview
        if r is None:
            return
        kind = "draft" if r.draft else "full"
        view = "pasted back" if r.pasted else "aligned"
        self.status_label.setText(f"{r.image.width()}×{r.image.height()} · {kind} {r.resolution} px in "
                                  f"{r.seconds * 1000:.0f} ms · {view} · zoom {self.canvas.zoom() * 100:.0f} %")

    def set_compare(self, on: bool) -> None:
        self.split_slider.setVisible(on)
        self.canvas.set_compare(self.split_slider.value() / 1000 if on else None)
        if on:
            self.request_preview(False)

    def _sync_view_action(self, on: bool) -> None:
        if self.act_paste.isChecked() != on:
            self.act_paste.blockSignals(True)
            self.act_paste.setChecked(on)
            self.act_paste.blockSignals(False)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.key() == Qt.Key.Key_Backslash and not event.isAutoRepeat():
            self.canvas.set_show_before(True)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.key() == Qt.Key.Key_Backslash and not event.isAutoRepeat():
            self.canvas.set_show_before(False)
            return
        super().keyReleaseEvent(event)

    # ---- opening files ---------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            self.show_message("Nothing usable was dropped (only local files and folders can be opened).", "error")
            return
        event.acceptProposedAction()
        self.open_paths(paths)

    def open_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open", "", "Images, projects, recipes and models (*.png "
                                                "*.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.sdproj *.json "
                                                "*.safetensors *.pt *.pth *.pkl)")
        if files:
            self.open_paths(files)

    def open_paths(self, paths: Iterable[str | Path]) -> list[int]:
        """Open dropped or chosen files/folders; returns the ids of the jobs started.

        Photos are inverted, recipes (PNG/JSON/JPEG/WebP) restored, projects (``.sdproj``) opened, model
        files opened or added; a folder's photos go to the library and, two or more, to the batch dialog
        ("drag a folder in, get a folder out"); anything unusable gets a non-modal message and changes
        nothing.
        """
        jobs: list[int] = []
        problems: list[str] = []
        photos: list[Path] = []
        for raw in paths:
            p = Path(raw)
            if p.is_dir():
                found, other = images_in(p)
                if not found:
                    problems.append(f"{p}: no photos in this folder ({other} other file(s) skipped)")
                    continue
                added = sum(self.library.add_image(f) for f in found)
                self.show_message(f"{p.name}: {len(found)} photo(s) in the library ({added} new)"
                                  + (f", {other} other file(s) skipped" if other else ""), "ok")
                if len(found) == 1:
                    photos.append(found[0])
                else:
                    self.offer_batch(p)
                continue
            if not p.is_file():
                problems.append(f"{p}: file not found")
                continue
            suffix = p.suffix.lower()
            if suffix in tasks.IMAGE_SUFFIXES:
                photos.append(p)
            elif suffix == PROJECT_SUFFIX:
                jobs.append(self.open_project(p))
            elif suffix in RECIPE_SUFFIXES:
                jobs.append(self.restore_recipe(p))
            elif suffix in MODEL_SUFFIXES:
                jobs.append(self._open_model_file(p))
            else:
                problems.append(f"{p.name}: not a photo, recipe or model file")
        for photo in photos:
            jobs.append(self._open_image(photo))
        if problems:
            self.show_message("; ".join(problems), "error")
        return jobs

    def open_project(self, path: str | Path) -> int:
        """Open a ``.sdproj`` through the project actions (installed on first use)."""
        actions = getattr(self, "project_actions", None)
        if actions is None:
            from .project_actions import install_project

            actions = install_project(self)
        return actions.open_project(path)

    def offer_batch(self, folder: str | Path):
        """Open the batch dialog with ``folder`` in its list (None when the batch dialog is unavailable)."""
        try:
            from .panels.batch_dialog import open_batch_dialog
        except ImportError:
            log.exception("batch dialog unavailable")
            return None
        dialog = open_batch_dialog(self, [folder])
        self.batch_offered.emit(dialog)
        return dialog

    def _open_image(self, path: Path) -> int:
        model = self.document.state.model

        def done(result) -> None:
            kind, value = result
            if kind == "recipe":
                self._apply_restored(value, path)
            else:
                self.document.set_source(value)
                self.library.add_image(path)
                self._add_recent(str(path))

        job = tasks.open_image(str(path), model.path if model else None, photos=self._known_photos())
        return self.client.submit(f"Open {path.name}", _with_recipe_pad(job, path), on_done=done)

    def _known_photos(self) -> list[str]:
        """Images the studio knows, where a restored recipe's photo is looked for: the current photo, recent
        files, then the library newest first (the user's photos before the shipped samples)."""
        current = self.document.state.source.photo_path
        candidates = ([current] if current else []) + self.recent_files() + self.library.paths()[::-1]
        return [p for p in candidates if Path(p).suffix.lower() in tasks.IMAGE_SUFFIXES]

    def restore_recipe(self, path: str | Path) -> int:
        job = tasks.restore_recipe(str(path), photos=self._known_photos())
        return self.client.submit(f"Restore {Path(path).name}", _with_recipe_pad(job, path),
                                  on_done=lambda st: self._apply_restored(st, Path(path)))

    def _apply_restored(self, state: EditState, path: Path) -> None:
        self.document.set_state(state, f"Restore {path.name}")
        self.show_message(f"Restored the edit from {path.name}", "ok")
        self._add_recent(str(path))

    def _open_model_file(self, path: Path) -> int:
        model = self.document.state.model

        def done(opened: tasks.OpenedFile) -> None:
            if opened.kind == "generator":
                self._use_model(opened.model)
                self.show_message(f"Opened model {opened.model.name}", "ok")
            elif opened.kind == "direction":
                self.document.add_direction(opened.direction)
                self.show_message(f"Added direction {opened.direction.name}", "ok")
            else:
                self.document.add_delta(opened.delta)
                self.show_message(f"Added parameter delta {opened.delta.name}", "ok")

        return self.client.submit(f"Open {path.name}", tasks.open_model_file(str(path), model.path if model else None),
                                  on_done=done)

    # ---- export ----------------------------------------------------------------------------------
    def export_dialog(self) -> None:
        st = self.document.state
        if st.model is None:
            self.show_message("Nothing to export yet: open a model first.", "error")
            return
        last = self.settings.value("export/folder", str(Path.home()))
        name = f"{st.model.name}-{Path(st.source.label).stem.replace(' ', '')}.png"
        path, _ = QFileDialog.getSaveFileName(self, "Export image", str(Path(last) / name), EXPORT_FILTER)
        if path:
            self.settings.setValue("export/folder", str(Path(path).parent))
            self.export_to(path)

    def export_to(self, path: str | Path, on_done: Callable[[str], None] | None = None) -> int | None:
        """Render at full resolution on the worker and write ``path`` with the recipe embedded."""
        st = self.document.state
        spec = st.render_spec()
        if spec is None:
            self.show_message("Nothing to export yet: open a model first.", "error")
            return None
        path = Path(path)
        if path.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
            path = path.with_suffix(".png")
        recipe_text = self.document.to_recipe(path).dumps()

        def done(out: str) -> None:
            self.library.add_image(out)
            self.show_message(f"Exported {out} (recipe embedded: drop it back to restore the edit)", "ok")
            if on_done:
                on_done(out)

        return self.client.submit(f"Export {path.name}", tasks.export_image(spec, str(path), recipe_text,
                                                                            st.paste_back), on_done=done)

    # ---- recent files, diagnostics ---------------------------------------------------------------
    def recent_files(self) -> list[str]:
        """The Open Recent paths, newest first (an ini file gives a one-item list back as a plain string)."""
        value = self.settings.value("recent", []) or []
        return [value] if isinstance(value, str) else [str(p) for p in value]

    def _add_recent(self, path: str) -> None:
        recent = [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent", ([path] + recent)[:MAX_RECENT])
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.recent_files():
            act = self.recent_menu.addAction(Path(p).name)
            act.setToolTip(p)
            act.triggered.connect(lambda _=False, p=p: self.open_paths([p]))
        self.recent_menu.setEnabled(not self.recent_menu.isEmpty())

    def diagnostics_text(self, library_lines: Iterable[str] = ()) -> str:
        """Versions, device, precision, the open model and directions, the log file, and ``library_lines``."""
        from .app import versions
        from .logs import log_dir
        from .settings import preview_policy

        st = self.document.state
        lines = [f"{k}: {v}" for k, v in versions().items()]
        lines.append(f"Qt platform: {QApplication.platformName()}")
        lines.append(f"device: {self.client.device}")
        lines.append(f"precision: {getattr(self.client, 'precision', 'fp32')} previews, fp32 exports; "
                     f"preview policy {preview_policy(self.settings)}")
        if st.model:
            lines.append(f"model: {st.model.name} {st.model.size}px sha256 {st.model.sha256} ({st.model.path})")
        lines += [f"direction: {d.name} sha256 {d.sha256}" for d in st.directions]
        lines += [f"delta: {d.name} sha256 {d.sha256}" for d in st.deltas]
        lines.append(f"log: {log_dir()}")
        lines += list(library_lines)
        return "\n".join(lines)

    def copy_diagnostics(self) -> int:
        """Gather the library listing on the worker, then copy :meth:`diagnostics_text` to the clipboard."""
        from .settings import library_folder
        from .worker.library_jobs import summary_job

        def done(lines: list[str]) -> None:
            QApplication.clipboard().setText(self.diagnostics_text(lines))
            self.show_message("Diagnostics (versions, device, models, log folder) copied to the clipboard.", "ok")

        return self.client.submit("Diagnostics", summary_job(str(library_folder(self.settings))), on_done=done)

    def open_log_folder(self) -> None:
        from .logs import log_dir

        QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_dir())))

    # ---- closing ---------------------------------------------------------------------------------
    def _ask_close(self) -> bool:
        names = ", ".join(n for _, n in self.client.pending_jobs())
        answer = QMessageBox.question(self, "Quit StyleDomain Studio",
                                      f"A job is still running ({names}). Cancel it and quit?")
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.client.pending_jobs() and not self.confirm_close():
            event.ignore()
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.client.cancel()
        self.client.stop()
        event.accept()
        self.closing.emit()
