"""The blend pad: a 2D canvas with one anchor per enabled domain and a puck that blends them.

Positions are normalised to the unit square (x right, y down). Weights come from
:class:`engine.domains.blendpad.BlendPad` (bilinear for 4 anchors on a rectangle, inverse-distance
otherwise): a partition of unity, exactly 1 at an anchor. The puck snaps onto an anchor when dropped
within a few pixels of it, so "all of one domain" is easy to reach.

Mouse: press on an anchor and drag to move it; press anywhere else to move the puck there and drag.
Keyboard: arrows move the puck (Shift: larger steps), Home centres it, 1-9 jump to an anchor,
R starts/stops recording a path. One press-to-release gesture (mouse or key) is framed by
``dragStarted(kind)`` / ``dragFinished(kind)``, ``kind`` being ``"puck"`` or ``"anchor"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from engine.domains.blendpad import BlendPad

Point = tuple[float, float]
PALETTE = ("#e4572e", "#29335c", "#f3a712", "#669bbc", "#a8c686", "#9c528b", "#2e86ab", "#c2847a")
MARGIN = 22.0
ANCHOR_RADIUS = 9.0
PUCK_RADIUS = 7.0
SNAP_PX = 8.0
KEY_STEP = 0.02
KEY_STEP_LARGE = 0.1


@dataclass
class Anchor:
    """One domain on the pad: a key (the domain's id), a label and a normalised position."""

    key: str
    label: str
    pos: Point


def default_positions(n: int) -> list[Point]:
    """Corners for 4 (a bilinear square), ends of a line for 2, a circle otherwise."""
    if n == 1:
        return [(0.5, 0.5)]
    if n == 2:
        return [(0.0, 0.5), (1.0, 0.5)]
    if n == 4:
        return [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]
    return [(0.5 + 0.5 * math.cos(2 * math.pi * i / n - math.pi / 2),
             0.5 + 0.5 * math.sin(2 * math.pi * i / n - math.pi / 2)) for i in range(n)]


def anchor_label(fm: QFontMetrics, name: str, weight: float, width: float) -> str:
    """"name  NN%", the name elided in the middle so that the whole label fits ``width`` pixels."""
    percent = f"  {100 * weight:.0f}%"
    room = max(0, int(width - fm.horizontalAdvance(percent)))
    return fm.elidedText(name, Qt.TextElideMode.ElideMiddle, room) + percent


def _clamp01(v: float) -> float:
    return min(1.0, max(0.0, float(v)))


class BlendPadWidget(QWidget):
    """The pad canvas. See the module docstring for gestures; signals below."""

    puckMoved = Signal(float, float)
    weightsChanged = Signal(dict)  # {anchor key: weight}
    anchorMoved = Signal(str, float, float)
    dragStarted = Signal(str)  # "puck" | "anchor"
    dragFinished = Signal(str)
    recordingChanged = Signal(bool)
    pathRecorded = Signal(list)  # [(x, y), ...] puck positions, emitted when recording stops

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("blendPad")
        self.setAccessibleName("Blend pad")
        self.setAccessibleDescription("Drag the puck between domain anchors to blend them; arrow keys move it")
        self.setToolTip("Drag the puck to blend the enabled domains; drag an anchor to move it.\n"
                        "Arrows move the puck (Shift: faster), Home centres it, 1-9 jump to an anchor, "
                        "R records a path for a morph animation.")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._anchors: list[Anchor] = []
        self._puck: Point = (0.5, 0.5)
        self._pad: BlendPad | None = None
        self._weights: dict[str, float] = {}
        self._drag: tuple[str, int] | None = None  # ("puck", -1) | ("anchor", index)
        self._key_drag = False
        self._recording = False
        self._path: list[Point] = []
        self._hover: int | None = None

    # ---- model -------------------------------------------------------------------------------------

    def anchors(self) -> list[Anchor]:
        return [Anchor(a.key, a.label, a.pos) for a in self._anchors]

    def set_anchors(self, anchors: list[Anchor] | list[tuple[str, str]]) -> None:
        """Replace the anchors. ``(key, label)`` pairs get :func:`default_positions`; old keys keep their place."""
        old = {a.key: a.pos for a in self._anchors}
        keys = [a.key if isinstance(a, Anchor) else a[0] for a in anchors]
        keep = set(keys) == set(old)  # same domains: keep the user's arrangement
        defaults = default_positions(len(anchors)) if anchors else []
        items: list[Anchor] = []
        for i, a in enumerate(anchors):
            if isinstance(a, Anchor):
                items.append(Anchor(a.key, a.label, (_clamp01(a.pos[0]), _clamp01(a.pos[1]))))
            else:
                key, label = a
                items.append(Anchor(key, label, old[key] if keep else defaults[i]))
        self._anchors = items
        self._rebuild()

    def set_anchor_position(self, key: str, x: float, y: float) -> None:
        for a in self._anchors:
            if a.key == key:
                a.pos = (_clamp01(x), _clamp01(y))
                self._rebuild()
                self.anchorMoved.emit(key, *a.pos)
                return
        raise KeyError(key)

    def puck(self) -> Point:
        return self._puck

    def set_puck(self, x: float, y: float) -> None:
        """Move the puck (clamped to the pad); emits ``puckMoved`` and ``weightsChanged`` when it moved."""
        pos = (_clamp01(x), _clamp01(y))
        if pos == self._puck:
            return
        self._puck = pos
        if self._recording and (not self._path or self._path[-1] != pos):
            self._path.append(pos)
        self._update_weights(emit=True)
        self.puckMoved.emit(*pos)

    def weights(self) -> dict[str, float]:
        return dict(self._weights)

    def uses_bilinear(self) -> bool:
        return self._pad is not None and self._pad.uses_bilinear

    # ---- path recording ----------------------------------------------------------------------------

    def is_recording(self) -> bool:
        return self._recording

    def start_recording(self) -> None:
        self._recording = True
        self._path = [self._puck]
        self.recordingChanged.emit(True)
        self.update()

    def stop_recording(self) -> list[Point]:
        """Stop and return the recorded path (also emitted as ``pathRecorded``)."""
        if not self._recording:
            return list(self._path)
        self._recording = False
        self.recordingChanged.emit(False)
        path = list(self._path)
        self.pathRecorded.emit(path)
        self.update()
        return path

    def recorded_path(self) -> list[Point]:
        return list(self._path)

    def clear_path(self) -> None:
        self._path = []
        self.update()

    # ---- internals ---------------------------------------------------------------------------------

    def _rebuild(self) -> None:
        self._pad = BlendPad([a.pos for a in self._anchors]) if self._anchors else None
        self._update_weights(emit=True)

    def _update_weights(self, emit: bool) -> None:
        if self._pad is None:
            new: dict[str, float] = {}
        else:
            new = {a.key: w for a, w in zip(self._anchors, self._pad.weights(self._puck), strict=True)}
        changed = new != self._weights
        self._weights = new
        self.update()
        if emit and changed:
            self.weightsChanged.emit(dict(new))

    def _area(self) -> QRectF:
        side = max(1.0, min(self.width(), self.height()) - 2 * MARGIN)
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def to_widget(self, p: Point) -> QPointF:
        r = self._area()
        return QPointF(r.left() + p[0] * r.width(), r.top() + p[1] * r.height())

    def to_pad(self, q: QPointF) -> Point:
        r = self._area()
        return (_clamp01((q.x() - r.left()) / r.width()), _clamp01((q.y() - r.top()) / r.height()))

    def anchor_labels(self, fm: QFontMetrics) -> list[tuple[str, QRectF]]:
        """Each anchor's "name  NN%" and where it is drawn: beside the anchor, inside the pad's frame."""
        area, labels = self._area(), []
        for a in self._anchors:
            c = self.to_widget(a.pos)
            text = anchor_label(fm, a.label, self._weights.get(a.key, 0.0), area.width() - 8)
            tw = fm.horizontalAdvance(text)
            tx = min(max(c.x() - tw / 2, area.left() + 4), area.right() - tw - 4)
            below = c.y() <= area.top() + area.height() / 2
            top = c.y() + ANCHOR_RADIUS + 2 if below else c.y() - ANCHOR_RADIUS - 4 - fm.height()
            labels.append((text, QRectF(tx, top, tw, fm.height())))
        return labels

    def _anchor_at(self, q: QPointF) -> int | None:
        best, best_d = None, ANCHOR_RADIUS + 3
        for i, a in enumerate(self._anchors):
            c = self.to_widget(a.pos)
            d = math.hypot(c.x() - q.x(), c.y() - q.y())
            if d <= best_d:
                best, best_d = i, d
        return best

    def _snapped(self, q: QPointF) -> Point:
        for a in self._anchors:
            c = self.to_widget(a.pos)
            if math.hypot(c.x() - q.x(), c.y() - q.y()) <= SNAP_PX:
                return a.pos
        return self.to_pad(q)

    # ---- events ------------------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        return QSize(260, 260)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._drag is not None:
            return super().mousePressEvent(event)
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        q = event.position()
        hit = self._anchor_at(q)
        puck_c = self.to_widget(self._puck)
        on_puck = math.hypot(puck_c.x() - q.x(), puck_c.y() - q.y()) <= PUCK_RADIUS + 2
        if hit is not None and not on_puck:
            self._drag = ("anchor", hit)
            self.dragStarted.emit("anchor")
        else:
            self._drag = ("puck", -1)
            self.dragStarted.emit("puck")
            if not on_puck:
                self.set_puck(*self._snapped(q))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        q = event.position()
        if self._drag is None:
            hover = self._anchor_at(q)
            if hover != self._hover:
                self._hover = hover
                self.update()
            return
        kind, idx = self._drag
        if kind == "puck":
            self.set_puck(*self._snapped(q))
        else:
            a = self._anchors[idx]
            a.pos = self.to_pad(q)
            self._rebuild()
            self.anchorMoved.emit(a.key, *a.pos)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._drag is None:
            return super().mouseReleaseEvent(event)
        kind, _ = self._drag
        self._drag = None
        self.dragFinished.emit(kind)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        step = KEY_STEP_LARGE if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else KEY_STEP
        moves = {Qt.Key.Key_Left: (-step, 0.0), Qt.Key.Key_Right: (step, 0.0),
                 Qt.Key.Key_Up: (0.0, -step), Qt.Key.Key_Down: (0.0, step)}
        target: Point | None = None
        if key in moves:
            dx, dy = moves[key]
            target = (self._puck[0] + dx, self._puck[1] + dy)
        elif key == Qt.Key.Key_Home:
            target = (0.5, 0.5)
        elif Qt.Key.Key_1 <= key <= Qt.Key.Key_9 and key - Qt.Key.Key_1 < len(self._anchors):
            target = self._anchors[key - Qt.Key.Key_1].pos
        elif key == Qt.Key.Key_R and not event.isAutoRepeat():
            self.stop_recording() if self._recording else self.start_recording()
            event.accept()
            return
        if target is None:
            return super().keyPressEvent(event)
        if not self._key_drag and self._drag is None:
            self._key_drag = True
            self.dragStarted.emit("puck")
        self.set_puck(*target)
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if self._key_drag and not event.isAutoRepeat():
            self._key_drag = False
            self.dragFinished.emit("puck")
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: ANN001 - Qt event
        if self._key_drag:
            self._key_drag = False
            self.dragFinished.emit("puck")
        super().focusOutEvent(event)

    # ---- painting ----------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        area = self._area()
        p.fillRect(self.rect(), pal.window())
        p.setPen(QPen(pal.mid().color(), 1))
        p.setBrush(pal.base())
        p.drawRoundedRect(area, 6, 6)
        grid = QPen(pal.midlight().color(), 1, Qt.PenStyle.DotLine)
        p.setPen(grid)
        for f in (0.25, 0.5, 0.75):
            p.drawLine(QPointF(area.left() + f * area.width(), area.top()),
                       QPointF(area.left() + f * area.width(), area.bottom()))
            p.drawLine(QPointF(area.left(), area.top() + f * area.height()),
                       QPointF(area.right(), area.top() + f * area.height()))
        if not self._anchors:
            p.setPen(pal.text().color())
            p.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                       "Enable domains in the Domains panel\nto blend them here")
            p.end()
            return
        puck = self.to_widget(self._puck)
        # Influence lines from the puck to each anchor, thickness by weight.
        for i, a in enumerate(self._anchors):
            w = self._weights.get(a.key, 0.0)
            colour = QColor(PALETTE[i % len(PALETTE)])
            colour.setAlphaF(0.25 + 0.6 * w)
            p.setPen(QPen(colour, 1 + 5 * w))
            p.drawLine(puck, self.to_widget(a.pos))
        if len(self._path) > 1:
            p.setPen(QPen(QColor("#d62828") if self._recording else pal.dark().color(), 2, Qt.PenStyle.DashLine))
            pts = [self.to_widget(q) for q in self._path]
            for a_pt, b_pt in zip(pts, pts[1:], strict=False):
                p.drawLine(a_pt, b_pt)
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        p.setFont(font)
        for i, a in enumerate(self._anchors):
            c = self.to_widget(a.pos)
            colour = QColor(PALETTE[i % len(PALETTE)])
            p.setPen(QPen(pal.base().color() if i != self._hover else pal.highlight().color(), 2))
            p.setBrush(colour)
            p.drawEllipse(c, ANCHOR_RADIUS, ANCHOR_RADIUS)
            p.setPen(QColor("white"))
            p.drawText(QRectF(c.x() - ANCHOR_RADIUS, c.y() - ANCHOR_RADIUS, 2 * ANCHOR_RADIUS, 2 * ANCHOR_RADIUS),
                       Qt.AlignmentFlag.AlignCenter, str(i + 1) if i < 9 else "")
        p.setPen(pal.text().color())
        for text, box in self.anchor_labels(p.fontMetrics()):
            p.drawText(box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextDontClip, text)
        p.setPen(QPen(pal.highlight().color() if self.hasFocus() else pal.text().color(), 2))
        p.setBrush(QColor("white"))
        p.drawEllipse(puck, PUCK_RADIUS, PUCK_RADIUS)
        p.setBrush(pal.text())
        p.drawEllipse(puck, 2.0, 2.0)
        if self._recording:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor("#d62828"))
            p.drawEllipse(QPointF(area.right() - 8, area.top() + 8), 5, 5)
        p.end()
