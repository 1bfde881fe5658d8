"""Bad input dropped onto the main window (issue #11 "Bad input"): each gets one clear non-modal message
and changes nothing else (the edit, the undo history, the library), pytest-qt offscreen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from desktop_helpers import studio_window  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from engine.resources import demo_model_path, resources_dir  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEDOMAIN_HOME", str(tmp_path / "lib"))
    with studio_window(qtbot) as win:
        win.show()
        win.open_model(demo_model_path())
        qtbot.waitUntil(lambda: win.document.state.model is not None and not win.client.pending_jobs(),
                        timeout=30_000)
        yield win


def drop(win, paths) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    win.dropEvent(QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                             Qt.KeyboardModifier.NoModifier))


def bad_files(tmp_path: Path) -> dict[str, Path]:
    data = (resources_dir() / "samples" / "face-seed0.png").read_bytes()
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(data[: len(data) // 3])
    no_face = tmp_path / "landscape.png"  # not square, no face: no centred-crop guess either
    Image.new("RGB", (320, 200), (90, 140, 200)).save(no_face)
    encoder = resources_dir() / "models" / "demo-faces-64-encoder.safetensors"  # a model of the wrong kind
    junk = tmp_path / "weights.pt"
    junk.write_bytes(b"definitely not a checkpoint")
    recipe = tmp_path / "other-model.json"
    recipe.write_text(json.dumps({
        "format": "styledomain.recipe", "version": 1,
        "generator": {"name": "ffhq-1024", "sha256": "ab" * 32, "layout_fingerprint": "0" * 16, "file": "ffhq.pkl"},
        "source": None, "latent": {"kind": "seed", "seed": 3}, "truncation": {"psi": 1.0, "cutoff": None},
        "directions": [], "param_deltas": [], "strength": 1.0, "noise": {"mode": "const", "seed": 0},
        "output": {"size": None, "paste_back": False}}))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "notes.txt").write_text("not a photo")
    (mixed / "table.csv").write_text("a,b\n")
    return {"corrupt image": corrupt, "photo with no face": no_face, "wrong-kind model": encoder,
            "corrupt model": junk, "recipe for a model not installed": recipe, "folder of non-photos": mixed}


@pytest.mark.parametrize("what", ["corrupt image", "photo with no face", "wrong-kind model", "corrupt model",
                                  "recipe for a model not installed", "folder of non-photos"])
def test_bad_drop_gets_one_non_modal_message_and_changes_nothing(window, qtbot, tmp_path, what):
    path = bad_files(tmp_path)[what]
    doc, bar = window.document, window.message_bar
    before, undo_steps, library = doc.state, doc.undo_stack.count(), window.library.paths()
    bar.hide()
    drop(window, [path])
    qtbot.waitUntil(lambda: not window.client.pending_jobs() and bar.isVisible() and bar.level == "error",
                    timeout=60_000)
    assert QApplication.activeModalWidget() is None  # nothing blocks the user
    text = bar.text()
    assert path.name in text and "Traceback" not in text and "\n" not in text, text
    assert doc.state is before and doc.undo_stack.count() == undo_steps
    assert window.library.paths() == library
    if what == "wrong-kind model":
        assert "inversion encoder" in text and "Tools → Models" in text
    if what == "photo with no face":
        assert "no face found" in text and "CLI" not in text
