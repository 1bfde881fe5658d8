"""The image canvas: zoom, pan, fit, 100 %, before/after split compare, HiDPI-correct and smooth."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QGraphicsView, QWidget


class CompareItem(QGraphicsItem):
    """Paints the edited image, with the "before" image over the part left of ``split`` (0..1)."""

    def __init__(self) -> None:
        super().__init__()
        self.after = QPixmap()
        self.before = QPixmap()
        self.size = (0, 0)  # logical size in scene units = image pixels
        self.split: float | None = None  # None: no compare
        self.show_before = False

    def set_images(self, after: QImage, before: QImage | None) -> None:
        self.prepareGeometryChange()
        self.after = QPixmap.fromImage(after)
        self.before = QPixmap.fromImage(before) if before is not None else QPixmap()
        self.size = (after.width(), after.height())
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        return QRectF(0, 0, *self.size)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self.after.isNull():
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        rect = self.boundingRect()
        if self.show_before and not self.before.isNull():
            painter.drawPixmap(rect, self.before, QRectF(self.before.rect()))
            return
        painter.drawPixmap(rect, self.after, QRectF(self.after.rect()))
        if self.split is not None and not self.before.isNull():
            x = rect.width() * self.split
            painter.save()
            painter.setClipRect(QRectF(0, 0, x, rect.height()))
            painter.drawPixmap(rect, self.before, QRectF(self.before.rect()))
            painter.restore()
            pen = QPen(QColor(255, 255, 255, 220))
            pen.setCosmetic(True)
            pen.setWidth(2)
            painter.setPen(pen)
            painter.drawLine(QPointF(x, 0), QPointF(x, rect.height()))


class Canvas(QGraphicsView):
    """QGraphicsView of one :class:`CompareItem`. Wheel zooms, drag pans (or moves the split)."""

    zoom_changed = Signal(float)  # device pixels per image pixel

    MIN_ZOOM, MAX_ZOOM = 0.05, 64.0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("canvas")
        self.setAccessibleName("Image canvas")
        self.setToolTip("The edited image. Wheel: zoom; drag: pan; Ctrl+0: fit; Ctrl+1: 100 %; "
                        "hold \\ to see the original")
        self.scene_ = QGraphicsScene(self)
        self.item = CompareItem()
        self.scene_.addItem(self.item)
        self.setScene(self.scene_)
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform | QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QColor(38, 38, 42))
        self.setAcceptDrops(False)  # drops go to the window
        self._fit = True
        self._dragging_split = False

    # ---- content ---------------------------------------------------------------------------------
    def set_images(self, after: QImage, before: QImage | None = None) -> None:
        first = self.item.after.isNull()
        old_size = self.item.size
        self.item.set_images(after, before)
        self.scene_.setSceneRect(self.item.boundingRect())
        if first or self._fit or old_size != self.item.size:
            if self._fit or first:
                self.fit()

    def has_image(self) -> bool:
        return not self.item.after.isNull()

    def set_compare(self, split: float | None) -> None:
        """Show the original left of ``split`` (0..1), or no compare for None."""
        self.item.split = None if split is None else min(1.0, max(0.0, split))
        self.item.update()

    def set_show_before(self, on: bool) -> None:
        self.item.show_before = on
        self.item.update()

    # ---- zoom ------------------------------------------------------------------------------------
    def zoom(self) -> float:
        """Device pixels per image pixel."""
        return self.transform().m11() * self.devicePixelRatioF()

    def set_zoom(self, z: float) -> None:
        z = min(self.MAX_ZOOM, max(self.MIN_ZOOM, z))
        s = z / self.devicePixelRatioF()
        self.resetTransform()
        self.scale(s, s)
        self.zoom_changed.emit(self.zoom())

    def actual_size(self) -> None:
        """100 %: one image pixel per device pixel (HiDPI-correct)."""
        self._fit = False
        self.set_zoom(1.0)

    def fit(self) -> None:
        self._fit = True
        if self.item.size[0] <= 0:
            return
        self.fitInView(self.item, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom_changed.emit(self.zoom())

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt API
        delta = event.angleDelta().y()
        if not delta:
            return
        self._fit = False
        factor = 1.0015 ** delta
        self.set_zoom(self.zoom() * factor)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        if self._fit:
            self.fit()

    # ---- split dragging --------------------------------------------------------------------------
    def _split_at(self, pos) -> float | None:
        p = self.mapToScene(pos)
        w = self.item.size[0]
        return None if w <= 0 else p.x() / w

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.item.split is not None and event.button() == Qt.MouseButton.LeftButton:
            s = self._split_at(event.position().toPoint())
            if s is not None and abs(s - self.item.split) * self.item.size[0] * self.transform().m11() < 12:
                self._dragging_split = True
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self._dragging_split:
            s = self._split_at(event.position().toPoint())
            if s is not None:
                self.set_compare(s)
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self._dragging_split:
            self._dragging_split = False
            return
        super().mouseReleaseEvent(event)
