"""A live loss plot drawn with QPainter: one polyline per named value, log-scaled y when it helps."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")
MAX_POINTS = 2000


class LossCurve(QWidget):
    """``add(step, values)`` appends points; ``clear()`` starts over. ``total`` (if present) is drawn boldest."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lossCurve")
        self.setAccessibleName("Loss curve")
        self.setToolTip("Training losses per step (lower is better)")
        self.setMinimumSize(180, 100)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.series: dict[str, list[tuple[int, float]]] = {}
        self.total_steps: int | None = None

    def sizeHint(self) -> QSize:
        return QSize(280, 140)

    def clear(self, total_steps: int | None = None) -> None:
        self.series = {}
        self.total_steps = total_steps
        self.update()

    def add(self, step: int, values: dict[str, float]) -> None:
        for name, v in values.items():
            if v is None or not math.isfinite(float(v)):
                continue
            pts = self.series.setdefault(name, [])
            pts.append((int(step), float(v)))
            if len(pts) > MAX_POINTS:  # keep every other point: the shape stays, the cost stays bounded
                del pts[::2]
        self.setAccessibleDescription(", ".join(f"{k} {p[-1][1]:.4g}" for k, p in self.series.items() if p))
        self.update()

    def _log_scale(self, lo: float, hi: float) -> bool:
        return lo > 0 and hi / lo > 20

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        p.fillRect(self.rect(), pal.base())
        fm = p.fontMetrics()
        legend_h = fm.height() + 4 if self.series else 0  # the legend has its own row, above the data
        plot = QRectF(8 + fm.horizontalAdvance("0.000"), 6 + legend_h,
                      self.width() - 16 - fm.horizontalAdvance("0.000"), self.height() - 12 - fm.height() - legend_h)
        p.setPen(QPen(pal.mid().color(), 1))
        p.drawRect(plot)
        values = [v for pts in self.series.values() for _, v in pts]
        if not values:
            p.setPen(pal.text().color())
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter, "Losses appear here while adapting")
            p.end()
            return
        steps = [s for pts in self.series.values() for s, _ in pts]
        s_lo, s_hi = min(steps), max(max(steps), self.total_steps or 0, min(steps) + 1)
        lo, hi = min(values), max(values)
        log = self._log_scale(lo, hi)
        f = (lambda v: math.log10(v)) if log else (lambda v: v)
        y_lo, y_hi = f(lo), f(hi)
        if y_hi - y_lo < 1e-12:
            y_lo, y_hi = y_lo - 0.5, y_hi + 0.5

        def to_xy(s: int, v: float) -> QPointF:
            x = plot.left() + (s - s_lo) / (s_hi - s_lo) * plot.width()
            y = plot.bottom() - (f(v) - y_lo) / (y_hi - y_lo) * plot.height()
            return QPointF(x, y)

        p.setPen(pal.text().color())
        p.drawText(QRectF(0, plot.top() - 2, plot.left() - 3, fm.height()), Qt.AlignmentFlag.AlignRight, f"{hi:.3g}")
        p.drawText(QRectF(0, plot.bottom() - fm.height() + 2, plot.left() - 3, fm.height()),
                   Qt.AlignmentFlag.AlignRight, f"{lo:.3g}")
        p.drawText(QRectF(plot.left(), plot.bottom() + 1, plot.width(), fm.height()), Qt.AlignmentFlag.AlignRight,
                   f"step {max(steps)}" + (f" / {self.total_steps}" if self.total_steps else "")
                   + ("  (log scale)" if log else ""))
        colours = {name: QColor(COLOURS[i % len(COLOURS)]) for i, name in enumerate(self.series)}
        for name, pts in self.series.items():
            p.setPen(QPen(colours[name], 2.2 if name == "total" else 1.2))
            for a, b in zip(pts, pts[1:], strict=False):
                p.drawLine(to_xy(*a), to_xy(*b))
            if len(pts) == 1:
                p.drawEllipse(to_xy(*pts[0]), 2, 2)
        legend_x = plot.left()
        for name in sorted(self.series, key=lambda n: n != "total"):  # total first; what does not fit is
            label = f"{name} {self.series[name][-1][1]:.3g}"  # left to the accessible description
            if legend_x + fm.horizontalAdvance(label) > plot.right():
                break
            p.setPen(colours[name])
            p.drawText(QPointF(legend_x, plot.top() - 4 - fm.descent()), label)
            legend_x += fm.horizontalAdvance(label) + 12
        p.end()
