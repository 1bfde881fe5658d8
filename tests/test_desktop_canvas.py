"""The canvas (zoom, fit, 100 %, before/after split, hold-key toggle), the job bar's ETA text and
Help → Diagnostics, offscreen (pytest-qt)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from desktop_helpers import studio_window  # noqa: E402
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QImage, QKeyEvent, QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from desktop.canvas import Canvas  # noqa: E402
from desktop.window import JobBar  # noqa: E402
from desktop.worker.requests import JobProgress  # noqa: E402
from engine.resources import demo_model_path  # noqa: E402


def flat(colour: str, size: int = 64) -> QImage:
    img = QImage(size, size, QImage.Format.Format_RGB888)
    img.fill(QColor(colour))
    return img


@pytest.fixture
def canvas(qtbot):
    c = Canvas()
    qtbot.addWidget(c)
    c.resize(400, 300)
    c.show()
    c.set_images(flat("#ff0000"), flat("#0000ff"))
    return c


def centre_colour(canvas: Canvas, fx: float) -> tuple[int, int, int]:
    """Colour on screen at fraction ``fx`` across the image, half way down."""
    QApplication.processEvents()
    shot = canvas.viewport().grab().toImage()
    p = canvas.mapFromScene(QPointF(canvas.item.size[0] * fx, canvas.item.size[1] / 2))
    c = shot.pixelColor(p)
    return c.red(), c.green(), c.blue()


def test_fit_100_percent_and_wheel_zoom(canvas, qtbot):
    canvas.fit()  # a small model's 64 px face is scaled up to fill the view (smoothly)
    assert canvas.zoom() == pytest.approx((300 - 2 * canvas.frameWidth()) / 64, rel=0.05)
    canvas.actual_size()
    assert canvas.zoom() == pytest.approx(1.0)
    wheel = QWheelEvent(QPointF(200, 150), QPointF(200, 150), QPoint(), QPoint(0, 120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas.viewport(), wheel)
    assert canvas.zoom() > 1.1
    canvas.set_zoom(1000)
    assert canvas.zoom() == pytest.approx(Canvas.MAX_ZOOM)


def test_split_shows_before_left_and_after_right(canvas):
    canvas.fit()
    assert centre_colour(canvas, 0.2) == (255, 0, 0)
    canvas.set_compare(0.5)
    assert centre_colour(canvas, 0.2) == (0, 0, 255) and centre_colour(canvas, 0.8) == (255, 0, 0)
    canvas.set_compare(None)
    assert centre_colour(canvas, 0.2) == (255, 0, 0)


def test_hold_backslash_shows_the_original_and_the_job_bar_eta(qtbot):
    with studio_window(qtbot) as win:
        win.canvas.set_images(flat("#ff0000"), flat("#0000ff"))
        press = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Backslash, Qt.KeyboardModifier.NoModifier, "\\")
        win.keyPressEvent(press)
        assert win.canvas.item.show_before
        win.keyReleaseEvent(QKeyEvent(QEvent.Type.KeyRelease, Qt.Key.Key_Backslash, Qt.KeyboardModifier.NoModifier))
        assert not win.canvas.item.show_before
        for action, zoom in ((win.act_100, 1.0),):
            action.trigger()
            assert win.canvas.zoom() == pytest.approx(zoom)

        bar = JobBar()
        qtbot.addWidget(bar)
        bar.update_progress(JobProgress(1, "Adapt clay", 30, 100, "step 30", {}, 0.3, 125.4, 53.0))
        assert bar.label.text() == "Adapt clay · step 30 · about 2 min 05 s left"
        assert bar.bar.value() == 300

        win.open_model(demo_model_path())
        qtbot.waitUntil(lambda: win.document.state.model is not None, timeout=30_000)
        QApplication.clipboard().clear()
        win.copy_diagnostics()
        qtbot.waitUntil(lambda: "library folder:" in QApplication.clipboard().text(), timeout=30_000)
        text = QApplication.clipboard().text()
        for needle in ("torch: ", "pyside6: ", "device: cpu", "precision: fp32", "model: demo-faces-64",
                       "log: ", "library generator: demo-faces-64"):
            assert needle in text, (needle, text)
