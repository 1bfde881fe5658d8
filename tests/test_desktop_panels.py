"""Studio panels and dialogs offscreen: signals, undo framing, drops (good and bad), engine calls."""

from __future__ import annotations

import pytest
import torch
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from desktop.panels.domains import DomainsPanel, DomainsState
from engine.domains.direction import Direction, save_direction
from engine.generator import GeneratorConfig
from engine.stylespace import style_layout, total_channels
from tests.conftest import TINY

OTHER = GeneratorConfig(size=32, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 8, 32: 8})


def _direction(tmp_path, name: str, cfg: GeneratorConfig = TINY, seed: int = 0):
    layout = style_layout(cfg)
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(total_channels(layout), generator=g)
    for lay in layout:
        if lay.kind == "torgb":
            values[lay.offset: lay.offset + lay.channels] = 0
    path = tmp_path / f"{name}.safetensors"
    save_direction(Direction(layout, values, name=name, license="CC-BY-4.0"), path)
    return path


def _drop(widget, paths) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPoint(10, 10).toPointF(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)


@pytest.fixture
def panel(qtbot):
    p = DomainsPanel(scan=False)
    p.set_model_layout(style_layout(TINY))
    qtbot.addWidget(p)
    p.resize(320, 480)
    p.show()
    return p


class Recorder:
    def __init__(self, panel: DomainsPanel) -> None:
        self.events: list[tuple] = []
        panel.editStarted.connect(lambda d: self.events.append(("start", d)))
        panel.editFinished.connect(lambda: self.events.append(("end",)))
        panel.settingsChanged.connect(lambda s: self.events.append(("state", s)))
        panel.weightChanged.connect(lambda k, w: self.events.append(("weight", k, w)))

    def frames(self) -> list[str]:
        return [e[0] for e in self.events if e[0] in ("start", "end")]


def test_drop_imports_directions_and_rows_emit_signals(panel, tmp_path, qtbot):
    a, b = _direction(tmp_path, "sketch"), _direction(tmp_path, "pixar", seed=1)
    imported = []
    panel.domainsImported.connect(imported.append)
    _drop(panel, [a, b])
    assert [e.name for e in imported[0]] == ["sketch", "pixar"]
    assert [e.label for e in panel.entries()] == ["sketch", "pixar"]
    assert not panel.message.isVisibleTo(panel) or panel.message.level == "info"
    key = panel.entries()[0].key
    rec = Recorder(panel)
    anchors = []
    panel.enabledDomainsChanged.connect(anchors.append)
    panel.row(key).enable.click()
    assert panel.state().settings[key].enabled
    assert anchors == [[(key, "sketch")]]
    assert rec.frames() == ["start", "end"]
    # layer preset: one frame, the state follows
    row = panel.row(key)
    row.layers.setCurrentIndex(row.layers.findData("coarse"))
    assert panel.state().settings[key].layers == "coarse"
    assert rec.frames() == ["start", "end"] * 2


def test_one_slider_drag_is_one_edit(panel, tmp_path, qtbot):
    panel.import_paths([_direction(tmp_path, "sketch")])
    key = panel.entries()[0].key
    panel.row(key).enable.click()
    rec = Recorder(panel)
    slider = panel.row(key).weight
    slider.setSliderDown(True)
    slider.sliderPressed.emit()
    for v in (110, 130, 150, 170):
        slider.setValue(v)
    slider.setSliderDown(False)
    slider.sliderReleased.emit()
    assert rec.frames() == ["start", "end"]
    assert [e[2] for e in rec.events if e[0] == "weight"] == [1.1, 1.3, 1.5, 1.7]
    assert panel.state().settings[key].weight == 1.7
    # a key press on the slider: one more frame
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_Right)
    assert rec.frames() == ["start", "end"] * 2
    assert panel.state().settings[key].weight == pytest.approx(1.75)


def test_strength_and_sparsity_and_silent_set_state(panel, tmp_path):
    panel.import_paths([_direction(tmp_path, "sketch")])
    key = panel.entries()[0].key
    rec = Recorder(panel)
    got = []
    panel.strengthChanged.connect(got.append)
    panel.sparsityChanged.connect(got.append)
    panel.strength.setValue(150)
    panel.sparsity.setValue(40)
    assert got == [1.5, 0.4]
    assert rec.frames() == ["start", "end"] * 2
    before = len(rec.events)
    state = DomainsState(strength=0.5, sparsity=0.1)
    state.settings[key] = panel.state().settings[key]
    state.settings[key].enabled = True
    state.settings[key].weight = -0.5
    panel.set_state(state)
    assert len(rec.events) == before  # undo/redo does not echo edits
    assert panel.row(key).enable.isChecked() and panel.row(key).weight.value() == -50
    assert panel.strength.value() == 50 and panel.sparsity.value() == 10
    panel.set_weights({key: 0.25})
    assert panel.state().settings[key].weight == 0.25 and len(rec.events) == before


def test_custom_layer_range_checked_on_the_model(panel, tmp_path):
    panel.import_paths([_direction(tmp_path, "sketch")])
    key = panel.entries()[0].key
    row = panel.row(key)
    row.layers.setCurrentIndex(row.layers.findData("custom"))
    row.range_edit.setText("0-99")
    row.range_edit.editingFinished.emit()
    assert panel.state().settings[key].layers == "all"
    assert panel.message.level == "error" and "out of range" in panel.message.text()
    row.range_edit.setText("2-5")
    row.range_edit.editingFinished.emit()
    assert panel.state().settings[key].layers == "2-5"


def test_bad_drops_give_a_message_and_change_nothing(panel, tmp_path):
    panel.import_paths([_direction(tmp_path, "sketch")])
    before = panel.state()
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    wrong_model = _direction(tmp_path, "other", cfg=OTHER)
    folder = tmp_path / "empty"
    folder.mkdir()
    failures, imported = [], []
    panel.importFailed.connect(failures.append)
    panel.domainsImported.connect(imported.append)
    rec = Recorder(panel)
    for bad in ([junk], [text], [wrong_model], [folder], [tmp_path / "missing.pt"]):
        _drop(panel, bad)
    assert len(failures) == 5 and not imported and rec.events == []
    assert panel.state() == before and [e.label for e in panel.entries()] == ["sketch"]
    assert panel.message.isVisibleTo(panel) and panel.message.level == "error"
    assert "junk.safetensors" in failures[0]
    assert "notes.txt" in failures[1]
    assert "does not fit this model" in failures[2]


def test_model_layout_flags_domains_made_for_another_model(panel, tmp_path):
    from desktop.panels.domain_sources import load_domain_file

    fits = load_domain_file(_direction(tmp_path, "fits"))
    other = load_domain_file(_direction(tmp_path, "other", OTHER))
    panel.add_entries([fits, other])
    assert panel.row(fits.key).enable.isEnabled()
    assert not panel.row(other.key).enable.isEnabled()
    assert panel.row(other.key).badge.text() == "other model"
    panel.set_model_layout(style_layout(OTHER))
    assert panel.row(other.key).enable.isEnabled() and not panel.row(fits.key).enable.isEnabled()
