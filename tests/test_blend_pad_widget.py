"""Blend pad widget: weights from engine.domains.blendpad, keyboard, anchor drag, one drag = one edit."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from desktop.panels.blend_pad_panel import BlendPadPanel
from desktop.widgets.blend_pad import Anchor, BlendPadWidget, default_positions
from engine.domains.blendpad import BlendPad

KEYS = [("sketch", "Sketch"), ("pixar", "Pixar"), ("clay", "Clay"), ("woodcut", "Woodcut")]


@pytest.fixture
def pad(qtbot):
    w = BlendPadWidget()
    qtbot.addWidget(w)
    w.resize(300, 300)
    w.show()
    qtbot.waitExposed(w)
    return w


def _pt(w: BlendPadWidget, p) -> QPoint:
    return w.to_widget(p).toPoint()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_weights_match_engine_and_are_one_at_anchors(pad, n):
    pad.set_anchors(KEYS[:n] if n <= 4 else KEYS + [("pop", "Pop art")])
    anchors = [a.pos for a in pad.anchors()]
    assert anchors == default_positions(n)
    for puck in [(0.3, 0.7), (0.9, 0.1), (0.5, 0.5)]:
        pad.set_puck(*puck)
        expected = BlendPad(anchors).weights(pad.puck())
        assert list(pad.weights().values()) == pytest.approx(expected, abs=1e-12)
        assert sum(pad.weights().values()) == pytest.approx(1.0)
    for i, a in enumerate(pad.anchors()):
        pad.set_puck(*a.pos)
        w = list(pad.weights().values())
        assert w[i] == 1.0 and sum(w) == 1.0


def test_four_corners_are_bilinear(pad):
    pad.set_anchors(KEYS)
    assert pad.uses_bilinear()
    pad.set_puck(0.25, 0.5)
    assert pad.weights() == pytest.approx({"sketch": 0.375, "pixar": 0.125, "clay": 0.375, "woodcut": 0.125})


def test_click_near_anchor_snaps_to_exactly_one(pad, qtbot):
    pad.set_anchors(KEYS[:3])
    target = pad.to_widget(pad.anchors()[1].pos) + QPointF(3, 2)
    pad.set_puck(0.5, 0.9)
    qtbot.mouseClick(pad, Qt.MouseButton.LeftButton, pos=QPointF(target.x() + 12, target.y()).toPoint())
    # 12 px off: no snap, not on the anchor
    assert pad.weights()["pixar"] < 1.0
    qtbot.mouseClick(pad, Qt.MouseButton.LeftButton, pos=(pad.to_widget(pad.anchors()[1].pos) + QPointF(0, 14))
                     .toPoint())
    pad.set_puck(0.5, 0.5)
    # drag the puck onto (almost) the anchor: snaps
    qtbot.mousePress(pad, Qt.MouseButton.LeftButton, pos=_pt(pad, pad.puck()))
    qtbot.mouseMove(pad, pos=target.toPoint())
    qtbot.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=target.toPoint())
    assert pad.puck() == pad.anchors()[1].pos
    assert pad.weights()["pixar"] == 1.0


def test_arrow_keys_move_the_puck_one_step_per_press(pad, qtbot):
    pad.set_anchors(KEYS[:2])
    pad.set_puck(0.5, 0.5)
    moved, started, finished = [], [], []
    pad.puckMoved.connect(lambda x, y: moved.append((x, y)))
    pad.dragStarted.connect(started.append)
    pad.dragFinished.connect(finished.append)
    pad.setFocus()
    qtbot.keyClick(pad, Qt.Key.Key_Right)
    assert pad.puck() == pytest.approx((0.52, 0.5))
    qtbot.keyClick(pad, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert pad.puck() == pytest.approx((0.52, 0.6))
    qtbot.keyClick(pad, Qt.Key.Key_1)
    assert pad.puck() == (0.0, 0.5) and pad.weights()["sketch"] == 1.0
    for _ in range(5):
        qtbot.keyClick(pad, Qt.Key.Key_Left)  # already at the edge: clamped, no move
    assert pad.puck() == (0.0, 0.5)
    assert len(moved) == 3
    assert started == ["puck"] * 8 and finished == ["puck"] * 8


def test_anchor_drag_moves_anchor_and_is_one_edit(pad, qtbot):
    pad.set_anchors(KEYS[:3])
    pad.set_puck(0.5, 0.6)
    events = []
    pad.dragStarted.connect(lambda k: events.append(("start", k)))
    pad.dragFinished.connect(lambda k: events.append(("end", k)))
    moved = []
    pad.anchorMoved.connect(lambda key, x, y: moved.append((key, x, y)))
    weights = []
    pad.weightsChanged.connect(weights.append)
    start = _pt(pad, pad.anchors()[0].pos)
    end = _pt(pad, (0.2, 0.4))
    qtbot.mousePress(pad, Qt.MouseButton.LeftButton, pos=start)
    for f in (0.25, 0.5, 0.75, 1.0):
        qtbot.mouseMove(pad, pos=QPoint(int(start.x() + f * (end.x() - start.x())),
                                        int(start.y() + f * (end.y() - start.y()))))
    qtbot.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=end)
    assert events == [("start", "anchor"), ("end", "anchor")]
    assert moved and moved[-1][0] == "sketch"
    assert pad.anchors()[0].pos == pytest.approx((0.2, 0.4), abs=0.01)
    assert pad.puck() == (0.5, 0.6)  # the puck stayed; its weights followed the anchor
    expected = BlendPad([a.pos for a in pad.anchors()]).weights((0.5, 0.6))
    assert weights and weights[-1] == pytest.approx({a.key: w for a, w in zip(pad.anchors(), expected, strict=True)})


def test_puck_drag_is_one_edit_with_many_moves(pad, qtbot):
    pad.set_anchors(KEYS)
    pad.set_puck(0.5, 0.5)
    events, moves = [], []
    pad.dragStarted.connect(lambda k: events.append(("start", k)))
    pad.dragFinished.connect(lambda k: events.append(("end", k)))
    pad.puckMoved.connect(lambda x, y: moves.append((x, y)))
    qtbot.mousePress(pad, Qt.MouseButton.LeftButton, pos=_pt(pad, (0.5, 0.5)))
    for x in (0.55, 0.6, 0.7, 0.8):
        qtbot.mouseMove(pad, pos=_pt(pad, (x, 0.3)))
    qtbot.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=_pt(pad, (0.8, 0.3)))
    assert events == [("start", "puck"), ("end", "puck")]
    assert len(moves) == 4
    assert pad.puck() == pytest.approx((0.8, 0.3), abs=0.01)


def test_set_anchors_keeps_arrangement_for_same_domains(pad):
    pad.set_anchors(KEYS[:3])
    pad.set_anchor_position("pixar", 0.1, 0.1)
    pad.set_anchors(list(reversed(KEYS[:3])))
    assert {a.key: a.pos for a in pad.anchors()}["pixar"] == (0.1, 0.1)
    pad.set_anchors(KEYS[:2])  # different set: fresh layout
    assert [a.pos for a in pad.anchors()] == default_positions(2)
    pad.set_anchors([])
    assert pad.weights() == {}


def test_recorded_path_becomes_a_morph_request(qtbot):
    panel = BlendPadPanel()
    qtbot.addWidget(panel)
    panel.set_anchors([Anchor("a", "A", (0.0, 0.5)), Anchor("b", "B", (1.0, 0.5))])
    panel.pad.set_puck(0.0, 0.5)
    assert not panel.export_button.isEnabled()
    panel.record_button.click()
    assert panel.pad.is_recording()
    paths = []
    panel.pad.pathRecorded.connect(paths.append)
    for x in (0.25, 0.5, 1.0):
        panel.pad.set_puck(x, 0.5)
    panel.record_button.click()
    assert paths == [[(0.0, 0.5), (0.25, 0.5), (0.5, 0.5), (1.0, 0.5)]]
    assert panel.export_button.isEnabled()
    panel.frames.setValue(5)
    got = []
    panel.morphExportRequested.connect(got.append)
    req = panel.request_export("out.webp")
    assert got == [req] and req.output == "out.webp" and req.keys == ["a", "b"]
    frames = req.frame_weights()
    assert len(frames) == 5
    assert frames[0] == {"a": 1.0, "b": 0.0} and frames[-1] == {"a": 0.0, "b": 1.0}
    assert frames[2]["a"] == pytest.approx(0.5)


@pytest.mark.parametrize("size", [(300, 300), (460, 300), (200, 420)])
def test_anchor_labels_stay_inside_the_pad_and_long_names_are_elided(pad, size):
    from PySide6.QtGui import QFontMetrics

    pad.resize(*size)
    long_keys = [("clay", "clay-seed0-distilled"), ("pop", "pop_art-seed0-distilled-from-a-long-reference-name"),
                 ("s", "sketch"), ("w", "woodcut-seed3-a-very-long-domain-name")]
    pad.set_anchors(long_keys)
    pad.set_puck(0.9, 0.5)
    area = pad._area()
    labels = pad.anchor_labels(QFontMetrics(pad.font()))
    assert len(labels) == 4
    fm = QFontMetrics(pad.font())
    for (text, box), (key, name) in zip(labels, long_keys, strict=True):
        assert area.left() <= box.left() and box.right() <= area.right(), (text, box, area)
        full = f"{name}  {100 * pad.weights()[key]:.0f}%"
        assert (text == full) == (fm.horizontalAdvance(full) <= area.width() - 8), (text, full)
    assert any("…" in text for text, _ in labels)
    pad.grab()  # paints with the same geometry
