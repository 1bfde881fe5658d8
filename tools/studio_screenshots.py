"""Screenshots of the studio's main states, from a real window, for the README.

    xvfb-run -a -s "-screen 0 1600x1000x24" env QT_QPA_PLATFORM=xcb PYTHONPATH=. \
        .venv/bin/python tools/studio_screenshots.py [--out docs/screenshots] [--steps 40]

Drives the window through the issue #11 walkthrough on the demo model (CPU): opens the NASA astronaut
sample photo from the library (inverted; shown pasted back into the photo), blends two shipped domains on
the blend pad (mouse drag; the before/after split on), adapts to a demo-world reference with the loss curve
running, batch-exports a folder, verifies the model library and opens Settings. Each state is saved with
``QWidget.grab()``: main-window-inverted.png, main-window-blend.png, main-window-adapting.png,
main-window-pairs.png (a few-shot run from four photo / clay pairs on the Pairs tab), batch-dialog.png,
model-manager.png, settings.png. The model library and the settings live
in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

WINDOW_SIZE = (1400, 900)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 120.0, what: str = "") -> None:
    """Run the event loop until ``predicate()`` holds; RuntimeError after ``timeout_s``."""
    from PySide6.QtCore import QEventLoop, QTimer

    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            raise RuntimeError(f"timed out waiting for {what or predicate}")
        loop = QEventLoop()  # an event loop, not QTest.qWait: qWait keeps the GIL and starves the GPU worker
        QTimer.singleShot(20, loop.quit)
        loop.exec()


def drop(widget, paths) -> None:
    """Deliver a file-manager drop of ``paths`` to ``widget``."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    widget.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))


def save(widget, path: Path) -> None:
    from PySide6.QtWidgets import QApplication

    for _ in range(5):
        QApplication.processEvents()
    if not widget.grab().save(str(path)):
        raise RuntimeError(f"{path}: could not save the screenshot")
    print(f"wrote {path}")


def demo_domains(window, work: Path) -> list[str]:
    """Two domain keys for the blend: the first two shipped domains that fit the model, else two made here."""
    entries = [e for e in window.panel_binding.domains.entries() if e.kind == "direction"
               and window.panel_binding.domains.row(e.key).enable.isEnabled()]
    if len(entries) >= 2:
        return [entries[0].key, entries[1].key]
    import torch

    from engine.checkpoints import load_generator
    from engine.domains.direction import Direction, save_direction
    from engine.resources import demo_model_path
    from engine.stylespace import style_layout, total_channels

    layout = style_layout(load_generator(demo_model_path()).generator.config)
    paths = []
    for i, name in enumerate(("ink", "glow")):
        values = 1.5 * torch.randn(total_channels(layout), generator=torch.Generator().manual_seed(i + 1))
        path = work / f"{name}.safetensors"
        save_direction(Direction(layout, values, name=name), path)
        paths.append(path)
    drop(window.panel_binding.domains, paths)
    return [str(p.resolve()) for p in paths]


def demo_render(path: Path, seed: int, domain: str, size: int) -> Path:
    from PIL import Image

    from engine.demo_world.domains import render
    from engine.demo_world.faces import FaceParams

    Image.fromarray(render(FaceParams.from_seed(seed), domain, size)).save(path)
    return path


def run(out: Path, steps: int, work: Path) -> None:
    import torch
    from PySide6.QtCore import QPoint, QSettings, Qt
    from PySide6.QtGui import QAction
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from desktop.document import Document
    from desktop.panels.batch_dialog import BatchDialog
    from desktop.panels.settings_dialog import SettingsDialog
    from desktop.window import StudioWindow
    from desktop.worker.client import WorkerClient
    from engine.resources import demo_model_path, resources_dir

    torch.set_num_threads(1)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("StyleDomain Studio")
    settings = QSettings(str(work / "studio.ini"), QSettings.Format.IniFormat)
    client = WorkerClient("cpu")
    client.start()
    win = StudioWindow(client, Document(), settings)
    win.confirm_close = lambda: True
    win.resize(*WINDOW_SIZE)
    win.show()
    doc, binding = win.document, win.panel_binding
    try:
        def full_preview() -> bool:
            r = win.last_preview
            return r is not None and r.id == client.latest_preview_id and not r.draft

        win.open_model(demo_model_path())
        wait_until(lambda: doc.state.model is not None and full_preview(), what="the demo model")

        photo = str((resources_dir() / "samples" / "astronaut.png").resolve())  # activate it in the library
        lib = win.library
        item = next(lib.item(i) for i in range(lib.count()) if lib.item(i).data(Qt.ItemDataRole.UserRole) == photo)
        lib.setCurrentItem(item)
        lib.setFocus()
        QTest.keyClick(lib, Qt.Key.Key_Return)
        if not client.pending_jobs():
            raise RuntimeError("activating the astronaut in the library started nothing")
        wait_until(lambda: doc.state.source.kind == "photo" and full_preview(), what="the inversion")
        win.act_paste.setChecked(True)  # the inverted face pasted back into the whole photo
        wait_until(lambda: full_preview() and win.last_preview.pasted, what="the pasted-back view")
        win.canvas.fit()
        save(win, out / "main-window-inverted.png")
        win.act_paste.setChecked(False)
        wait_until(lambda: full_preview() and not win.last_preview.pasted, what="the aligned view")

        keys = demo_domains(win, work)
        win.panels["domains"].raise_()
        for key in keys:
            binding.domains.row(key).enable.setChecked(True)
        win.panels["blendPad"].raise_()
        pad = binding.pad.pad
        wait_until(pad.isVisible, 10, "the blend pad")
        # towards the second domain (pop_art): the look that shows most on the demo model
        start, end = pad.to_widget(pad.puck()).toPoint(), pad.to_widget((0.66, 0.6)).toPoint()
        QTest.mousePress(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
        for i in range(1, 9):
            QTest.mouseMove(pad, start + (end - start) * (i / 8))
        QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
        win.act_compare.setChecked(True)  # before/after split: the unedited photo left of the line
        wait_until(lambda: full_preview() and win.last_preview.before is not None, what="the blend preview")
        save(win, out / "main-window-blend.png")
        win.act_compare.setChecked(False)

        adapt = binding.adapt
        win.panels["adapt"].raise_()
        reference = demo_render(work / "woodcut-reference.png", 3, "woodcut", 256)
        drop(adapt, [reference])
        adapt.steps.setValue(steps)
        adapt.name.setText("woodcut-3")
        shot: list[bool] = []

        def maybe_grab(p) -> None:
            if (not shot and p.name.startswith("Adapt") and p.total == steps and p.step >= int(0.7 * steps)
                    and adapt.preview.image() is not None):
                shot.append(True)
                save(win, out / "main-window-adapting.png")

        client.job_progress.connect(maybe_grab)
        QTest.mouseClick(adapt.start_button, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         QPoint(adapt.start_button.width() // 2, adapt.start_button.height() // 2))
        wait_until(lambda: not adapt.is_running(), 600, "the adaptation")
        client.job_progress.disconnect(maybe_grab)
        if not shot:
            raise RuntimeError("the adaptation ended before a screenshot with its preview grid was taken")

        adapt.tabs.setCurrentIndex(2)  # few-shot: four photo / clay pairs dropped on the Pairs tab
        photos, clays = work / "pair-photos", work / "pair-clay"
        photos.mkdir()
        clays.mkdir()
        for seed in (100, 101, 102, 103):
            demo_render(photos / f"{seed}-photo.png", seed, "photo", 256)
            demo_render(clays / f"{seed}-clay.png", seed, "clay", 256)
        drop(adapt.pairs.sources, [photos])
        drop(adapt.pairs.targets, [clays])
        adapt.name.setText("clay-pairs")
        adapt.steps.setValue(steps)
        shot.clear()

        def maybe_grab_pairs(p) -> None:
            if (not shot and p.name.startswith("Adapt") and p.total == steps and p.step >= int(0.5 * steps)
                    and adapt.preview.image() is not None):
                shot.append(True)
                save(win, out / "main-window-pairs.png")

        client.job_progress.connect(maybe_grab_pairs)
        adapt.start()
        wait_until(lambda: not adapt.is_running(), 600, "the paired adaptation")
        client.job_progress.disconnect(maybe_grab_pairs)
        if not shot:
            raise RuntimeError("the paired adaptation ended before its screenshot was taken")

        folder = work / "holiday-photos"
        folder.mkdir()
        for seed in (4, 5, 7, 8):
            demo_render(folder / f"face{seed}.png", seed, "photo", 64)
        (folder / "notes.txt").write_text("not a photo\n")
        win.findChild(QAction, "actionBatchExport").trigger()
        dialog = win.findChild(BatchDialog, "batchDialog")
        drop(dialog, [folder])
        dialog.out_edit.setText(str(work / "exports"))
        dialog.aligned_box.setChecked(True)
        dialog.steps_spin.setValue(0)
        dialog.start()
        wait_until(lambda: not dialog.running, 300, "the batch")
        save(dialog, out / "batch-dialog.png")
        dialog.close()

        win.findChild(QAction, "actionModels").trigger()  # Tools → Models…: the library, verified
        manager = win.model_manager
        wait_until(lambda: manager.entries and manager._job is None, 60, "the model list")
        manager.verify()
        wait_until(lambda: manager._job is None and "verified" in manager.message.text(), 300, "the verify")
        save(manager, out / "model-manager.png")
        manager.close()

        win.findChild(QAction, "actionSettings").trigger()  # Tools → Settings…
        settings_dialog = win.findChild(SettingsDialog, "settingsDialog")
        wait_until(settings_dialog.isVisible, 10, "the settings dialog")
        save(settings_dialog, out / "settings.png")
        settings_dialog.reject()
    finally:
        win.close()
        client.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/screenshots", help="folder for the PNGs (default docs/screenshots)")
    ap.add_argument("--steps", type=int, default=40, help="adaptation steps (default 40)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="studio-screenshots-"))
    os.environ["STYLEDOMAIN_HOME"] = str(work / "library")
    try:
        run(out, args.steps, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
