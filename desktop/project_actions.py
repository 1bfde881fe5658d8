"""File → New / Open project… / Save project / Save project as…: the studio's ``.sdproj`` files.

``install_project(window)`` adds the actions and returns a :class:`ProjectActions` (also kept as
``window.project_actions``). Saving is small and runs on the GUI thread; opening finds the model and the
directions by sha256 (last-known path, next to the project, the known folders, the model library) on the
worker, and a project whose files are missing gets one non-modal message and changes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog

from engine.errors import UserError
from engine.pipeline.project import PROJECT_SUFFIX, FileRef, Project, load_project, require_project_files, save_project

from .document import DeltaSlot, DirectionSlot, EditState, Source, to_recipe

PROJECT_FILTER = f"StyleDomain project (*{PROJECT_SUFFIX})"


def project_from_state(state: EditState, path: Path | None = None) -> Project:
    """The project of ``state`` (every direction and delta, enabled or not; the latent bit-exact)."""
    if state.model is None:
        raise UserError("nothing to save yet: open a model first")
    m, s = state.model, state.source
    files = [FileRef("model", m.name, m.sha256, m.path)]
    files += [FileRef("direction", d.name, d.sha256, d.path) for d in state.directions]
    files += [FileRef("delta", d.name, d.sha256, d.path) for d in state.deltas]
    if s.photo_path and len(s.photo_sha256) == 64:
        files.append(FileRef("photo", Path(s.photo_path).name, s.photo_sha256, s.photo_path, required=False))
    sha = {d.path: d.sha256 for d in state.directions + state.deltas}
    studio = {
        "directions": [{"sha256": d.sha256, "name": d.name, "enabled": d.enabled, "weight": d.weight,
                        "layers": d.layers, "style_mix": d.style_mix} for d in state.directions],
        "deltas": [{"sha256": d.sha256, "name": d.name, "enabled": d.enabled, "weight": d.weight}
                   for d in state.deltas],
        "pad": list(state.pad) if state.pad is not None else None, "paste_back": state.paste_back,
        "pad_anchors": [{"sha256": sha[k], "pos": [x, y]} for k, x, y in state.pad_anchors if k in sha],
        "source": {"kind": s.kind, "seed": s.seed, "photo_path": s.photo_path, "photo_sha256": s.photo_sha256,
                   "alignment": s.alignment, "face_index": s.face_index, "inversion": s.inversion},
        "project_path": str(path) if path else None,
    }
    w = s.w_plus.detach().cpu().contiguous() if s.w_plus is not None else None
    return Project(to_recipe(state, path), w, files, studio, app="StyleDomain Studio")


def open_project_job(path: str, search_dirs: list[str] | None = None):
    """Worker job: read the project, find its files, load the model; returns the :class:`EditState`."""

    def job(ctx) -> EditState:
        from .worker import tasks

        project = load_project(path)
        dirs = list(search_dirs or []) + tasks.default_search_dirs()
        res = require_project_files(project, path, dirs, cancel=ctx.cancel)
        model_ref = project.refs("model")[0]
        info = tasks.model_info(ctx.store.generator(res.path(model_ref)))
        studio = project.studio
        by_sha = {(f.role, f.sha256): res.path(f) for f in project.files}
        directions = []
        for d in studio.get("directions", []):
            p = by_sha[("direction", d["sha256"])]
            ctx.store.direction(p)
            directions.append(DirectionSlot(str(p), d["name"], d["sha256"], d["enabled"], d["weight"], d["layers"],
                                            d["style_mix"]))
        deltas = []
        for d in studio.get("deltas", []):
            p = by_sha[("delta", d["sha256"])]
            ctx.store.delta(p)
            deltas.append(DeltaSlot(str(p), d["name"], d["sha256"], d["enabled"], d["weight"]))
        s = studio.get("source", {})
        source = Source(s.get("kind", "seed"), s.get("seed"), project.w_plus, s.get("photo_path"),
                        s.get("photo_sha256", ""), s.get("alignment"), s.get("face_index"), s.get("inversion"))
        pad = studio.get("pad")
        r = project.recipe
        state = EditState(info, source, tuple(directions), tuple(deltas), r.strength, r.psi,
                          tuple(pad) if pad else None, bool(studio.get("paste_back", False)), keep=r.keep)
        by_sha = {d.sha256: d.path for d in directions + deltas}
        anchors = tuple((by_sha[a["sha256"]], float(a["pos"][0]), float(a["pos"][1]))
                        for a in studio.get("pad_anchors", []) if a.get("sha256") in by_sha)
        return replace(state, pad_anchors=anchors)

    return job


class ProjectActions(QObject):
    """The project actions of one window and the current project file."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.path: Path | None = None
        self.act_new = self._action("New project", self.new_project, QKeySequence.StandardKey.New)
        self.act_open = self._action("Open project…", self.open_dialog, QKeySequence("Ctrl+Shift+O"))
        self.act_save = self._action("Save project", self.save, QKeySequence.StandardKey.Save)
        self.act_save_as = self._action("Save project as…", self.save_as_dialog, QKeySequence("Ctrl+Shift+S"))

    def _action(self, text: str, slot, shortcut) -> QAction:
        act = QAction(text, self.window)
        act.setObjectName("action" + "".join(w.capitalize() for w in text.replace("…", "").split()))
        act.setShortcut(QKeySequence(shortcut))
        act.setToolTip(text)
        act.triggered.connect(slot)
        self.window.add_menu_action("File", act)
        return act

    def new_project(self) -> None:
        """A fresh edit on the current model (one undo step), no project file."""
        st = self.window.document.state
        self.window.document.set_state(EditState(model=st.model, source=Source("seed", 0)), "New project")
        self.path = None

    def save(self) -> bool:
        return self.save_to(self.path) if self.path else self.save_as_dialog()

    def save_as_dialog(self) -> bool:
        start = str(self.path or Path.home() / f"untitled{PROJECT_SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save project", start, PROJECT_FILTER)
        return self.save_to(path) if path else False

    def save_to(self, path: str | Path) -> bool:
        path = Path(path)
        if path.suffix.lower() != PROJECT_SUFFIX:
            path = path.with_name(path.name + PROJECT_SUFFIX)
        try:
            save_project(project_from_state(self.window.document.state, path), path)
        except (UserError, OSError) as exc:
            self.window.show_message(f"Project not saved: {exc}", "error")
            return False
        self.path = path
        self.window.document.undo_stack.setClean()
        self.window.show_message(f"Saved project {path.name}", "ok")
        self._remember(path)
        return True

    def _remember(self, path: Path, opened: bool = False) -> None:
        """List the project in Open Recent and the Library panel (when the window has them); its thumbnail
        is the current preview, or for a project just opened the next preview (its own image)."""
        add_recent = getattr(self.window, "_add_recent", None)
        if add_recent is not None:
            add_recent(str(path))
        library = getattr(self.window, "library", None)
        if library is None or not hasattr(library, "add_project"):
            return
        if not opened:
            preview = getattr(self.window, "last_preview", None)
            library.add_project(path, getattr(preview, "image", None))
            return
        library.add_project(path, None)
        shown = getattr(self.window, "preview_shown", None)
        if shown is not None:
            def thumb(result) -> None:
                shown.disconnect(thumb)
                library.add_project(path, result.image)

            shown.connect(thumb)

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open project", "", PROJECT_FILTER)
        if path:
            self.open_project(path)

    def open_project(self, path: str | Path, on_done=None, on_error=None, recovered: bool = False) -> int:
        """Open on the worker; the document changes (one undo step) only when every file was found.

        ``recovered``: an autosave being recovered: it stays an unsaved, untitled edit (Save asks for a
        name, so the autosave file is never taken for the user's project) and is not listed as recent.
        """
        path = Path(path)

        def done(state: EditState) -> None:
            if recovered:
                self.window.document.set_state(state, "Recover the last session")
                self.path = None
                self.window.show_message("Recovered the last session (not saved yet)", "ok")
            else:
                self.window.document.set_state(state, f"Open project {path.name}")
                self.path = path
                self.window.document.undo_stack.setClean()
                self.window.show_message(f"Opened project {path.name}", "ok")
                self._remember(path, opened=True)
            if on_done:
                on_done(state)

        return self.window.client.submit(f"Open {path.name}", open_project_job(str(path)), on_done=done,
                                         on_error=on_error)


def install_project(window) -> ProjectActions:
    """Add the project actions to ``window``'s File menu; returns them (also ``window.project_actions``)."""
    actions = ProjectActions(window)
    window.project_actions = actions
    return actions


__all__ = ["ProjectActions", "install_project", "open_project_job", "project_from_state"]
