"""The panels inside the studio window, bound to its Document (pytest-qt, offscreen)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("PySide6")

from desktop_helpers import studio_window  # noqa: E402

from desktop.panels.domain_sources import DomainEntry  # noqa: E402
from engine.domains.direction import Direction, save_direction  # noqa: E402
from engine.stylespace import style_layout, total_channels  # noqa: E402
from tests.conftest import TINY  # noqa: E402


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEDOMAIN_HOME", str(tmp_path / "lib"))
    with studio_window(qtbot) as win:
        yield win


def _direction(tmp_path, name: str):
    layout = style_layout(TINY)
    values = torch.randn(total_channels(layout), generator=torch.Generator().manual_seed(0))
    for lay in layout:
        if lay.kind == "torgb":
            values[lay.offset: lay.offset + lay.channels] = 0
    path = tmp_path / f"{name}.safetensors"
    save_direction(Direction(layout, values, name=name), path)
    return path


def _add(window, tmp_path, name: str) -> str:
    path = _direction(tmp_path, name)
    key = str(path.resolve())
    window.panel_binding.domains.add_entries([DomainEntry(key, name, "direction", str(path))])
    return key


def test_panels_are_docked(window):
    for key in ("domains", "blendPad", "adapt"):
        assert key in window.panels and window.panels[key].widget() is not None


def test_enable_and_slider_drag_is_one_undo_step_and_undo_restores_the_panel(window, tmp_path):
    key = _add(window, tmp_path, "ink")
    domains, doc = window.panel_binding.domains, window.document
    domains.row(key).enable.setChecked(True)
    assert [d.path for d in doc.state.directions if d.enabled] == [key]
    steps = doc.undo_stack.count()
    slider = domains.row(key).weight
    slider.setSliderDown(True)
    slider.sliderPressed.emit()
    for v in (120, 140, 160):
        slider.setValue(v)
    slider.setSliderDown(False)
    slider.sliderReleased.emit()
    assert doc.state.directions[0].weight == pytest.approx(1.6)
    assert doc.undo_stack.count() == steps + 1
    doc.undo_stack.undo()
    assert doc.state.directions[0].weight == pytest.approx(1.0)
    assert domains.state().settings[key].weight == pytest.approx(1.0)
    assert slider.value() == 100
    doc.undo_stack.undo()
    assert not domains.state().settings[key].enabled


def test_pad_drag_is_one_undo_step(window, tmp_path):
    keys = [_add(window, tmp_path, n) for n in ("a", "b")]
    domains, doc = window.panel_binding.domains, window.document
    for k in keys:
        domains.row(k).enable.setChecked(True)
    pad = window.panel_binding.pad.pad
    assert [a.key for a in pad.anchors()] == keys
    steps = doc.undo_stack.count()
    pad.dragStarted.emit("puck")
    pad.set_puck(0.2, 0.5)
    pad.set_puck(0.1, 0.5)
    pad.dragFinished.emit("puck")
    assert doc.undo_stack.count() == steps + 1
    w = {d.path: d.weight for d in doc.state.directions}
    assert w[keys[0]] > 0.8 and w[keys[1]] < 0.2 and doc.state.pad == (0.1, 0.5)
    assert domains.state().settings[keys[0]].weight == pytest.approx(w[keys[0]])
    doc.undo_stack.undo()
    assert doc.state.pad is None


def _drop(widget, paths) -> None:
    from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    widget.dropEvent(QDropEvent(QPoint(10, 10).toPointF(), Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))


def test_dropped_direction_file_is_added_and_shown_and_a_corrupt_one_changes_nothing(window, qtbot, tmp_path):
    from engine.checkpoints import load_generator
    from engine.resources import demo_model_path

    window.open_model(demo_model_path())
    qtbot.waitUntil(lambda: window.document.state.model is not None, timeout=30_000)
    layout = style_layout(load_generator(demo_model_path()).generator.config)
    values = torch.zeros(total_channels(layout))
    values[:4] = 1.0
    path = tmp_path / "demo-dir.safetensors"
    save_direction(Direction(layout, values, name="demo-dir"), path)
    _drop(window, [path])
    key = str(path.resolve())
    qtbot.waitUntil(lambda: bool(window.document.state.directions), timeout=30_000)
    assert [d.path for d in window.document.state.directions] == [key]
    assert window.panel_binding.domains.state().settings[key].enabled
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a safetensors file")
    before = window.document.state
    with qtbot.waitSignal(window.client.job_failed, timeout=30_000):
        _drop(window, [bad])
    assert window.document.state is before
    assert "broken.safetensors" in window.message_bar.label.text()


def test_adapt_domain_created_adds_and_enables_the_domain(window, tmp_path):
    path = _direction(tmp_path, "adapted")
    window.panel_binding.adapt.domainCreated.emit(str(path))
    key = str(path.resolve())
    assert key in {e.key for e in window.panel_binding.domains.entries()}
    assert [d.path for d in window.document.state.directions if d.enabled] == [key]
    assert [a.key for a in window.panel_binding.pad.pad.anchors()] == [key]


def test_morph_export_runs_on_the_worker_and_writes_the_animation(window, qtbot, tmp_path):
    from engine.checkpoints import load_generator
    from engine.resources import demo_model_path

    window.open_model(demo_model_path())
    qtbot.waitUntil(lambda: window.document.state.model is not None, timeout=30_000)
    layout = style_layout(load_generator(demo_model_path()).generator.config)
    keys = []
    for i in range(2):
        values = torch.zeros(total_channels(layout))
        values[i * 8:(i + 1) * 8] = 3.0
        path = tmp_path / f"m{i}.safetensors"
        save_direction(Direction(layout, values, name=f"m{i}"), path)
        keys.append(str(path.resolve()))
        window.panel_binding.domains.add_entries([DomainEntry(keys[-1], f"m{i}", "direction", str(path))])
        window.panel_binding.domains.row(keys[-1]).enable.setChecked(True)
    panel = window.panel_binding.pad
    panel.frames.setValue(3)
    panel.pad.start_recording()
    panel.pad.set_puck(0.0, 0.5)
    panel.pad.set_puck(1.0, 0.5)
    panel.pad.stop_recording()
    out = tmp_path / "morph.gif"
    with qtbot.waitSignal(window.client.job_finished, timeout=60_000,
                          check_params_cb=lambda _i, r: r == str(out)):
        assert panel.request_export(str(out)) is not None
    from PIL import Image

    with Image.open(out) as im:
        assert im.n_frames == 3


def test_pad_position_round_trips_through_export_and_recipe_drop(window, qtbot, tmp_path):
    from engine.resources import demo_model_path

    window.open_model(demo_model_path())
    qtbot.waitUntil(lambda: window.document.state.model is not None, timeout=30_000)
    window.document.set_pad((0.25, 0.75))
    out = tmp_path / "export.png"
    done = []
    window.export_to(out, on_done=done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=30_000)
    window.document.set_pad((0.9, 0.1))
    _drop(window, [out])
    qtbot.waitUntil(lambda: window.document.state.pad == (0.25, 0.75), timeout=30_000)
    assert window.panel_binding.pad.pad.puck() == (0.25, 0.75)


def test_layer_masks_and_weights_round_trip_through_export_and_recipe_drop(window, qtbot, tmp_path):
    import shutil

    from engine.resources import demo_model_path, resources_dir

    window.open_model(demo_model_path())
    qtbot.waitUntil(lambda: window.document.state.model is not None, timeout=30_000)
    clay = tmp_path / "clay.safetensors"
    shutil.copy(resources_dir() / "domains" / "clay.safetensors", clay)
    key = str(clay.resolve())
    domains, doc = window.panel_binding.domains, window.document
    domains.add_entries([DomainEntry(key, "clay", "direction", str(clay))])
    domains.row(key).enable.setChecked(True)
    doc.update_direction(key, layers="coarse", weight=0.6)
    out = tmp_path / "export.png"
    done = []
    window.export_to(out, on_done=done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=30_000)
    doc.update_direction(key, layers="fine", weight=1.0)
    _drop(window, [out])

    def restored():
        d = [d for d in doc.state.directions if d.enabled]
        return len(d) == 1 and d[0].layers == "coarse" and abs(d[0].weight - 0.6) < 1e-6

    qtbot.waitUntil(restored, timeout=30_000)
    row = domains.row(doc.state.directions[0].path)
    assert row.layers.currentData() == "coarse"
