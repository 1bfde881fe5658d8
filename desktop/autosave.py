"""Autosave and crash recovery.

While the studio runs, the edit is written (atomically, as a ``.sdproj`` project) to
``<library folder>/autosave/autosave.sdproj`` :data:`IDLE_MS` after the last change, and removed again
when there is nothing unsaved (the undo stack is clean) and on a clean exit. So an ``autosave.sdproj``
found at start means the last session ended without a clean exit: it is moved aside to
``recover.sdproj`` (so this session's autosaves never overwrite it) and a non-modal bar offers
"Recover" (open it as an unsaved, untitled edit) or "Discard" (delete it). The user's own project file
is never written here. A lock file keeps a second running studio from taking the first one's autosave
for a crashed session (that one then does not autosave).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

log = logging.getLogger("desktop.autosave")

#: write the autosave this long after the last change (milliseconds)
IDLE_MS = 2000
#: Environment variable with a shorter idle delay in ms, for tests that start real studio processes.
IDLE_ENV = "STYLEDOMAIN_AUTOSAVE_IDLE_MS"
AUTOSAVE_NAME = "autosave.sdproj"
RECOVER_NAME = "recover.sdproj"
LOCK_NAME = "autosave.lock"
BAR_STYLE = ("QFrame#recoveryBar { background:#fff4d6; color:#4a3600; border:1px solid #e0c070;"
             " border-radius:4px; }")


def autosave_dir(library_dir: str | Path | None = None) -> Path:
    """``<library folder>/autosave`` (the library folder of :mod:`engine.library`, honouring STYLEDOMAIN_HOME)."""
    if library_dir is None:
        from engine.library import default_library_dir

        library_dir = default_library_dir()
    return Path(library_dir) / "autosave"


class RecoveryBar(QFrame):
    """"Recover the last session? [Recover] [Discard]" above the canvas; never modal."""

    recover_requested = Signal()
    discard_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recoveryBar")
        self.setAccessibleName("Recover the last session")
        self.setStyleSheet(BAR_STYLE)
        self.label = QLabel("Recover the last session?", self)
        self.label.setObjectName("recoveryText")
        self.label.setAccessibleName("Recovery message")
        self.label.setWordWrap(True)
        self.recover = QPushButton("Recover", self)
        self.recover.setObjectName("recoveryRecover")
        self.recover.setAccessibleName("Recover the last session")
        self.recover.setToolTip("Open the edit of the last session, which did not end cleanly (as an unsaved edit)")
        self.discard = QPushButton("Discard", self)
        self.discard.setObjectName("recoveryDiscard")
        self.discard.setAccessibleName("Discard the last session")
        self.discard.setToolTip("Delete the autosaved edit of the last session")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 4, 4)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.recover)
        lay.addWidget(self.discard)
        self.recover.clicked.connect(self.recover_requested)
        self.discard.clicked.connect(self.discard_requested)
        self.hide()

    def offer(self, text: str) -> None:
        self.label.setText(text)
        self.recover.setEnabled(True)
        self.show()


class AutoSaver(QObject):
    """Autosave of one window's document (see the module docstring). ``enabled`` is False when another
    studio holds the autosave folder or the folder cannot be created."""

    saved = Signal(str)  # the autosave path, after each write
    recovered = Signal(object)  # EditState, after Recover opened it

    def __init__(self, window, folder: str | Path | None = None, idle_ms: int = IDLE_MS) -> None:
        super().__init__(window)
        self.window, self.doc = window, window.document
        self.folder = Path(folder) if folder is not None else autosave_dir()
        self.path = self.folder / AUTOSAVE_NAME
        self.recover_path = self.folder / RECOVER_NAME
        self._failed_once = False
        self._finished = False
        self.timer = QTimer(self)
        self.timer.setObjectName("autosaveTimer")
        self.timer.setSingleShot(True)
        self.timer.setInterval(idle_ms)
        self.timer.timeout.connect(self.save_now)
        self.bar = RecoveryBar(window.centralWidget())
        layout = window.centralWidget().layout()
        if layout is not None:
            layout.insertWidget(0, self.bar)
        self.bar.recover_requested.connect(self.recover)
        self.bar.discard_requested.connect(self.discard)
        self.lock = QLockFile(str(self.folder / LOCK_NAME))
        self.lock.setStaleLockTime(0)  # stale only when its process is gone, never by age
        self.enabled = self._take_folder()
        if not self.enabled:
            return
        self._offer_recovery()
        self.doc.changed.connect(lambda _state: self.timer.start())
        self.doc.undo_stack.cleanChanged.connect(self._clean_changed)
        closing = getattr(window, "closing", None)
        if closing is not None:
            closing.connect(self.finish)

    # ---- start -----------------------------------------------------------------------------------
    def _take_folder(self) -> bool:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("autosave off: cannot create %s (%s)", self.folder, exc)
            return False
        if not self.lock.tryLock(0):
            log.info("autosave off: another studio uses %s", self.folder)
            return False
        return True

    def _offer_recovery(self) -> None:
        if self.path.is_file():  # the last session ended without a clean exit
            try:
                os.replace(self.path, self.recover_path)
            except OSError as exc:
                log.warning("cannot move the autosave aside (%s); not offering recovery", exc)
                return
        if self.recover_path.is_file():
            self.bar.offer(f"Recover the last session? It did not end cleanly (autosaved {_age(self.recover_path)}).")

    # ---- saving ----------------------------------------------------------------------------------
    def save_now(self) -> Path | None:
        """Write the autosave now (nothing when there is no model or nothing unsaved); returns its path."""
        self.timer.stop()
        if not self.enabled or self._finished:
            return None
        state = self.doc.state
        if state.model is None:
            return None
        if self.doc.undo_stack.isClean():
            self.remove()
            return None
        from engine.errors import UserError
        from engine.pipeline.project import save_project

        from .project_actions import project_from_state

        try:
            project = project_from_state(state, self.path)
            actions = getattr(self.window, "project_actions", None)
            own = getattr(actions, "path", None)
            project.studio["project_path"] = str(own) if own else None
            project.studio["autosave"] = True
            save_project(project, self.path)
        except (UserError, OSError, ValueError) as exc:
            log.warning("autosave failed: %s", exc)
            if not self._failed_once:
                self._failed_once = True
                self.window.show_message(f"Autosave failed: {exc}", "warning")
            return None
        self.saved.emit(str(self.path))
        return self.path

    def remove(self) -> None:
        """Delete this session's autosave (nothing unsaved any more)."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot remove %s (%s)", self.path, exc)

    def _clean_changed(self, clean: bool) -> None:
        if clean:
            self.timer.stop()
            self.remove()

    def finish(self) -> None:
        """Clean exit: no autosave left behind (a recovery still on offer stays for the next start)."""
        if self._finished:
            return
        self._finished = True
        self.timer.stop()
        if self.enabled:
            self.remove()
            self.lock.unlock()

    # ---- recovery --------------------------------------------------------------------------------
    def recover(self) -> int | None:
        """Open the last session's edit as an unsaved, untitled edit (one undo step); returns the job id."""
        if not self.recover_path.is_file():
            self.bar.hide()
            return None
        actions = getattr(self.window, "project_actions", None)
        if actions is None:
            from .project_actions import install_project

            actions = install_project(self.window)
        self.bar.recover.setEnabled(False)

        def done(state) -> None:
            self.bar.hide()
            try:
                self.recover_path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("cannot remove %s (%s)", self.recover_path, exc)
            self.timer.start()
            self.recovered.emit(state)

        def failed(message: str) -> None:
            self.bar.offer(f"The last session could not be recovered ({message}). Discard it?")
            self.bar.recover.setEnabled(False)

        return actions.open_project(self.recover_path, on_done=done, on_error=failed, recovered=True)

    def discard(self) -> None:
        """Delete the last session's autosave."""
        try:
            self.recover_path.unlink(missing_ok=True)
        except OSError as exc:
            self.window.show_message(f"Could not delete {self.recover_path}: {exc}", "error")
            return
        self.bar.hide()


def _age(path: Path) -> str:
    from datetime import datetime

    try:
        when = datetime.fromtimestamp(path.stat().st_mtime)
    except OSError:
        return "earlier"
    same_day = when.date() == datetime.now().date()
    return when.strftime("at %H:%M" if same_day else "on %d %b at %H:%M")


def idle_delay_ms() -> int:
    """:data:`IDLE_MS`, or the delay in ``$STYLEDOMAIN_AUTOSAVE_IDLE_MS`` (1..600000 ms) when set."""
    try:
        value = int(os.environ.get(IDLE_ENV, ""))
    except ValueError:
        return IDLE_MS
    return value if 0 < value <= 600_000 else IDLE_MS


def install_autosave(window, folder: str | Path | None = None, idle_ms: int | None = None) -> AutoSaver:
    """Autosave ``window``'s document after ``idle_ms`` (default :func:`idle_delay_ms`) without changes;
    returns the :class:`AutoSaver` (also ``window.autosaver``)."""
    saver = AutoSaver(window, folder, idle_ms or idle_delay_ms())
    window.autosaver = saver
    return saver


__all__ = ["AUTOSAVE_NAME", "IDLE_ENV", "IDLE_MS", "RECOVER_NAME", "AutoSaver", "RecoveryBar", "autosave_dir",
           "idle_delay_ms", "install_autosave"]
