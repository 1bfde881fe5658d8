"""Few-shot pairs for the Adapt panel: source photos and the same faces in the new look, matched in order.

:class:`PairsEditor` holds two :class:`ImageListDrop` boxes (sources, targets). Each takes dropped or chosen
image files and folders (a folder's images in name order) and shows the first image, the count and the names;
a drop that is not all readable images changes nothing and emits ``error``. The pairs are the i-th source with
the i-th target (``styledomain adapt --source S1 --reference T1 ...``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.widgets.drops import PathDropTarget, expand_folders
from desktop.widgets.image_view import ImageView

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"


def read_images(paths: list[str | Path], what: str = "reference image", folders: bool = True):
    """(files, the first image as RGB, "") for readable image files (``folders``: a folder's images in name
    order), or ([], None, a one-line problem)."""
    files = [Path(p) for p in paths]
    files = expand_folders(files, IMAGE_SUFFIXES) if folders else files
    bad = [p for p in files if p.suffix.lower() not in IMAGE_SUFFIXES or not p.is_file()]
    if not files or bad:
        names = ", ".join(p.name for p in bad) or "nothing"
        return [], None, f"Not a {what}: {names} (use PNG, JPEG, WebP, BMP or TIFF)"
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(files[0]) as im:
            im.load()
            first = im.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        return [], None, f"{files[0]}: cannot read this image ({exc})"
    return files, first, ""


class ImageListDrop(PathDropTarget, QFrame):
    """A drop box for a list of images: the first one shown, then the count and the names."""

    changed = Signal()
    error = Signal(str)

    def __init__(self, title: str, placeholder: str, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setAccessibleName(title)
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = title
        self._files: list[Path] = []
        self.view = ImageView(placeholder, self, f"{name}View")
        self.view.setAccessibleName(f"First of the {title.lower()}")
        self.view.setToolTip(f"Drop images or a folder of images here ({title.lower()})")
        self.view.setMinimumSize(64, 64)
        self.label = QLabel(title, self)
        self.label.setObjectName(f"{name}Label")
        self.label.setWordWrap(True)
        self.choose_button = QPushButton("Choose…", self)
        self.choose_button.setObjectName(f"{name}Choose")
        self.choose_button.setAccessibleName(f"Choose {title.lower()}")
        self.choose_button.setToolTip(f"Choose the {title.lower()} image files")
        self.choose_button.clicked.connect(self._ask)
        lay = QVBoxLayout(self)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.label)
        lay.addWidget(self.choose_button)

    def files(self) -> list[str]:
        return [str(p) for p in self._files]

    def set_files(self, paths: list[str | Path]) -> bool:
        files, first, problem = read_images(paths, "source or target image")
        if problem:
            self.error.emit(problem)
            return False
        self._files = files
        self.view.set_image(first)
        names = ", ".join(p.name for p in files[:4]) + (", …" if len(files) > 4 else "")
        self.label.setText(f"{self.title}: {len(files)} ({names})")
        self.changed.emit()
        return True

    def clear(self) -> None:
        self._files = []
        self.view.clear_image()
        self.label.setText(self.title)
        self.changed.emit()

    def paths_dropped(self, paths: list[Path]) -> None:
        self.set_files(paths)

    def _ask(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, self.title, "", IMAGE_FILTER)
        if names:
            self.set_files(names)


class PairsEditor(QWidget):
    """Sources and targets side by side; :meth:`problem` says why they do not make pairs yet."""

    changed = Signal()
    error = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("adaptPairs")
        self.sources = ImageListDrop("Sources", "Drop the photos here", "adaptPairSources", self)
        self.sources.setToolTip("Photos of faces, as the model makes them now (one per pair, in name order)")
        self.targets = ImageListDrop("Targets", "Drop the same faces\nin the new look here", "adaptPairTargets", self)
        self.targets.setToolTip("The same faces in the new look, in the same order as the sources")
        self.hint = QLabel("Pairs are matched in name order: the first source with the first target, and so on.",
                           self)
        self.hint.setObjectName("adaptPairsHint")
        self.hint.setWordWrap(True)
        self.setAccessibleName("Source and target pairs")
        row = QHBoxLayout()
        row.addWidget(self.sources)
        row.addWidget(self.targets)
        lay = QVBoxLayout(self)
        lay.addLayout(row, 1)
        lay.addWidget(self.hint)
        for box in (self.sources, self.targets):
            box.changed.connect(self.changed)
            box.error.connect(self.error)

    def problem(self) -> str:
        n, m = len(self.sources.files()), len(self.targets.files())
        if not n or not m:
            return "Drop source photos and their targets in the new look (one target per source)"
        if n != m:
            return f"One target per source: {n} sources but {m} targets"
        return ""
