"""Adapt panel: reference image(s), a text pair or source/target pairs (:mod:`desktop.panels.pairs`), preset
and parameterisation, Start/Cancel, live progress.

The panel builds an :class:`AdaptRequest` and emits ``startRequested(request)``; with a runner
(:mod:`desktop.panels.jobs`, the studio's worker client) and a model it also runs
:func:`adapt_job` itself. Progress (``engine.jobs.Progress`` or the worker's relayed reports) goes to
:meth:`AdaptPanel.show_progress`: loss curve, preview grid, progress bar and ETA. A finished run saves
the new domain and emits ``domainCreated(path)``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.panels.jobs import JobRunner, context_generator
from desktop.panels.pairs import IMAGE_FILTER, PairsEditor, read_images
from desktop.widgets.drops import PathDropTarget
from desktop.widgets.eta import format_duration
from desktop.widgets.image_view import ImageView
from desktop.widgets.loss_curve import LossCurve
from desktop.widgets.message_bar import MessageBar

PARAM_TEXT = {"affine": "Affine (style layers)", "affinelight": "AffineLight (low-rank)",
              "stylespace": "StyleSpace direction", "full": "Full (comparison only)"}
LOSS_TEXT = {"": "Automatic", "jojo": "JoJo (one image, no CLIP)", "paired": "Paired (source/target pairs)",
             "mtg": "Mind the Gap (CLIP)", "nada": "NADA (text, CLIP)"}


def _engine_choices() -> tuple[tuple[str, ...], tuple[str, ...], list[str]]:
    try:
        from engine.adaptation import LOSSES, PARAMS, PRESETS
        return tuple(PARAMS), tuple(LOSSES), list(PRESETS)
    except ImportError:  # adaptation engine absent: the panel still shows its controls
        return tuple(PARAM_TEXT), tuple(k for k in LOSS_TEXT if k), []


@dataclass
class AdaptRequest:
    """Settings of one adaptation run (``loss``/``preset`` empty = the engine chooses)."""

    references: list[str] = field(default_factory=list)  # paired: the targets
    text: tuple[str, str] | None = None
    param: str = "affine"
    loss: str = ""
    preset: str = ""
    steps: int = 0  # 0 = the preset's
    seed: int = 0
    name: str = ""
    output: str = ""
    preview_every: int = 10
    aligned: bool = True  # references are aligned face crops (no face detection)
    invert_steps: int = 50
    sources: list[str] = field(default_factory=list)  # few-shot: one source photo per reference, in order

    def problem(self) -> str:
        """Why the request cannot start ("" when it can)."""
        if self.sources and len(self.sources) != len(self.references):
            return f"One target per source: {len(self.sources)} sources but {len(self.references)} targets"
        if self.sources and self.loss not in ("", "paired"):
            return "Source/target pairs train with the Paired loss: choose Automatic or Paired"
        if self.text is None and not self.references:
            return "Drop a reference image, or type a source and a target text"
        if self.text is not None and not (self.text[0].strip() and self.text[1].strip()):
            return "Type both a source text (e.g. 'Photo') and a target text (e.g. 'Pixar character')"
        if not self.output:
            return "No output file for the new domain"
        return ""


def adapt_job(request: AdaptRequest, model_path: str, clip: list[str] | None = None):
    """A job function: adapt the model, save the domain atomically to ``request.output``; returns a summary dict."""

    def job(ctx: Any) -> dict:
        from engine.adaptation import adapt

        loaded = context_generator(ctx, model_path)
        result = adapt(loaded, list(request.references), sources=list(request.sources), text=request.text,
                       param=request.param,
                       loss=request.loss or None, preset=request.preset or None,
                       steps=request.steps or None, seed=request.seed, clip=list(clip or []),
                       preview_every=request.preview_every, name=request.name, aligned=request.aligned,
                       invert_steps=request.invert_steps, progress=ctx.progress,
                       cancel=ctx.cancel)
        path = result.save(request.output)
        return {"path": str(path), "partial": result.partial, "cancelled": result.cancelled,
                "stopped": result.stopped, "steps_done": result.steps_done, "seconds": result.seconds,
                "final_losses": dict(result.final_losses), "notes": list(result.notes)}

    return job


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "domain"


class AdaptPanel(PathDropTarget, QWidget):
    """See the module docstring."""

    startRequested = Signal(object)  # AdaptRequest
    cancelRequested = Signal()
    domainCreated = Signal(str)  # path of the saved direction / parameter delta
    finished = Signal(dict)  # the job's summary

    def __init__(self, parent: QWidget | None = None, runner: JobRunner | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("adaptPanel")
        self.setAccessibleName("Adapt panel")
        self.setAcceptDrops(True)
        self.runner: JobRunner | None = None
        self.model_path: str | None = None
        self.output_dir: Path | None = None
        self._job: int | None = None
        self._references: list[str] = []
        params, losses, presets = _engine_choices()

        self.message = MessageBar(self, "adaptMessage")
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("adaptSource")
        self.tabs.setAccessibleName("Adapt to")
        image_tab = QWidget()
        self.reference_view = ImageView("Drop a reference image here\n(a painting, sketch, cartoon face)", image_tab,
                                        "adaptReference")
        self.reference_view.setAccessibleName("Reference image")
        self.reference_view.setToolTip("The look to adapt to: drop one or more images, or click Choose…")
        self.reference_view.setMinimumHeight(96)
        self.choose_button = QPushButton("Choose…", image_tab)
        self.choose_button.setObjectName("adaptChooseReference")
        self.choose_button.setAccessibleName("Choose reference images")
        self.choose_button.setToolTip("Choose reference image files")
        self.choose_button.clicked.connect(self._ask_references)
        self.reference_label = QLabel("", image_tab)
        self.reference_label.setWordWrap(True)
        il = QVBoxLayout(image_tab)
        il.addWidget(self.reference_view, 1)
        row = QHBoxLayout()
        row.addWidget(self.reference_label, 1)
        row.addWidget(self.choose_button)
        il.addLayout(row)
        text_tab = QWidget()
        self.source_text = QLineEdit("Photo", text_tab)
        self.source_text.setObjectName("adaptSourceText")
        self.source_text.setAccessibleName("Source text")
        self.source_text.setToolTip("What the model makes now, e.g. 'Photo'")
        self.target_text = QLineEdit(text_tab)
        self.target_text.setObjectName("adaptTargetText")
        self.target_text.setAccessibleName("Target text")
        self.target_text.setPlaceholderText("e.g. Pixar character")
        self.target_text.setToolTip("What it should make, e.g. 'Pixar character' (needs a CLIP model)")
        tl = QFormLayout(text_tab)
        tl.addRow("From", self.source_text)
        tl.addRow("To", self.target_text)
        self.pairs = PairsEditor()
        self.pairs.error.connect(lambda text: self.message.show_message(text, "error"))
        self.pairs.changed.connect(self._pairs_changed)
        self.tabs.addTab(image_tab, "Reference image")
        self.tabs.addTab(text_tab, "Text")
        self.tabs.addTab(self.pairs, "Pairs")
        self.tabs.setTabToolTip(2, "Few-shot: photos and the same faces in the new look (trains with the Paired "
                                   "loss)")

        self.param = QComboBox(self)
        self.param.setObjectName("adaptParam")
        self.param.setAccessibleName("Parameterisation")
        self.param.setToolTip("What is trained: Affine = the style layers (the paper's default), AffineLight = "
                              "a low-rank offset, StyleSpace = one direction (small, blendable)")
        for p in params:
            self.param.addItem(PARAM_TEXT.get(p, p), p)
        self.loss = QComboBox(self)
        self.loss.setObjectName("adaptLoss")
        self.loss.setAccessibleName("Loss")
        self.loss.setToolTip("Training objective; Automatic picks NADA for text, MTG with CLIP, else JoJo")
        self.loss.addItem(LOSS_TEXT[""], "")
        for k in losses:
            self.loss.addItem(LOSS_TEXT.get(k, k), k)
        self.preset = QComboBox(self)
        self.preset.setObjectName("adaptPreset")
        self.preset.setAccessibleName("Preset")
        self.preset.setToolTip("Optimiser settings from the paper's configs; Automatic fits the loss and model")
        self.preset.addItem("Automatic", "")
        for name in presets:
            self.preset.addItem(name, name)
        self.steps = QSpinBox(self)
        self.steps.setObjectName("adaptSteps")
        self.steps.setAccessibleName("Steps")
        self.steps.setRange(0, 100000)
        self.steps.setSpecialValueText("preset")
        self.steps.setToolTip("Training steps (preset = the preset's number)")
        self.name = QLineEdit(self)
        self.name.setObjectName("adaptName")
        self.name.setAccessibleName("Domain name")
        self.name.setPlaceholderText("name of the new domain")
        self.name.setToolTip("Name of the new domain in the Domains panel")
        form = QFormLayout()
        form.addRow("Train", self.param)
        form.addRow("Loss", self.loss)
        form.addRow("Preset", self.preset)
        form.addRow("Steps", self.steps)
        form.addRow("Name", self.name)
        self.aligned = QCheckBox("Reference is an aligned face crop", self)
        self.aligned.setObjectName("adaptAligned")
        self.aligned.setAccessibleName("Reference is an aligned face crop")
        self.aligned.setChecked(True)
        self.aligned.setToolTip("Checked: use the image as it is (a centred face, like the model's own renders).\n"
                                "Unchecked: find and align the face first")
        form.addRow("", self.aligned)

        self.start_button = QPushButton("Start", self)
        self.start_button.setObjectName("adaptStart")
        self.start_button.setAccessibleName("Start adaptation")
        self.start_button.setToolTip("Adapt the model to the reference (the window stays usable meanwhile)")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("adaptCancel")
        self.cancel_button.setAccessibleName("Cancel adaptation")
        self.cancel_button.setToolTip("Stop after the current step and keep what was learnt so far")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("adaptProgress")
        self.progress.setAccessibleName("Adaptation progress")
        self.progress.setToolTip("Training steps done")
        self.eta = QLabel("", self)
        self.eta.setObjectName("adaptEta")
        self.curve = LossCurve(self)
        self.preview = ImageView("Previews appear here", self, "adaptPreview")
        self.preview.setAccessibleName("Adaptation preview grid")
        self.preview.setToolTip("Sample faces rendered by the adapting model")
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        lay = QVBoxLayout(self)
        lay.addWidget(self.message)
        lay.addWidget(self.tabs, 2)
        lay.addLayout(form)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.eta)
        lay.addWidget(self.curve, 2)  # the preview grid is one wide row of faces: it needs less height
        lay.addWidget(self.preview, 1)
        self._t0 = time.monotonic()
        self.set_runner(runner)

    def set_runner(self, runner: JobRunner | None) -> None:
        """Run jobs through ``runner`` (the studio's worker client or an :class:`InlineRunner`)."""
        if self.runner is not None:
            self.runner.job_progress.disconnect(self._on_relayed)
            if hasattr(self.runner, "job_cancelled"):
                self.runner.job_cancelled.disconnect(self._on_cancelled)
        self.runner = runner
        if runner is not None:
            runner.job_progress.connect(self._on_relayed)
            if hasattr(runner, "job_cancelled"):
                runner.job_cancelled.connect(self._on_cancelled)

    # ---- inputs ------------------------------------------------------------------------------------

    def references(self) -> list[str]:
        return list(self._references)

    def set_references(self, paths: list[str | Path]) -> bool:
        """Use these images as references; a non-image gives a message and changes nothing."""
        files, first, problem = read_images(paths, folders=False)
        if problem:
            self.message.show_message(problem, "error")
            return False
        self._references = [str(p) for p in files]
        self.reference_view.set_image(first)
        self.aligned.setChecked(first.width == first.height)
        self.reference_label.setText(", ".join(p.name for p in files))
        self.tabs.setCurrentIndex(0)
        if not self.name.text():
            self.name.setText(_slug(files[0].stem))
        self.message.hide()
        return True

    def _pairs_changed(self) -> None:
        targets = self.pairs.targets.files()
        if targets and not self.name.text():
            self.name.setText(_slug(Path(targets[0]).stem))
        if self.message.isVisible() and self.message.level == "error":
            self.message.hide()

    def request(self) -> AdaptRequest:
        mode = self.tabs.currentIndex()  # 0 reference image(s), 1 text, 2 pairs
        text = (self.source_text.text(), self.target_text.text()) if mode == 1 else None
        refs = {0: list(self._references), 1: [], 2: self.pairs.targets.files()}[mode]
        sources = self.pairs.sources.files() if mode == 2 else []
        name = self.name.text().strip() or (_slug(text[1]) if text else _slug(Path(refs[0]).stem) if refs
                                            else "domain")
        param = self.param.currentData()
        out = ""
        if self.output_dir is not None:
            suffix = "direction" if param == "stylespace" else "delta"
            out = str(self.output_dir / f"{_slug(name)}-{param}-{suffix}.safetensors")
        return AdaptRequest(refs, text, param, self.loss.currentData(), self.preset.currentData(), self.steps.value(),
                            0, name, out, aligned=self.aligned.isChecked(), sources=sources)

    def _ask_references(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Reference images", "", IMAGE_FILTER)
        if names:
            self.set_references(names)

    def paths_dropped(self, paths: list[Path]) -> None:
        if self.tabs.currentIndex() == 2:  # a drop beside the two boxes: which list was meant is unclear
            self.message.show_message("Drop the photos on Sources and the same faces in the new look on Targets",
                                      "warning")
            return
        self.set_references(paths)

    # ---- running -----------------------------------------------------------------------------------

    def is_running(self) -> bool:
        return self._job is not None or not self.start_button.isEnabled()

    def start(self) -> AdaptRequest | None:
        """Validate, emit ``startRequested`` and (with a runner and a model) submit the job."""
        req = self.request()
        problem = (self.pairs.problem() if self.tabs.currentIndex() == 2 else "") or req.problem()
        if not problem and self.runner is not None and not self.model_path:
            problem = "Open a model first"
        if problem:
            self.message.show_message(problem, "warning")
            return None
        if self.output_dir is not None:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        self.message.hide()
        self.job_started(req)
        self.startRequested.emit(req)
        if self.runner is not None and self.model_path:
            self._job = -1  # running (the inline runner finishes inside submit)
            job_id = self.runner.submit(f"Adapt to {req.name}", adapt_job(req, self.model_path),
                                        on_done=self._on_done, on_error=self._on_error,
                                        partial_on_cancel=True)  # Cancel keeps the steps done
            if self._job == -1:
                self._job = job_id
        return req

    def cancel(self) -> None:
        self.cancelRequested.emit()
        if self.runner is not None and self._job not in (None, -1):
            self.runner.cancel(self._job)
        self.cancel_button.setEnabled(False)
        self.eta.setText("Cancelling after this step…")

    def job_started(self, request: AdaptRequest | None = None) -> None:
        self.curve.clear(request.steps or None if request else None)
        self.progress.setRange(0, 0)
        self.eta.setText("Preparing the reference…")
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._t0 = time.monotonic()

    def show_progress(self, p: Any) -> None:
        """One report (``engine.jobs.Progress`` or a relayed report with ``eta_seconds``)."""
        if p.total:
            self.progress.setRange(0, int(p.total))
            self.progress.setValue(min(int(p.step), int(p.total)))
            if self.curve.total_steps != p.total:
                self.curve.total_steps = int(p.total)
        if p.values:
            self.curve.add(int(p.step), dict(p.values))
        if getattr(p, "preview", None) is not None:
            self.preview.set_image(p.preview)
        eta = getattr(p, "eta_seconds", None)
        elapsed = time.monotonic() - self._t0
        if eta is None and p.total and p.step:
            eta = elapsed * (p.total - p.step) / p.step
        parts = [f"step {p.step}" + (f" of {p.total}" if p.total else "")]
        if eta is not None:
            parts.append(f"about {format_duration(eta)} left")
        self.eta.setText(" · ".join(parts))

    def job_finished(self, ok: bool, text: str = "") -> None:
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, max(1, self.progress.maximum()))
        if ok:
            self.progress.setValue(self.progress.maximum())
        self.eta.setText(text)
        self._job = None

    def _on_relayed(self, p: Any) -> None:
        if self._job is not None and getattr(p, "job_id", self._job) in (self._job, -1):
            self.show_progress(p)

    def _on_done(self, summary: dict) -> None:
        took = format_duration(summary.get("seconds", 0.0))
        if summary.get("cancelled"):
            text = f"Cancelled after {summary.get('steps_done', 0)} steps; the partial domain was kept"
        elif summary.get("stopped"):
            text = f"Stopped early: {summary['stopped']}; the last good state was kept"
        else:
            text = f"Done in {took}"
        self.job_finished(True, text)
        if summary.get("notes"):
            self.message.show_message("\n".join(summary["notes"]), "info", timeout_ms=8000)
        self.finished.emit(summary)
        self.domainCreated.emit(summary["path"])

    def _on_error(self, message: str) -> None:
        self.job_finished(False, "")
        self.message.show_message(message, "error")

    def _on_cancelled(self, job_id: int) -> None:
        if self._job is not None and (self._job == -1 or job_id == self._job):
            self.job_finished(False, "Cancelled")
