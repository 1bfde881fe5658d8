"""The studio's Batch export dialog offscreen: drops, a real run on the demo model through the worker, the
report (exported / skipped / failed with reasons), cancel, resume, overwrite off, and bad input."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QAction, QDropEvent  # noqa: E402
from test_batch_helpers import DEMO, aligned_inputs  # noqa: E402

from desktop.document import DirectionSlot, Document, EditState, Source  # noqa: E402
from desktop.panels.batch_dialog import BatchDialog, install_batch_dialog, open_batch_dialog  # noqa: E402
from desktop.worker.client import WorkerClient  # noqa: E402
from desktop.worker.tasks import model_info  # noqa: E402
from engine.checkpoints import load_generator  # noqa: E402
from engine.domains.direction import Direction, save_direction  # noqa: E402
from engine.fileio import sha256_of  # noqa: E402
from engine.pipeline.png_metadata import read_png_metadata  # noqa: E402
from engine.pipeline.recipe import Recipe  # noqa: E402
from engine.stylespace import style_layout, total_channels  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")
RUN_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def demo_loaded():
    return load_generator(DEMO)


@pytest.fixture(scope="module")
def demo_info(demo_loaded):
    return model_info(demo_loaded)


@pytest.fixture(scope="module")
def sketch(tmp_path_factory, demo_loaded) -> Path:
    """A small, deterministic conv-channel direction for the demo model, named "sketch"."""
    layout = style_layout(demo_loaded.generator.config)
    values = 0.5 * torch.randn(total_channels(layout), generator=torch.Generator().manual_seed(3))
    for lay in layout:
        if lay.kind == "torgb":
            values[lay.offset: lay.offset + lay.channels] = 0
    path = tmp_path_factory.mktemp("domains") / "sketch.safetensors"
    save_direction(Direction(layout, values, name="sketch"), path)
    return path


@pytest.fixture
def client():
    c = WorkerClient("cpu")
    c.start()
    yield c
    assert c.stop(), "the worker thread did not stop"


def edited_document(info, sketch: Path, enabled: bool = True) -> Document:
    doc = Document()
    slot = DirectionSlot(str(sketch), "sketch", sha256_of(sketch), enabled=enabled, weight=0.8)
    doc.reset(EditState(model=info, source=Source("seed", 0), directions=(slot,)))
    return doc


@pytest.fixture
def dialog(qtbot, client, demo_info, sketch):
    d = BatchDialog(client, edited_document(demo_info, sketch))
    qtbot.addWidget(d)
    d.steps_spin.setValue(0)
    d.aligned_box.setChecked(True)
    return d


def drop(widget, paths) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPoint(10, 10).toPointF(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)


def run(qtbot, dialog: BatchDialog, out: Path):
    dialog.out_edit.setText(str(out))
    assert dialog.start() is not None, dialog.message_label.text()
    qtbot.waitUntil(lambda: not dialog.running, timeout=RUN_TIMEOUT_MS)
    assert dialog.report is not None, dialog.message_label.text()
    return dialog.report


def status(dialog: BatchDialog, path: Path) -> tuple[str, str]:
    row = dialog.rows[str(path)]
    return row.text(1), row.text(2)


def test_drop_lists_images_of_folders_and_files_and_names_non_images(dialog, tmp_path):
    folder = tmp_path / "in"
    imgs = aligned_inputs(folder / "sub", 2)
    (folder / "notes.txt").write_text("not a photo\n")
    (folder / ".hidden.png").write_bytes(imgs[0].read_bytes())
    single = aligned_inputs(tmp_path / "one", 1, seed=5)[0]
    drop(dialog, [folder, single])
    assert dialog.sources == [folder, single]
    assert [str(i.path) for i in dialog.inputs] == [str(p) for p in imgs] + [str(single)]
    assert status(dialog, folder / "notes.txt") == ("skipped", "not an image type (.txt)")
    assert str(folder / ".hidden.png") not in dialog.rows
    assert dialog.example_label.text() == "Example: img00000_sketch.png"
    dialog.name_edit.setText("{folder}/{index:03d}-{stem}")
    assert dialog.example_label.text() == "Example: sub/001-img00000.png"
    dialog.name_edit.setText("{nope}")
    assert "unknown field" in dialog.example_label.text() and not dialog.start_button.isEnabled()
    drop(dialog, [folder])  # the same folder again adds nothing
    assert len(dialog.inputs) == 3


def test_run_exports_the_current_edit_and_reports_every_photo(dialog, qtbot, tmp_path, sketch):
    folder = tmp_path / "in"
    good = aligned_inputs(folder, 2)
    data = good[0].read_bytes()
    (folder / "corrupt.png").write_bytes(data[: len(data) // 3])
    (folder / "notes.txt").write_text("not a photo\n")
    dialog.add_paths([folder])
    out = tmp_path / "out"
    rep = run(qtbot, dialog, out)
    assert sorted(p.name for p in out.glob("*.png")) == ["img00000_sketch.png", "img00001_sketch.png"]
    eff = Recipe.loads(read_png_metadata(out / "img00000_sketch.png").recipe_text)
    assert [(d.sha256, d.weight) for d in eff.directions] == [(sha256_of(sketch), 0.8)]
    assert [d["input"] for d in rep.failed] == [str(folder / "corrupt.png")]
    assert status(dialog, good[0]) == ("exported", "img00000_sketch.png")
    state, reason = status(dialog, folder / "corrupt.png")
    assert state == "failed" and reason == rep.failed[0]["reason"] and reason
    assert status(dialog, folder / "notes.txt")[0] == "skipped"
    assert dialog.summary.startswith("2 exported, 1 skipped, 1 failed")
    assert dialog.progress_bar.value() == dialog.progress_bar.maximum() == 3


def test_cancel_mid_run_keeps_whole_files_and_a_rerun_resumes(dialog, qtbot, client, tmp_path):
    photos = aligned_inputs(tmp_path / "in", 6)
    dialog.add_paths([tmp_path / "in"])
    dialog.steps_spin.setValue(2)  # a few projector steps: slow enough to cancel in the middle
    def cancel_after_first(p) -> None:
        if p.values.get("done", 0) >= 1:
            dialog.cancel()

    client.job_progress.connect(cancel_after_first)
    out = tmp_path / "out"
    rep = run(qtbot, dialog, out)
    assert rep.cancelled and 1 <= len(rep.done) < len(photos)
    assert "cancelled" in dialog.summary
    written = sorted(p.name for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert written == sorted(Path(d["output"]).name for d in rep.done)
    assert not [p for p in out.rglob("*") if p.name.endswith(".partial")]
    for d in rep.done:
        with Image.open(d["output"]) as im:
            im.load()
    not_started = [p for p in photos if status(dialog, p)[0] == "not started"]
    assert not_started and len(not_started) + len(rep.done) <= len(photos)

    client.job_progress.disconnect(cancel_after_first)
    first = {d["output"]: Path(d["output"]).read_bytes() for d in rep.done}
    rep2 = run(qtbot, dialog, out)
    assert not rep2.cancelled and not rep2.failed
    assert sorted(s["input"] for s in rep2.skipped) == sorted(d["input"] for d in rep.done)
    assert len(rep2.done) == len(photos) - len(rep.done)
    assert f"{len(rep.done)} already done, resumed" in dialog.summary
    assert {o: Path(o).read_bytes() for o in first} == first
    assert len(list(out.glob("*.png"))) == len(photos)


def test_overwrite_off_keeps_existing_files(dialog, qtbot, tmp_path):
    aligned_inputs(tmp_path / "in", 2)
    dialog.add_paths([tmp_path / "in"])
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "img00000_sketch.png"
    mine.write_bytes(b"the user's own file")
    assert not dialog.overwrite_box.isChecked()
    rep = run(qtbot, dialog, out)
    assert mine.read_bytes() == b"the user's own file"
    assert [s["input"] for s in rep.skipped] == [str(tmp_path / "in" / "img00000.png")]
    state, reason = status(dialog, tmp_path / "in" / "img00000.png")
    assert state == "skipped" and "exists" in reason
    assert (out / "img00001_sketch.png").is_file()

    dialog.overwrite_box.setChecked(True)
    run(qtbot, dialog, out)
    with Image.open(mine) as im:
        assert im.size == (64, 64)


def test_bad_input_gets_a_message_and_starts_nothing(qtbot, client, demo_info, sketch, tmp_path):
    aligned_inputs(tmp_path / "in", 1)
    empty = BatchDialog(client, Document())
    qtbot.addWidget(empty)
    empty.add_paths([tmp_path / "in"])
    empty.out_edit.setText(str(tmp_path / "out"))
    assert not empty.start_button.isEnabled() and "No model" in empty.edit_label.text()
    assert empty.start() is None and "No model" in empty.message_label.text()

    no_edit = BatchDialog(client, edited_document(demo_info, sketch, enabled=False))
    qtbot.addWidget(no_edit)
    no_edit.add_paths([tmp_path / "in"])
    no_edit.out_edit.setText(str(tmp_path / "out"))
    assert no_edit.start() is None and "changes nothing" in no_edit.message_label.text()

    ok = BatchDialog(client, edited_document(demo_info, sketch))
    qtbot.addWidget(ok)
    assert ok.start() is None and "Add photos" in ok.message_label.text()
    ok.add_paths([tmp_path / "in", tmp_path / "missing.png"])
    assert "Not found: missing.png" in ok.message_label.text()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    ok.out_edit.setText(str(blocker / "out"))
    assert ok.start() is None and "is a file, not a folder" in ok.message_label.text()
    assert client.pending_jobs() == [] and not (blocker.parent / "out").exists()


def test_file_menu_action_opens_one_dialog(qtbot, client, demo_info, sketch, tmp_path):
    from desktop.window import StudioWindow

    win = StudioWindow(client, edited_document(demo_info, sketch))
    win.confirm_close = lambda: True
    qtbot.addWidget(win)
    act = install_batch_dialog(win)
    assert install_batch_dialog(win) is act
    assert act.shortcut().toString() == "Ctrl+B"
    file_menu = next(a.menu() for a in win.menuBar().actions() if a.text().replace("&", "") == "File")
    assert act in file_menu.actions()
    act.trigger()
    dialog = win.findChild(BatchDialog, "batchDialog")
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    imgs = aligned_inputs(tmp_path / "in", 2)
    assert open_batch_dialog(win, [tmp_path / "in"]) is dialog
    assert [i.path for i in dialog.inputs] == imgs
    assert len(win.findChildren(QAction, "actionBatchExport")) == 1
