"""Drag and drop helpers: local file paths out of QMimeData, folders expanded."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QMimeData


def dropped_paths(mime: QMimeData) -> list[Path]:
    """Local files and folders named by the mime data's URLs (non-local URLs are ignored)."""
    if not mime.hasUrls():
        return []
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


def expand_folders(paths: Iterable[Path], suffixes: Iterable[str] | None = None) -> list[Path]:
    """Files, with each folder replaced by its files (recursively, sorted); optional suffix filter."""
    wanted = {s.lower() for s in suffixes} if suffixes is not None else None
    out: list[Path] = []
    for p in paths:
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        out.extend(f for f in files if wanted is None or f.suffix.lower() in wanted or not p.is_dir())
    return out


class PathDropTarget:
    """Mixin for a QWidget that accepts local files and folders: put it before the Qt base class and
    implement :meth:`paths_dropped`; drops without local paths are refused."""

    def paths_dropped(self, paths: list[Path]) -> None:
        raise NotImplementedError

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt API
        event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        paths = dropped_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.paths_dropped(paths)
