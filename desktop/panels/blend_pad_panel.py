"""Blend pad dock: the pad canvas, live weights, path recording and the morph export request."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from desktop.widgets.blend_pad import Anchor, BlendPadWidget, Point
from engine.domains.blendpad import BlendPad
from engine.domains.morph import weights_along_path


@dataclass
class MorphRequest:
    """A morph animation to render: frames along ``path`` through the pad's anchors."""

    keys: list[str]
    anchors: list[Point]
    path: list[Point]
    frames: int = 48
    duration_ms: int = 80
    output: str = ""
    extra: dict = field(default_factory=dict)

    def frame_weights(self) -> list[dict[str, float]]:
        """One ``{key: weight}`` per frame (arc-length spacing, engine.domains.morph)."""
        pad = BlendPad(self.anchors)
        return [dict(zip(self.keys, w, strict=True)) for w in weights_along_path(pad, self.path, self.frames)]


class BlendPadPanel(QWidget):
    """The pad plus a weights readout, Record/Clear and "Export morph…". Forwards the pad's signals."""

    morphExportRequested = Signal(object)  # MorphRequest

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("blendPadPanel")
        self.setAccessibleName("Blend pad panel")
        self.pad = BlendPadWidget(self)
        self.readout = QLabel(self)
        self.readout.setObjectName("blendPadWeights")
        self.readout.setAccessibleName("Blend weights")
        self.readout.setToolTip("The weight each enabled domain gets at the puck (they sum to 100 %)")
        self.readout.setWordWrap(True)
        self.record_button = QPushButton("Record path", self)
        self.record_button.setObjectName("blendPadRecord")
        self.record_button.setAccessibleName("Record path")
        self.record_button.setCheckable(True)
        self.record_button.setToolTip("Record the puck's path (R on the pad) to export it as a morph animation")
        self.clear_button = QPushButton("Clear", self)
        self.clear_button.setObjectName("blendPadClear")
        self.clear_button.setAccessibleName("Clear recorded path")
        self.clear_button.setToolTip("Forget the recorded path")
        self.frames = QSpinBox(self)
        self.frames.setObjectName("blendPadFrames")
        self.frames.setAccessibleName("Morph frames")
        self.frames.setRange(2, 600)
        self.frames.setValue(48)
        self.frames.setSuffix(" frames")
        self.frames.setToolTip("Number of frames in the exported animation")
        self.export_button = QPushButton("Export morph…", self)
        self.export_button.setObjectName("blendPadExport")
        self.export_button.setAccessibleName("Export morph")
        self.export_button.setToolTip("Render the recorded path as an animated WebP/GIF")
        self.export_button.setEnabled(False)
        row = QHBoxLayout()
        for w in (self.record_button, self.clear_button, self.frames, self.export_button):
            row.addWidget(w)
        lay = QVBoxLayout(self)
        lay.addWidget(self.pad, 1)
        lay.addWidget(self.readout)
        lay.addLayout(row)
        self.record_button.toggled.connect(self._toggle_recording)
        self.clear_button.clicked.connect(self._clear)
        self.export_button.clicked.connect(self._ask_export)
        self.pad.weightsChanged.connect(self._show_weights)
        self.pad.recordingChanged.connect(self._recording_changed)
        self._show_weights(self.pad.weights())

    def set_anchors(self, anchors: list[Anchor] | list[tuple[str, str]]) -> None:
        self.pad.set_anchors(anchors)
        self._show_weights(self.pad.weights())

    def morph_request(self, output: str = "") -> MorphRequest | None:
        """The request for the recorded path, or None without anchors or a path of two points."""
        path = self.pad.recorded_path()
        anchors = self.pad.anchors()
        if not anchors or len(path) < 2:
            return None
        return MorphRequest([a.key for a in anchors], [a.pos for a in anchors], path, self.frames.value(),
                            output=output)

    def _show_weights(self, _weights: dict) -> None:
        weights = self.pad.weights()  # in anchor order (a dict through a signal arrives key-sorted)
        labels = {a.key: a.label for a in self.pad.anchors()}
        if not weights:
            self.readout.setText("No domain enabled")
        else:
            self.readout.setText("   ".join(f"{labels.get(k, k)} {100 * w:.0f}%" for k, w in weights.items()))
        self._update_buttons()

    def _toggle_recording(self, on: bool) -> None:
        if on and not self.pad.is_recording():
            self.pad.start_recording()
        elif not on and self.pad.is_recording():
            self.pad.stop_recording()

    def _recording_changed(self, on: bool) -> None:
        self.record_button.blockSignals(True)
        self.record_button.setChecked(on)
        self.record_button.setText("Stop recording" if on else "Record path")
        self.record_button.blockSignals(False)
        self._update_buttons()

    def _clear(self) -> None:
        if self.pad.is_recording():
            self.pad.stop_recording()
        self.pad.clear_path()
        self._update_buttons()

    def _update_buttons(self) -> None:
        ok = not self.pad.is_recording() and len(self.pad.recorded_path()) >= 2 and bool(self.pad.anchors())
        self.export_button.setEnabled(ok)

    def _ask_export(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export morph animation", str(Path.home() / "morph.webp"),
                                              "Animated WebP (*.webp);;GIF (*.gif)")
        if name:
            self.request_export(name)

    def request_export(self, output: str) -> MorphRequest | None:
        """Emit ``morphExportRequested`` for ``output`` (what the Export button does after its file dialog)."""
        req = self.morph_request(output)
        if req is not None:
            self.morphExportRequested.emit(req)
        return req
