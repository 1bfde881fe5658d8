"""Issue #11 "Done when", as one scenario through the real studio window (panels installed, demo model, CPU).

Open a sample photo (the NASA astronaut) and see its inversion; blend two domains on the pad with the
mouse; adapt to a reference image (a demo-world sketch render) with live progress and use the result;
undo; export a PNG with its recipe; drop it back to restore; batch-export a folder. A 10 ms timer probe
checks that the GUI event loop answered within 100 ms while the adaptation and the batch ran.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

import torch  # noqa: E402
from desktop_helpers import studio_window  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QTimer, QUrl  # noqa: E402
from PySide6.QtGui import QAction, QDropEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from desktop.panels.batch_dialog import BatchDialog  # noqa: E402
from engine.checkpoints import load_generator  # noqa: E402
from engine.demo_world.domains import render as demo_render  # noqa: E402
from engine.demo_world.faces import FaceParams  # noqa: E402
from engine.domains.direction import Direction, save_direction  # noqa: E402
from engine.pipeline.png_metadata import read_png_metadata  # noqa: E402
from engine.pipeline.recipe import Recipe  # noqa: E402
from engine.resources import demo_model_path, resources_dir  # noqa: E402
from engine.stylespace import style_layout, total_channels  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

MAX_GAP_MS = 100.0
ADAPT_STEPS = 10
WAIT_MS = 60_000


class GapProbe:
    """A 10 ms QTimer on the GUI thread; records the gaps between its ticks (ms)."""

    def __init__(self, interval_ms: int = 10) -> None:
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[float] = []
        self._last: float | None = None

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps.append((now - self._last) * 1000)
        self._last = now

    def start(self) -> None:
        self.gaps, self._last = [], None
        self.timer.start()

    def stop(self) -> float:
        """Stop; returns the largest gap (ms)."""
        self.timer.stop()
        return max(self.gaps, default=0.0)


def drop(widget, paths) -> None:
    """Drop local files/folders onto ``widget`` the way Qt delivers a drag from a file manager."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    widget.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))


def save_demo_direction(folder: Path, name: str, seed: int) -> Path:
    """A small deterministic conv-channel direction for the demo model."""
    layout = style_layout(load_generator(demo_model_path()).generator.config)
    values = 1.5 * torch.randn(total_channels(layout), generator=torch.Generator().manual_seed(seed))
    for lay in layout:
        if lay.kind == "torgb":
            values[lay.offset: lay.offset + lay.channels] = 0
    path = folder / f"{name}.safetensors"
    save_direction(Direction(layout, values, name=name), path)
    return path


def save_render(path: Path, seed: int, domain: str, size: int = 64) -> Path:
    Image.fromarray(demo_render(FaceParams.from_seed(seed), domain, size)).save(path)
    return path


def pixels(image) -> bytes:
    """The bytes of a QImage (for exact comparisons of two renders)."""
    from PySide6.QtGui import QImage

    img = image.convertToFormat(QImage.Format.Format_RGB888)
    return bytes(img.constBits())[: img.sizeInBytes()]


@pytest.fixture
def studio(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEDOMAIN_HOME", str(tmp_path / "lib"))
    settings = QSettings(str(tmp_path / "studio.ini"), QSettings.Format.IniFormat)
    with studio_window(qtbot, settings) as win:
        win.resize(1280, 800)
        win.show()
        yield win


def test_done_when_walkthrough(studio, qtbot, tmp_path, monkeypatch):
    win, doc, client = studio, studio.document, studio.client
    binding = win.panel_binding
    timings: dict[str, float] = {}
    gaps: dict[str, float] = {}
    probe = GapProbe()

    def current_preview():
        """Wait for the preview of the document's current state (the newest request) and return it."""
        qtbot.waitUntil(lambda: win.last_preview is not None and win.last_preview.id == client.latest_preview_id
                        and not win.last_preview.draft, timeout=WAIT_MS)
        return win.last_preview

    # ---- start: `make run` opens the demo model ------------------------------------------------------
    t0 = time.perf_counter()
    win.open_model(demo_model_path())
    qtbot.waitUntil(lambda: doc.state.model is not None, timeout=WAIT_MS)
    seed_image = pixels(current_preview().image)
    assert win.demo_badge_action.isVisible()
    timings["open demo model"] = time.perf_counter() - t0

    # ---- open a sample photo and see its inversion ---------------------------------------------------
    t0 = time.perf_counter()
    photo = tmp_path / "astronaut.png"
    shutil.copy(resources_dir() / "samples" / "astronaut.png", photo)
    drop(win, [photo])
    qtbot.waitUntil(lambda: doc.state.source.kind == "photo", timeout=WAIT_MS)
    inverted = current_preview()
    assert doc.state.source.photo_path == str(photo.resolve())
    assert doc.state.source.w_plus is not None and doc.state.source.alignment is not None
    assert win.canvas.has_image() and pixels(inverted.image) != seed_image
    assert str(photo.resolve()) in win.library.paths()
    assert "astronaut.png" in win.windowTitle()
    timings["open + invert astronaut"] = time.perf_counter() - t0

    # ---- blend two domains on the pad ----------------------------------------------------------------
    t0 = time.perf_counter()
    domains_dir = tmp_path / "domains"
    domains_dir.mkdir()
    dir_paths = [save_demo_direction(domains_dir, "ink", 1), save_demo_direction(domains_dir, "glow", 2)]
    keys = [str(p.resolve()) for p in dir_paths]
    drop(binding.domains, dir_paths)
    for key in keys:
        row = binding.domains.row(key)
        win.panels["domains"].raise_()
        qtbot.mouseClick(row.enable, Qt.MouseButton.LeftButton, pos=QPoint(6, row.enable.height() // 2))
    assert [d.path for d in doc.state.directions if d.enabled] == keys
    pad = binding.pad.pad
    assert [a.key for a in pad.anchors()] == keys
    win.panels["blendPad"].raise_()
    qtbot.waitUntil(pad.isVisible, timeout=5_000)
    steps_before = doc.undo_stack.count()
    start, end = pad.to_widget(pad.puck()).toPoint(), pad.to_widget((0.3, 0.5)).toPoint()
    QTest.mousePress(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, 6):
        QTest.mouseMove(pad, start + (end - start) * (i / 5))
    QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    assert doc.undo_stack.count() == steps_before + 1
    weights = {d.path: d.weight for d in doc.state.directions}
    assert weights[keys[0]] > weights[keys[1]] and sum(weights.values()) == pytest.approx(1.0)
    assert doc.state.pad == pad.puck() and doc.state.pad[0] < 0.5
    blended_pad = doc.state.pad
    blended = current_preview()
    assert pixels(blended.image) != pixels(inverted.image)
    assert "ink" in binding.pad.readout.text() and "glow" in binding.pad.readout.text()
    timings["blend on the pad"] = time.perf_counter() - t0

    # ---- adapt to a reference image, with live progress; the result is used --------------------------
    t0 = time.perf_counter()
    adapt = binding.adapt
    win.panels["adapt"].raise_()
    reference = save_render(tmp_path / "reference-sketch.png", 3, "sketch")
    drop(adapt, [reference])
    assert adapt.references() == [str(reference)]
    adapt.steps.setValue(ADAPT_STEPS)
    adapt.name.setText("walk-sketch")
    reports = []  # (job name, step, total, the panel's progress bar value, job bar shown) per relayed report
    client.job_progress.connect(lambda p: reports.append((p.name, p.step, p.total, adapt.progress.value(),
                                                          win.job_bar.isVisible())))
    probe.start()
    with qtbot.waitSignal(adapt.finished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(adapt.start_button, Qt.MouseButton.LeftButton)
        assert adapt.is_running() and adapt.cancel_button.isEnabled()
    gaps["adaptation"] = probe.stop()
    assert len(probe.gaps) >= 20, "the probe timer hardly ran"
    summary = finished.args[0]
    assert summary["steps_done"] == ADAPT_STEPS and not summary["cancelled"]
    live = [r for r in reports if r[0].startswith("Adapt") and r[2] == ADAPT_STEPS and 0 < r[1] < ADAPT_STEPS]
    assert live and all(r[3] == r[1] and r[4] for r in live), f"no live progress during the adaptation: {reports}"
    assert adapt.progress.value() == adapt.progress.maximum() == ADAPT_STEPS
    assert any(len(v) >= 2 for v in adapt.curve.series.values()), "the loss curve got no points"
    grid = adapt.preview.image()
    assert grid is not None and grid.height() == 64 and grid.width() > grid.height(), "no preview grid"
    assert adapt.eta.text().startswith("Done in")
    adapted = str(Path(summary["path"]).resolve())
    slots = [s for s in doc.state.directions + doc.state.deltas if s.path == adapted]
    assert slots and slots[0].enabled, "the adapted domain was not added to the edit"
    assert adapted in {e.key for e in binding.domains.entries()}
    with_adapted = current_preview()
    assert pixels(with_adapted.image) != pixels(blended.image)
    # the new domain is an anchor on the pad too: blend it in with the keyboard (one undo step)
    assert [a.key for a in pad.anchors()] == keys + [adapted]
    pad.setFocus()
    QTest.keyClick(pad, Qt.Key.Key_Home)  # the puck goes to the centre: a mix of all three
    assert 0.05 < pad.weights()[adapted] < 0.95
    now = {s.path: s.weight for s in doc.state.directions + doc.state.deltas}
    assert now == pytest.approx(pad.weights()), "the pad's weights were not applied to the edit"
    assert pixels(current_preview().image) != pixels(with_adapted.image)
    timings[f"adapt ({ADAPT_STEPS} steps) and use it"] = time.perf_counter() - t0

    # ---- undo (Edit > Undo): the keyboard blend, then adding the adapted domain ----------------------
    t0 = time.perf_counter()
    win.act_undo.trigger()
    assert doc.state.pad == blended_pad
    assert pixels(current_preview().image) == pixels(with_adapted.image)
    win.act_undo.trigger()
    assert not [s for s in doc.state.directions + doc.state.deltas if s.path == adapted and s.enabled]
    assert not binding.domains.state().settings[adapted].enabled
    assert {d.path: d.weight for d in doc.state.directions} == weights
    after_undo = current_preview()
    assert pixels(after_undo.image) == pixels(blended.image)
    timings["undo"] = time.perf_counter() - t0

    # ---- export a PNG with its recipe (File > Export, the save dialog answered) ----------------------
    t0 = time.perf_counter()
    export = tmp_path / "exports" / "walkthrough.png"
    export.parent.mkdir()
    monkeypatch.setattr("desktop.window.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(export), "PNG with recipe (*.png)"))
    exported_state = doc.state
    win.act_export.trigger()
    qtbot.waitUntil(export.is_file, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not client.pending_jobs(), timeout=WAIT_MS)
    recipe = Recipe.loads(read_png_metadata(export).recipe_text)
    assert [(d.name, d.weight) for d in recipe.directions] == [("ink", weights[keys[0]]), ("glow", weights[keys[1]])]
    assert recipe.studio["pad"]["puck"] == list(exported_state.pad)
    timings["export PNG"] = time.perf_counter() - t0

    # ---- change the edit, then drop the PNG back: the whole edit returns -----------------------------
    t0 = time.perf_counter()
    doc.set_pad((0.9, 0.9), {keys[0]: 0.0, keys[1]: 1.0})
    assert doc.state.pad == (0.9, 0.9)
    drop(win, [export])
    qtbot.waitUntil(lambda: doc.state.pad == exported_state.pad, timeout=WAIT_MS)
    st = doc.state
    assert torch.equal(st.source.w_plus, exported_state.source.w_plus)
    assert [(d.path, d.weight) for d in st.directions] == [(k, weights[k]) for k in keys]
    assert pad.puck() == exported_state.pad
    assert pixels(current_preview().image) == pixels(after_undo.image)
    timings["drop the PNG back"] = time.perf_counter() - t0

    # ---- batch-export a folder (File > Batch export, folder dropped on the dialog) -------------------
    t0 = time.perf_counter()
    folder = tmp_path / "batch-in"
    folder.mkdir()
    for seed in (4, 5, 7):
        save_render(folder / f"face{seed}.png", seed, "photo")
    (folder / "notes.txt").write_text("not a photo\n")
    act = win.findChild(QAction, "actionBatchExport")
    act.trigger()
    dialog = win.findChild(BatchDialog, "batchDialog")
    assert dialog is not None and dialog.isVisible()
    drop(dialog, [folder])
    assert len(dialog.inputs) == 3
    out = tmp_path / "batch-out"
    dialog.out_edit.setText(str(out))
    dialog.aligned_box.setChecked(True)
    dialog.steps_spin.setValue(0)
    probe.start()
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert dialog.running
    qtbot.waitUntil(lambda: not dialog.running, timeout=WAIT_MS)
    gaps["batch"] = probe.stop()
    assert len(probe.gaps) >= 5, "the probe timer hardly ran"
    rep = dialog.report
    assert rep is not None and len(rep.done) == 3 and not rep.failed, dialog.message_label.text()
    assert sorted(p.name for p in out.glob("*.png")) == ["face4_ink+glow.png", "face5_ink+glow.png",
                                                       "face7_ink+glow.png"]
    eff = Recipe.loads(read_png_metadata(out / "face4_ink+glow.png").recipe_text)
    assert [(d.name, d.weight) for d in eff.directions] == [("ink", weights[keys[0]]), ("glow", weights[keys[1]])]
    assert dialog.summary.startswith("3 exported, 1 skipped, 0 failed")
    timings["batch export 3 photos"] = time.perf_counter() - t0

    print("\nwalkthrough timings (s):", {k: round(v, 2) for k, v in timings.items()},
          "\nlargest event-loop gaps (ms):", {k: round(v, 1) for k, v in gaps.items()})
    for phase, gap in gaps.items():
        assert gap <= MAX_GAP_MS, f"the event loop did not answer for {gap:.0f} ms during the {phase}"


def _photo_state(studio, qtbot, photo: Path):
    """The demo model with a photo source (the w_avg latent; no inversion needed) shown in the window."""
    from desktop.document import EditState, Source
    from engine.fileio import sha256_of

    studio.open_model(demo_model_path())
    qtbot.waitUntil(lambda: studio.document.state.model is not None, timeout=WAIT_MS)
    gen = load_generator(demo_model_path()).generator
    w = gen.w_avg.detach().float().cpu().repeat(gen.num_ws, 1)
    src = Source("photo", None, w, str(photo.resolve()), sha256_of(photo), None, None, {"steps": 0})
    studio.document.set_state(EditState(model=studio.document.state.model, source=src), "Open photo")
    studio.library.add_image(photo)
    return src


def test_a_restored_recipe_finds_its_photo_among_the_given_photos(studio, qtbot, tmp_path):
    from desktop.worker import tasks

    photo = tmp_path / "photos" / "astronaut.png"
    photo.parent.mkdir()
    shutil.copy(resources_dir() / "samples" / "astronaut.png", photo)
    src = _photo_state(studio, qtbot, photo)
    export = tmp_path / "exports" / "e.png"
    export.parent.mkdir()
    done: list[str] = []
    studio.export_to(export, on_done=done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT_MS)
    results: list = []
    for photos in ([], [str(tmp_path / "exports" / "e.png"), str(photo)]):
        studio.client.submit("restore", tasks.restore_recipe(str(export), photos=photos), on_done=results.append)
    qtbot.waitUntil(lambda: len(results) == 2, timeout=WAIT_MS)
    assert results[0].source.photo_path is None and torch.equal(results[0].source.w_plus, src.w_plus)
    assert results[1].source.photo_path == str(photo.resolve())
    assert results[1].source.label == "astronaut.png"


def test_dropped_recipe_restores_the_photo_from_the_library(studio, qtbot, tmp_path):
    from desktop.document import Source

    photo = tmp_path / "photos" / "astronaut.png"
    photo.parent.mkdir()
    shutil.copy(resources_dir() / "samples" / "astronaut.png", photo)
    _photo_state(studio, qtbot, photo)
    export = tmp_path / "exports" / "e.png"
    export.parent.mkdir()
    done: list[str] = []
    studio.export_to(export, on_done=done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT_MS)
    studio.document.set_source(Source("seed", 3))
    drop(studio, [export])
    qtbot.waitUntil(lambda: studio.document.state.source.kind == "photo", timeout=WAIT_MS)
    assert studio.document.state.source.photo_path == str(photo.resolve())
    assert "astronaut.png" in studio.windowTitle()


def test_pad_readout_matches_the_edit_after_enabling_two_domains(studio, qtbot, tmp_path):
    studio.open_model(demo_model_path())
    qtbot.waitUntil(lambda: studio.document.state.model is not None, timeout=WAIT_MS)
    paths = [save_demo_direction(tmp_path, "ink", 1), save_demo_direction(tmp_path, "glow", 2)]
    binding = studio.panel_binding
    drop(binding.domains, paths)
    for p in paths:
        binding.domains.row(str(p.resolve())).enable.setChecked(True)
    shown = binding.pad.pad.weights()  # what the pad's readout shows ("ink 50%   glow 50%")
    used = {d.path: d.weight for d in studio.document.state.directions if d.enabled}
    assert used == pytest.approx(shown)


def test_cancelling_an_adaptation_keeps_the_partial_domain(studio, qtbot, tmp_path):
    win, doc, client = studio, studio.document, studio.client
    win.open_model(demo_model_path())
    qtbot.waitUntil(lambda: doc.state.model is not None, timeout=WAIT_MS)
    adapt = win.panel_binding.adapt
    drop(adapt, [save_render(tmp_path / "ref.png", 3, "sketch")])
    adapt.steps.setValue(40)
    asked: list[int] = []

    def cancel_at_step_3(p) -> None:
        if p.name.startswith("Adapt") and p.total == 40 and p.step >= 3 and not asked:
            asked.append(p.step)
            win.job_bar.cancel.click()

    client.job_progress.connect(cancel_at_step_3)
    with qtbot.waitSignal(adapt.finished, timeout=WAIT_MS) as finished:
        adapt.start()
    summary = finished.args[0]
    assert asked and summary["cancelled"] and 3 <= summary["steps_done"] < 40
    assert Path(summary["path"]).is_file() and adapt.eta.text().startswith("Cancelled after")
    assert str(Path(summary["path"]).resolve()) in {s.path for s in doc.state.deltas + doc.state.directions}
