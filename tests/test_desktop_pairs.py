"""The Adapt panel's Pairs tab: few-shot source/target pairs dropped, checked and trained with the paired loss."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from desktop.panels.adapt import AdaptPanel
from desktop.panels.jobs import InlineRunner
from engine.demo_world.domains import render as demo_render
from engine.demo_world.faces import FaceParams
from engine.fileio import read_safetensors_metadata
from engine.resources import demo_model_path

PAIRS = 2


def drop(widget, paths) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    widget.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))


def _pairs(tmp_path):
    from PIL import Image

    src, trg = tmp_path / "photos", tmp_path / "sketches"
    src.mkdir()
    trg.mkdir()
    for i, seed in enumerate(range(100, 100 + PAIRS)):
        Image.fromarray(demo_render(FaceParams.from_seed(seed), "photo", 64)).save(src / f"{i}-photo.png")
        Image.fromarray(demo_render(FaceParams.from_seed(seed), "sketch", 64)).save(trg / f"{i}-sketch.png")
    return src, trg


@pytest.fixture
def panel(qtbot, tmp_path):
    p = AdaptPanel(runner=InlineRunner())
    p.output_dir = tmp_path / "domains"
    qtbot.addWidget(p)
    p.resize(420, 640)
    p.show()
    p.tabs.setCurrentIndex(2)
    return p


def test_pairs_need_one_target_per_source_and_bad_drops_change_nothing(panel, tmp_path):
    src, trg = _pairs(tmp_path)
    panel.model_path = str(demo_model_path())
    assert panel.start() is None and "source photos and their targets" in panel.message.label.text()
    drop(panel.pairs.sources, [src])  # a folder: its images in name order
    assert [p.rsplit("/", 1)[-1] for p in panel.pairs.sources.files()] == ["0-photo.png", "1-photo.png"]
    assert "Sources: 2" in panel.pairs.sources.label.text()
    drop(panel.pairs.targets, [trg / "0-sketch.png"])
    assert panel.start() is None and "2 sources but 1 targets" in panel.message.label.text()
    assert panel.runner.submitted == []
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    drop(panel.pairs.targets, [notes])
    assert panel.message.isVisible() and "notes.txt" in panel.message.label.text()
    assert len(panel.pairs.targets.files()) == 1  # unchanged
    drop(panel, [trg / "1-sketch.png"])  # beside the boxes: which list is unclear, nothing changes
    assert len(panel.pairs.targets.files()) == 1 and panel.references() == []
    assert "Sources" in panel.message.label.text()
    panel.loss.setCurrentIndex(panel.loss.findData("jojo"))
    drop(panel.pairs.targets, [trg])
    assert panel.start() is None and "Paired loss" in panel.message.label.text()


def test_pairs_train_with_the_paired_loss_and_save_the_domain(panel, tmp_path, qtbot):
    src, trg = _pairs(tmp_path)
    panel.model_path = str(demo_model_path())
    drop(panel.pairs.sources, [src])
    drop(panel.pairs.targets, [trg])
    assert panel.name.text() == "0-sketch"
    panel.steps.setValue(2)
    with qtbot.waitSignal(panel.finished, timeout=120_000) as finished:
        req = panel.start()
    assert req is not None and req.sources == panel.pairs.sources.files()
    assert req.references == panel.pairs.targets.files()
    summary = finished.args[0]
    assert summary["steps_done"] == 2 and not summary["cancelled"]
    meta = json.loads(read_safetensors_metadata(summary["path"])["adaptation"])
    assert meta["loss"] == "paired" and meta["preset"] == "cpu-small-paired-affine"
    assert [r["name"] for r in meta["references"]] == ["0-sketch", "1-sketch"]
