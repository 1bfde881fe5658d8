"""Domains panel: every direction / parameter delta with enable box, weight, layer range; strength, sparsity.

The panel holds the edit's settings (:class:`DomainsState`) and reports every change through signals;
it never renders. Undo: each gesture is framed by ``editStarted(description)`` / ``editFinished()``
(a whole slider drag is one frame; a key press, click or combo choice is one frame), so the core can
make one undo step per frame. Programmatic changes (``set_state``, ``set_weights``) emit nothing.

Drop ``.safetensors`` / ``.pt`` direction files (or folders of them) onto the panel to import them;
files that cannot be used give a non-modal message and change nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from desktop.panels.domain_sources import DOMAIN_SUFFIXES, DomainEntry, known_domains, load_domain_file
from desktop.widgets.drops import PathDropTarget, expand_folders
from desktop.widgets.message_bar import MessageBar
from engine.domains.layers import selected_layers, validate_spec
from engine.errors import UserError
from engine.stylespace import StyleLayer

LAYER_PRESETS = [("all", "All layers"), ("coarse", "Coarse (4–8 px): shape"), ("middle", "Middle (16–32 px)"),
                 ("fine", "Fine (64 px+): texture, colour"), ("coarse,middle", "Coarse + middle"),
                 ("middle,fine", "Middle + fine"), ("custom", "Index range…")]
WEIGHT_SCALE = 100  # slider units per 1.0


@dataclass
class DomainSetting:
    enabled: bool = False
    weight: float = 1.0
    layers: str = "all"


@dataclass
class DomainsState:
    """The edit's domain settings: per-domain settings (panel order), global strength and sparsity."""

    settings: dict[str, DomainSetting] = field(default_factory=dict)
    strength: float = 1.0
    sparsity: float = 0.0  # fraction of each direction's smallest channels zeroed (StyleSpaceSparse)

    def enabled(self) -> dict[str, DomainSetting]:
        return {k: s for k, s in self.settings.items() if s.enabled}

    def copy(self) -> DomainsState:
        return copy.deepcopy(self)


class _Framer:
    """Turns slider / control activity into editStarted/editFinished pairs (one per gesture)."""

    def __init__(self, start: Callable[[str], None], finish: Callable[[], None], quiet: Callable[[], bool]) -> None:
        self._start, self._finish, self._quiet = start, finish, quiet

    def slider(self, slider: QSlider, description: str, apply: Callable[[int], None]) -> None:
        slider.sliderPressed.connect(lambda: None if self._quiet() else self._start(description))
        slider.sliderReleased.connect(lambda: None if self._quiet() else self._finish())

        def changed(value: int) -> None:
            if self._quiet():
                return
            if slider.isSliderDown():
                apply(value)
            else:
                self.single(description, lambda: apply(value))

        slider.valueChanged.connect(changed)

    def single(self, description: str, apply: Callable[[], None]) -> None:
        self._start(description)
        apply()
        self._finish()


class DomainRow(QFrame):
    """One domain: enable box with its name, weight slider, layer preset and index range."""

    def __init__(self, entry: DomainEntry, setting: DomainSetting, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry = entry
        slug = "".join(c if c.isalnum() else "_" for c in entry.label)[:40]
        self.setObjectName(f"domainRow_{slug}")
        self.setAccessibleName(f"Domain {entry.label}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.enable = QCheckBox(entry.label, self)
        self.enable.setObjectName("domainEnable")
        self.enable.setAccessibleName(f"Enable {entry.label}")
        kind = "parameter delta (generator blend)" if entry.kind == "param_delta" else "StyleSpace direction"
        self.enable.setToolTip(f"Use {entry.label} in the edit\n{kind}, {entry.origin}"
                               + (f"\n{entry.path}" if entry.path else "")
                               + (f"\nLicence: {entry.license}" if entry.license else ""))
        self.badge = QLabel(entry.origin, self)
        self.badge.setObjectName("domainOrigin")
        self.badge.setStyleSheet("color: palette(mid); font-size: 9pt;")
        self.badge.setToolTip("Where this domain comes from")
        self.weight = QSlider(Qt.Orientation.Horizontal, self)
        self.weight.setObjectName("domainWeight")
        self.weight.setAccessibleName(f"Weight of {entry.label}")
        self.weight.setRange(-2 * WEIGHT_SCALE, 2 * WEIGHT_SCALE)
        self.weight.setSingleStep(5)
        self.weight.setPageStep(25)
        self.weight.setToolTip("How much of this domain to apply (negative moves away from it)")
        self.weight_label = QLabel(self)
        self.weight_label.setMinimumWidth(36)
        self.weight_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.layers = QComboBox(self)
        self.layers.setObjectName("domainLayers")
        self.layers.setAccessibleName(f"Layers of {entry.label}")
        self.layers.setToolTip("Which StyleSpace layers the domain changes: coarse = shape, fine = texture/colour")
        for spec, text in LAYER_PRESETS:
            self.layers.addItem(text, spec)
        self.range_edit = QLineEdit(self)
        self.range_edit.setObjectName("domainLayerRange")
        self.range_edit.setAccessibleName(f"Layer index range of {entry.label}")
        self.range_edit.setPlaceholderText("e.g. 0-5 or 16px-64px")
        self.range_edit.setToolTip("StyleSpace layer indices A-B (0-based, inclusive) or a resolution range "
                                   "like 16px-64px; comma-separate to combine. Enter to apply.")
        self.range_edit.setVisible(False)
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 4, 6, 4)
        grid.addWidget(self.enable, 0, 0, 1, 2)
        grid.addWidget(self.badge, 0, 2, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.weight, 1, 0, 1, 2)
        grid.addWidget(self.weight_label, 1, 2)
        grid.addWidget(self.layers, 2, 0, 1, 3)
        grid.addWidget(self.range_edit, 3, 0, 1, 3)
        grid.setColumnStretch(0, 1)
        self.show_setting(setting)

    def show_setting(self, s: DomainSetting) -> None:
        """Display ``s`` without emitting anything."""
        for w in (self.enable, self.weight, self.layers, self.range_edit):
            w.blockSignals(True)
        self.enable.setChecked(s.enabled)
        self.weight.setValue(round(s.weight * WEIGHT_SCALE))
        self.weight_label.setText(f"{s.weight:+.2f}")
        idx = self.layers.findData(s.layers)
        if idx < 0:
            idx = self.layers.findData("custom")
            self.range_edit.setText(s.layers)
        self.layers.setCurrentIndex(idx)
        self.range_edit.setVisible(self.layers.currentData() == "custom")
        for w in (self.enable, self.weight, self.layers, self.range_edit):
            w.blockSignals(False)
        for w in (self.weight, self.layers, self.range_edit):
            w.setEnabled(s.enabled)


class DomainsPanel(PathDropTarget, QWidget):
    """See the module docstring. ``state()`` is a copy; signals carry keys of :class:`DomainEntry`."""

    settingsChanged = Signal(object)  # DomainsState (a copy)
    domainToggled = Signal(str, bool)
    weightChanged = Signal(str, float)
    layersChanged = Signal(str, str)
    strengthChanged = Signal(float)
    sparsityChanged = Signal(float)
    enabledDomainsChanged = Signal(list)  # [(key, label), ...] for the blend pad's anchors
    editStarted = Signal(str)
    editFinished = Signal()
    domainsImported = Signal(list)  # [DomainEntry]
    importFailed = Signal(str)

    def __init__(self, parent: QWidget | None = None, scan: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("domainsPanel")
        self.setAccessibleName("Domains panel")
        self.setToolTip("Domains you can apply; drop .safetensors or .pt direction files here to import them")
        self.setAcceptDrops(True)
        self._entries: dict[str, DomainEntry] = {}
        self._rows: dict[str, DomainRow] = {}
        self._state = DomainsState()
        self._layout: list[StyleLayer] | None = None
        self._quiet = 0
        self._framer = _Framer(self._edit_started, self._edit_finished, lambda: self._quiet > 0)
        self._depth = 0

        self.message = MessageBar(self, "domainsMessage")
        self.rows_box = QWidget(self)
        self.rows_box.setObjectName("domainRows")
        self.rows_layout = QVBoxLayout(self.rows_box)
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.rows_layout.setSpacing(4)
        self.empty_label = QLabel("No domains yet.\nDrop direction files (.safetensors, .pt) here, "
                                  "or adapt the model to a reference.", self.rows_box)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.rows_layout.addWidget(self.empty_label)
        self.rows_layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setObjectName("domainScroll")
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.rows_box)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.strength = QSlider(Qt.Orientation.Horizontal, self)
        self.strength.setObjectName("domainStrength")
        self.strength.setAccessibleName("Global strength")
        self.strength.setRange(0, 300)
        self.strength.setSingleStep(5)
        self.strength.setToolTip("Global strength: multiplies every enabled domain's weight")
        self.strength_label = QLabel(self)
        self.sparsity = QSlider(Qt.Orientation.Horizontal, self)
        self.sparsity.setObjectName("domainSparsity")
        self.sparsity.setAccessibleName("Sparsity")
        self.sparsity.setRange(0, 99)
        self.sparsity.setToolTip("Sparsity: zero this share of each direction's smallest channels "
                                 "(StyleSpaceSparse) to keep edits local")
        self.sparsity_label = QLabel(self)
        form = QFormLayout()
        srow, prow = QHBoxLayout(), QHBoxLayout()
        srow.addWidget(self.strength, 1)
        srow.addWidget(self.strength_label)
        prow.addWidget(self.sparsity, 1)
        prow.addWidget(self.sparsity_label)
        form.addRow("Strength", srow)
        form.addRow("Sparsity", prow)
        self.import_button = QPushButton("Import…", self)
        self.import_button.setObjectName("domainImport")
        self.import_button.setAccessibleName("Import domains")
        self.import_button.setToolTip("Import direction files (.safetensors, StyleDomain .pt)")
        self.import_button.clicked.connect(self._ask_import)
        lay = QVBoxLayout(self)
        lay.addWidget(self.message)
        lay.addWidget(scroll, 1)
        lay.addLayout(form)
        lay.addWidget(self.import_button)

        self._framer.slider(self.strength, "Change strength", self._apply_strength)
        self._framer.slider(self.sparsity, "Change sparsity", self._apply_sparsity)
        self._show_globals()
        if scan:
            self.rescan()

    # ---- entries -----------------------------------------------------------------------------------

    def entries(self) -> list[DomainEntry]:
        return list(self._entries.values())

    def entry(self, key: str) -> DomainEntry:
        return self._entries[key]

    def row(self, key: str) -> DomainRow:
        return self._rows[key]

    def set_model_layout(self, layout: list[StyleLayer] | None) -> None:
        """The current model's layer table: drops are checked against it; layer ranges validated on it.
        Rows made for another layer table are flagged and cannot be enabled."""
        self._layout = layout
        for row in self._rows.values():
            self._flag_fit(row)

    def _flag_fit(self, row: DomainRow) -> None:
        from engine.stylespace import layout_fingerprint

        fp = row.entry.fingerprint
        misfit = self._layout is not None and bool(fp) and fp != layout_fingerprint(self._layout)
        row.enable.setEnabled(not misfit or row.enable.isChecked())
        row.badge.setText("other model" if misfit else row.entry.origin)
        row.badge.setToolTip("Made for another model's layer table: it cannot be used with this model"
                             if misfit else "Where this domain comes from")

    def rescan(self) -> None:
        """Add the shipped and library domains not listed yet (problems go to the message bar)."""
        found, problems = known_domains(self._layout)
        self.add_entries([e for e in found if e.key not in self._entries])
        if problems:
            self.message.show_message("Some shipped domains could not be read:\n" + "\n".join(problems), "warning")

    def add_entries(self, entries: Iterable[DomainEntry], enable: bool = False) -> None:
        """Append rows (existing keys are left as they are). Emits nothing."""
        for e in entries:
            if e.key in self._entries:
                continue
            self._entries[e.key] = e
            setting = self._state.settings.setdefault(e.key, DomainSetting(enabled=enable))
            row = DomainRow(e, setting, self.rows_box)
            self._rows[e.key] = row
            self._flag_fit(row)
            self.rows_layout.insertWidget(self.rows_layout.count() - 1, row)
            self._connect_row(e.key, row)
        self.empty_label.setVisible(not self._entries)

    def remove_entry(self, key: str) -> None:
        row = self._rows.pop(key)
        self._entries.pop(key)
        self._state.settings.pop(key, None)
        row.setParent(None)
        row.deleteLater()
        self.empty_label.setVisible(not self._entries)

    # ---- state -------------------------------------------------------------------------------------

    def state(self) -> DomainsState:
        return self._state.copy()

    def set_state(self, state: DomainsState) -> None:
        """Show ``state`` (undo/redo, project load); keys without a row are kept but not shown. Silent."""
        old_enabled = self._enabled_pairs()
        self._state = state.copy()
        for key, row in self._rows.items():
            row.show_setting(self._state.settings.setdefault(key, DomainSetting()))
        self._show_globals()
        if self._enabled_pairs() != old_enabled:
            self.enabledDomainsChanged.emit(self._enabled_pairs())

    def set_weights(self, weights: dict[str, float]) -> None:
        """Set the weights of the given domains (the blend pad drives these). Silent."""
        for key, w in weights.items():
            if key in self._state.settings:
                self._state.settings[key].weight = float(w)
                if key in self._rows:
                    self._rows[key].show_setting(self._state.settings[key])

    def enabled_keys(self) -> list[str]:
        return list(self._state.enabled())

    # ---- import ------------------------------------------------------------------------------------

    def import_paths(self, paths: Iterable[str | Path]) -> tuple[list[DomainEntry], list[str]]:
        """Import usable files (folders expanded); returns the new entries and one line per rejected file."""
        files = expand_folders([Path(p) for p in paths], DOMAIN_SUFFIXES)
        good: list[DomainEntry] = []
        bad: list[str] = []
        if not files:
            bad.append("nothing to import: the drop holds no files")
        for f in files:
            try:
                entry = load_domain_file(f, self._layout)
            except UserError as exc:
                bad.append(str(exc))
                continue
            except (OSError, ValueError, RuntimeError) as exc:  # unexpected reader failures: still one line
                bad.append(f"{f}: {exc}")
                continue
            if entry.key in self._entries or any(g.key == entry.key for g in good):
                bad.append(f"{f}: already in the list")
                continue
            good.append(entry)
        if good:
            self._edit_started("Import domains")
            self.add_entries(good, enable=False)
            self._edit_finished()
            self.domainsImported.emit(good)
        if bad:
            head = f"Imported {len(good)}; could not import:\n" if good else "Could not import:\n"
            more = f"\n… and {len(bad) - 8} more" if len(bad) > 8 else ""
            text = head + "\n".join(bad[:8]) + more
            self.message.show_message(text, "error")
            self.importFailed.emit(text)
        elif good:
            self.message.show_message(f"Imported {', '.join(e.label for e in good)}", "info", timeout_ms=4000)
        return good, bad

    def _ask_import(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Import domains", "",
                                                "Directions (*.safetensors *.pt *.pth);;All files (*)")
        if names:
            self.import_paths(names)

    def paths_dropped(self, paths: list[Path]) -> None:
        self.import_paths(paths)

    # ---- internals ---------------------------------------------------------------------------------

    def _enabled_pairs(self) -> list[tuple[str, str]]:
        return [(k, self._entries[k].label) for k, s in self._state.settings.items()
                if s.enabled and k in self._entries]

    def _edit_started(self, description: str) -> None:
        self._depth += 1
        if self._depth == 1:
            self.editStarted.emit(description)

    def _edit_finished(self) -> None:
        if self._depth == 0:
            return
        self._depth -= 1
        if self._depth == 0:
            self.editFinished.emit()

    def _changed(self) -> None:
        self.settingsChanged.emit(self.state())

    def _connect_row(self, key: str, row: DomainRow) -> None:
        label = row.entry.label

        def toggle(on: bool) -> None:
            def apply() -> None:
                self._state.settings[key].enabled = bool(on)
                row.show_setting(self._state.settings[key])
                self.domainToggled.emit(key, bool(on))
                self.enabledDomainsChanged.emit(self._enabled_pairs())
                self._changed()
            self._framer.single(f"{'Enable' if on else 'Disable'} {label}", apply)

        def weight(value: int) -> None:
            w = value / WEIGHT_SCALE
            self._state.settings[key].weight = w
            row.weight_label.setText(f"{w:+.2f}")
            self.weightChanged.emit(key, w)
            self._changed()

        def preset(_index: int) -> None:
            spec = row.layers.currentData()
            row.range_edit.setVisible(spec == "custom")
            if spec == "custom":
                row.range_edit.setFocus()
                return
            self._framer.single(f"Layers of {label}", lambda: self._apply_layers(key, spec))

        def custom() -> None:
            text = row.range_edit.text().strip()
            problem = self._check_spec(text)
            row.range_edit.setStyleSheet("border: 1px solid #c0392b;" if problem else "")
            row.range_edit.setToolTip(problem or row.range_edit.toolTip())
            if problem:
                self.message.show_message(f"Layer range {text!r}: {problem}", "error")
                return
            self._framer.single(f"Layers of {label}", lambda: self._apply_layers(key, validate_spec(text)))

        row.enable.toggled.connect(toggle)
        self._framer.slider(row.weight, f"Weight of {label}", weight)
        row.layers.currentIndexChanged.connect(preset)
        row.range_edit.editingFinished.connect(custom)

    def _check_spec(self, text: str) -> str:
        if not text:
            return "type a range such as 0-5 or 16px-64px"
        try:
            validate_spec(text)
            if self._layout is not None:
                selected_layers(text, self._layout)
        except UserError as exc:
            return str(exc)
        return ""

    def _apply_layers(self, key: str, spec: str) -> None:
        if self._state.settings[key].layers == spec:
            return
        self._state.settings[key].layers = spec
        self.layersChanged.emit(key, spec)
        self._changed()

    def _apply_strength(self, value: int) -> None:
        self._state.strength = value / 100
        self._show_globals()
        self.strengthChanged.emit(self._state.strength)
        self._changed()

    def _apply_sparsity(self, value: int) -> None:
        self._state.sparsity = value / 100
        self._show_globals()
        self.sparsityChanged.emit(self._state.sparsity)
        self._changed()

    def _show_globals(self) -> None:
        self._quiet += 1
        try:
            self.strength.setValue(round(self._state.strength * 100))
            self.sparsity.setValue(round(self._state.sparsity * 100))
        finally:
            self._quiet -= 1
        self.strength_label.setText(f"{self._state.strength:.2f}×")
        self.sparsity_label.setText(f"{self._state.sparsity * 100:.0f} %")
