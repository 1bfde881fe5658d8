"""Studio comforts: project and folder drops, start-up settings, preview policy, sparsity, pad anchors, close."""

from __future__ import annotations

import os
import shutil

import pytest

pytest.importorskip("PySide6")

from desktop_helpers import studio_window  # noqa: E402
from PySide6.QtCore import QMimeData, QPoint, QSettings, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402

from desktop.worker.preview_size import AdaptiveDraftSize  # noqa: E402
from engine.resources import demo_model_path, resources_dir  # noqa: E402


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEDOMAIN_HOME", str(tmp_path / "lib"))
    return QSettings(str(tmp_path / "studio.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings):
    with studio_window(qtbot, settings) as win:
        yield win


def _with_model(win, qtbot) -> None:
    win.open_model(demo_model_path())
    qtbot.waitUntil(lambda: win.document.state.model is not None, timeout=30_000)


def drop(widget, paths) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPoint(10, 10).toPointF(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)


def _recent(win) -> list[str]:
    return list(win.settings.value("recent", []) or [])


# ---- drops: projects and folders ------------------------------------------------------------------------


def test_a_dropped_project_opens_and_is_listed_in_recent_and_library(window, qtbot, tmp_path):
    from desktop.project_actions import install_project

    acts = getattr(window, "project_actions", None) or install_project(window)
    _with_model(window, qtbot)
    window.document.set_strength(0.65)
    saved = tmp_path / "mine.sdproj"
    assert acts.save_to(saved)
    window.document.set_strength(0.2)
    drop(window, [saved])
    qtbot.waitUntil(lambda: window.document.state.strength == pytest.approx(0.65), timeout=30_000)
    assert acts.path == saved and _recent(window)[0] == str(saved)
    assert str(saved.resolve()) in window.library.paths()


def test_a_dropped_folder_of_photos_fills_the_library_and_opens_the_batch_dialog(window, qtbot, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    samples = sorted((resources_dir() / "samples").glob("face-seed*.png"))[:3]
    for p in samples:
        shutil.copy(p, folder / p.name)
    (folder / "notes.txt").write_text("not a photo")
    _with_model(window, qtbot)
    with qtbot.waitSignal(window.batch_offered, timeout=5_000) as sig:
        drop(window, [folder])
    dialog = sig.args[0]
    assert dialog.isVisible()
    assert {str(folder / p.name) for p in samples} <= set(dialog.rows)
    assert {str((folder / p.name).resolve()) for p in samples} <= set(window.library.paths())
    dialog.close()


def test_a_folder_without_photos_changes_nothing(window, qtbot, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "a.txt").write_text("x")
    before = window.library.paths()
    drop(window, [folder])
    assert window.library.paths() == before
    assert "no photos" in window.message_bar.text()


# ---- start-up settings and the preview policy -----------------------------------------------------------


def test_start_up_applies_the_library_folder_and_the_preview_policy(qtbot, settings, tmp_path, monkeypatch):
    from desktop.app import load_settings, open_studio

    chosen = tmp_path / "chosen-library"
    settings.setValue("library/folder", str(chosen))
    settings.setValue("preview/policy", "smallest")
    load_settings(settings)
    assert os.environ["STYLEDOMAIN_HOME"] == str(chosen)
    win = open_studio(demo_model_path(), "cpu", "fp32", settings)
    win.confirm_close = lambda: True
    qtbot.addWidget(win)
    try:
        assert win.client.worker.preview_policy == "smallest"
        assert win.autosaver.folder == chosen / "autosave" and win.autosaver.enabled
        qtbot.waitUntil(lambda: win.document.state.model is not None, timeout=30_000)
    finally:
        win.autosaver.finish()
        assert win.client.stop()


def test_draft_size_policies():
    sizes = [4, 8, 16, 32, 64]
    adaptive = AdaptiveDraftSize(sizes)
    smallest = AdaptiveDraftSize(sizes, policy="smallest")
    full = AdaptiveDraftSize(sizes, policy="full")
    for s in (adaptive, smallest, full):
        s.record(16, 0.01)
    assert adaptive.pick() == 32 and smallest.pick() == 8 and full.pick() == 64
    adaptive.set_policy("full")
    assert adaptive.pick() == 64
    with pytest.raises(ValueError):
        adaptive.set_policy("huge")


def test_the_worker_drafts_at_the_size_the_setting_asks_for(window, qtbot):
    _with_model(window, qtbot)
    size = window.document.state.model.size
    for policy, expect in (("full", size), ("smallest", 8)):
        window.settings.setValue("preview/policy", policy)
        with qtbot.waitSignal(window.preview_shown, timeout=30_000) as sig:
            window.request_preview(draft=True)
        assert sig.args[0].resolution == expect, policy


# ---- blend pad: anchor positions; closing during a job --------------------------------------------------


def _demo_directions(tmp_path, names) -> list[str]:
    import torch

    from engine.checkpoints import load_generator
    from engine.domains.direction import Direction, save_direction
    from engine.stylespace import style_layout, total_channels

    layout = style_layout(load_generator(demo_model_path()).generator.config)
    keys = []
    for i, name in enumerate(names):
        values = 0.5 * torch.randn(total_channels(layout), generator=torch.Generator().manual_seed(i))
        for lay in layout:
            if lay.kind == "torgb":
                values[lay.offset: lay.offset + lay.channels] = 0
        path = tmp_path / f"{name}.safetensors"
        save_direction(Direction(layout, values, name=name), path)
        keys.append(str(path.resolve()))
    return keys


def _panel_window(window, qtbot, tmp_path):
    from desktop.panels.domain_sources import DomainEntry

    _with_model(window, qtbot)
    keys = _demo_directions(tmp_path, ["ink", "oil"])
    domains = window.panel_binding.domains
    domains.add_entries([DomainEntry(k, n, "direction", k) for k, n in zip(keys, ["ink", "oil"], strict=True)])
    for k in keys:
        domains.row(k).enable.setChecked(True)
    return keys


def _drag_anchor(pad, key, x, y) -> None:
    pad.dragStarted.emit("anchor")
    pad.set_anchor_position(key, x, y)
    pad.dragFinished.emit("anchor")


def test_anchor_positions_go_into_the_recipe_and_come_back(window, qtbot, tmp_path):
    from engine.pipeline.recipe import save_recipe

    keys = _panel_window(window, qtbot, tmp_path)
    pad = window.panel_binding.pad.pad
    _drag_anchor(pad, keys[1], 0.8, 0.2)
    assert (keys[1], 0.8, 0.2) in window.document.state.pad_anchors
    recipe = window.document.to_recipe(tmp_path / "r.json")
    stored = {a["sha256"]: a["pos"] for a in recipe.studio["pad"]["anchors"]}
    sha = {d.path: d.sha256 for d in window.document.state.directions}
    assert stored[sha[keys[1]]] == [0.8, 0.2]
    save_recipe(recipe, tmp_path / "r.json")
    _drag_anchor(pad, keys[1], 0.3, 0.9)  # move it away, then restore the recipe
    assert {a.key: a.pos for a in pad.anchors()}[keys[1]] == (0.3, 0.9)
    window.restore_recipe(tmp_path / "r.json")
    qtbot.waitUntil(lambda: {a.key: a.pos for a in pad.anchors()}.get(keys[1]) == (0.8, 0.2), timeout=30_000)
    window.document.undo_stack.undo()  # the restore is one undo step, anchors included
    assert {a.key: a.pos for a in pad.anchors()}[keys[1]] == (0.3, 0.9)


def test_anchor_positions_round_trip_through_a_project(window, qtbot, tmp_path):
    from desktop.project_actions import install_project

    acts = getattr(window, "project_actions", None) or install_project(window)
    keys = _panel_window(window, qtbot, tmp_path)
    pad = window.panel_binding.pad.pad
    _drag_anchor(pad, keys[0], 0.1, 0.9)
    assert acts.save_to(tmp_path / "p.sdproj")
    _drag_anchor(pad, keys[0], 0.5, 0.5)
    done = []
    acts.open_project(tmp_path / "p.sdproj", on_done=done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=30_000)
    assert {a.key: a.pos for a in pad.anchors()}[keys[0]] == (0.1, 0.9)


def _slow_job(started: list):
    def job(ctx):
        import time

        started.append(True)
        for _ in range(2000):
            ctx.checkpoint()
            time.sleep(0.005)
        return "finished"

    return job


def test_closing_during_a_job_asks_then_cancels_cleanly(window, qtbot):
    started, asked, answers = [], [], [False, True]
    window.confirm_close = lambda: asked.append(1) or answers[len(asked) - 1]
    cancelled = []
    window.client.job_cancelled.connect(cancelled.append)
    job = window.client.submit("Long job", _slow_job(started))
    qtbot.waitUntil(lambda: bool(started), timeout=10_000)
    window.show()
    assert not window.close()  # "No": the window stays and the job goes on
    assert window.isVisible() and window.client.is_running() and len(asked) == 1
    assert window.close()  # "Yes": cancel, stop and join
    assert len(asked) == 2 and not window.client.is_running()
    qtbot.waitUntil(lambda: job in cancelled, timeout=5_000)


# ---- the Domains panel's sparsity ---------------------------------------------------------------------


def test_sparsity_reaches_the_render_and_the_recipe_and_undoes(window, qtbot, tmp_path):
    keys = _panel_window(window, qtbot, tmp_path)
    doc, domains = window.document, window.panel_binding.domains
    assert doc.state.render_spec().keep == 1.0
    with qtbot.waitSignal(window.preview_shown, timeout=30_000) as sig:
        window.request_preview(draft=False)
    dense = sig.args[0].image
    domains.sparsity.setValue(80)  # a key/click change: one step, keep 20 % of each direction's channels
    assert doc.state.keep == pytest.approx(0.2) and doc.state.render_spec().keep == pytest.approx(0.2)
    with qtbot.waitSignal(window.preview_shown, timeout=30_000) as sig:
        window.request_preview(draft=False)
    assert sig.args[0].image != dense
    recipe = doc.to_recipe(tmp_path / "r.json")
    assert recipe.keep == pytest.approx(0.2) and len(recipe.directions) == len(keys)
    doc.undo_stack.undo()
    assert doc.state.keep == 1.0 and domains.sparsity.value() == 0


def test_enabling_a_domain_takes_the_pad_blend_in_one_undo_step(window, qtbot, tmp_path):
    keys = _panel_window(window, qtbot, tmp_path)  # both enabled, one click each
    doc, pad = window.document, window.panel_binding.pad.pad
    used = {d.path: d.weight for d in doc.state.directions if d.enabled}
    assert used == pytest.approx(pad.weights())
    assert used == pytest.approx({keys[0]: 0.5, keys[1]: 0.5})
    doc.undo_stack.undo()  # the second click: enable + re-blend
    assert [d.path for d in doc.state.directions if d.enabled] == [keys[0]]
    assert doc.state.directions[0].weight == pytest.approx(1.0)
