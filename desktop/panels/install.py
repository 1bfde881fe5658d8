"""Put the Domains, Blend pad and Adapt panels into the studio window and bind them to its Document.

The Document is the one source of truth: panel edits go through it (so they are undoable; one slider or
puck drag is one undo step through ``begin_gesture``/``end_gesture``), and every Document change is shown
back in the panels silently (``set_state``). Previews follow from the window's own ``changed`` handling.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from PySide6.QtCore import QObject

from desktop.document import DeltaSlot, DirectionSlot, EditState
from desktop.panels.adapt import AdaptPanel
from desktop.panels.blend_pad_panel import BlendPadPanel
from desktop.panels.domain_sources import DomainEntry
from desktop.panels.domains import DomainSetting, DomainsPanel
from desktop.widgets.blend_pad import Anchor
from engine.fileio import sha256_of

log = logging.getLogger("desktop.panels")

#: installers other modules provide; a missing module is skipped silently
OPTIONAL_INSTALLERS = [
    ("desktop.panels.batch_dialog", "install_batch_dialog"),
    ("desktop.panels.models_dialog", "install_model_manager"),
    ("desktop.panels.settings_dialog", "install_settings"),
    ("desktop.project_actions", "install_project"),
]


class PanelBinding(QObject):
    """Connects the panels to ``window.document`` both ways (see the module docstring)."""

    def __init__(self, window: Any, domains: DomainsPanel, pad: BlendPadPanel, adapt: AdaptPanel) -> None:
        super().__init__(window)
        self.window, self.doc = window, window.document
        self.domains, self.pad, self.adapt = domains, pad, adapt
        self._pad_drag = False
        d = self.doc
        domains.editStarted.connect(lambda _text: d.begin_gesture())
        domains.editFinished.connect(d.end_gesture)
        domains.domainToggled.connect(self._toggled)
        domains.weightChanged.connect(self._weight)
        domains.layersChanged.connect(self._layers)
        domains.strengthChanged.connect(d.set_strength)
        domains.sparsityChanged.connect(lambda sparsity: d.set_keep(1.0 - sparsity))
        domains.enabledDomainsChanged.connect(pad.set_anchors)
        domains.enabledDomainsChanged.connect(lambda _pairs: self._show_anchors())
        w = pad.pad
        w.dragStarted.connect(self._pad_started)
        w.dragFinished.connect(self._pad_finished)
        w.puckMoved.connect(lambda _x, _y: self._pad_moved())
        w.anchorMoved.connect(lambda _k, _x, _y: self._pad_moved())
        pad.morphExportRequested.connect(self.export_morph)
        d.directions_changed.connect(lambda _v: self.show_document())
        d.deltas_changed.connect(lambda _v: self.show_document())
        d.strength_changed.connect(lambda _v: self.show_document())
        d.model_changed.connect(self._model_changed)
        d.pad_changed.connect(self._show_pad)
        adapt.set_runner(window.client)
        adapt.domainCreated.connect(self.add_created_domain)
        self.show_document()

    # ---- panel -> document -------------------------------------------------------------------------
    def _slot(self, key: str):
        st = self.doc.state
        for s in st.directions + st.deltas:
            if s.path == key:
                return s
        return None

    def _toggled(self, key: str, on: bool) -> None:
        """Enable/disable a domain; the enabled domains then take the pad's blend weights (what its readout
        shows), in the same undo step when called inside the panel's edit frame."""
        entry = self.domains.entry(key)
        slot = self._slot(key)
        is_delta = entry.kind == "param_delta"
        self._lay_out_pad(key, on)
        if slot is not None:
            (self.doc.update_delta if is_delta else self.doc.update_direction)(key, enabled=on)
            self._blend_from_pad()
            return
        if not on:
            return
        setting = self.domains.state().settings.get(key, DomainSetting())
        sha = sha256_of(entry.path or key)
        if is_delta:
            self.doc.add_delta(DeltaSlot(key, entry.label, sha, True, setting.weight))
        else:
            self.doc.add_direction(DirectionSlot(key, entry.label, sha, True, setting.weight, setting.layers))
        self._blend_from_pad()

    def _lay_out_pad(self, key: str, on: bool) -> None:
        """Put the anchors of the enabled domains (with ``key`` switched ``on``/off) on the pad now, so that
        its weights can go into the same edit step."""
        ds = self.domains.state()
        if key in ds.settings:
            ds.settings[key].enabled = on
        labels = {e.key: e.label for e in self.domains.entries()}
        self.pad.set_anchors([(k, labels[k]) for k, s in ds.settings.items() if s.enabled and k in labels])
        self._show_anchors()

    def _blend_from_pad(self) -> None:
        """Give the enabled domains the weights the pad shows for its (just re-laid-out) anchors."""
        weights = self.pad.pad.weights()
        st = self.doc.state
        used = {s.path: s.weight for s in st.directions + st.deltas if s.enabled}
        if weights and any(abs(used.get(k, float("nan")) - w) > 1e-12 or k not in used for k, w in weights.items()):
            self.doc.set_pad(st.pad, weights)

    def _weight(self, key: str, w: float) -> None:
        slot = self._slot(key)
        if slot is not None:
            (self.doc.update_delta if isinstance(slot, DeltaSlot) else self.doc.update_direction)(key, weight=w)

    def _layers(self, key: str, spec: str) -> None:
        if isinstance(self._slot(key), DirectionSlot):
            self.doc.update_direction(key, layers=spec)

    def _pad_started(self, _kind: str) -> None:
        self._pad_drag = True
        self.doc.begin_gesture()

    def _pad_finished(self, _kind: str) -> None:
        self._pad_drag = False
        self.doc.end_gesture()

    def _pad_moved(self) -> None:
        if not self._pad_drag:
            return
        w = self.pad.pad
        self.doc.set_pad(w.puck(), w.weights(), tuple((a.key, *a.pos) for a in w.anchors()))

    # ---- document -> panels ------------------------------------------------------------------------
    def show_document(self, state: EditState | None = None) -> None:
        """Show the Document's domains and strength in the panel (adds rows for unknown files). Silent."""
        st = state or self.doc.state
        known = {e.key for e in self.domains.entries()}
        new = [DomainEntry(s.path, s.name, "param_delta" if isinstance(s, DeltaSlot) else "direction", s.path,
                           "opened") for s in st.directions + st.deltas if s.path not in known]
        if new:
            self.domains.add_entries(new)
        ds = self.domains.state()
        slots = {s.path: s for s in st.directions + st.deltas}
        for key, setting in ds.settings.items():
            s = slots.get(key)
            if s is None:
                setting.enabled = False
            else:
                setting.enabled, setting.weight = s.enabled, s.weight
                setting.layers = getattr(s, "layers", setting.layers)
        ds.strength = st.strength
        ds.sparsity = round(1.0 - st.keep, 2)
        self.domains.set_state(ds)

    def _show_pad(self, pad: Any) -> None:
        if not self._pad_drag:
            self._show_anchors()
            self.pad.pad.set_puck(*(pad or (0.5, 0.5)))

    def _show_anchors(self) -> None:
        """Put the pad's anchors where the Document has them (the others keep their default places). Silent."""
        if self._pad_drag:
            return
        stored = {k: (x, y) for k, x, y in self.doc.state.pad_anchors}
        current = self.pad.pad.anchors()
        if any(a.key in stored and a.pos != stored[a.key] for a in current):
            self.pad.set_anchors([Anchor(a.key, a.label, stored.get(a.key, a.pos)) for a in current])

    def _model_changed(self, info: Any) -> None:
        self.adapt.model_path = info.path if info is not None else None
        if info is None:
            return
        from engine.library.location import default_library_dir

        self.adapt.output_dir = default_library_dir() / "adapted"
        path = info.path

        store = self.window.client.worker.store  # used only inside the task, on the worker thread

        def read_layout():
            from engine.stylespace import style_layout

            return style_layout(store.generator(path).generator.config)

        # quiet work, not a job: no job bar, and quitting in the first seconds asks nothing about it
        self.window.client.run_in_background("Read model layout", read_layout, on_done=self.domains.set_model_layout)

    def export_morph(self, request: Any) -> int | None:
        """Render the pad's recorded path as an animation on the worker (progress in the job bar)."""
        from desktop.panels.morph_export import morph_job

        spec = self.doc.state.render_spec()
        if spec is None:
            self.window.show_message("Open a model before exporting a morph.", "error")
            return None
        return self.window.client.submit(
            f"Morph {len(request.path)} points -> {request.frames} frames", morph_job(spec, request),
            on_done=lambda out: self.window.show_message(f"Exported the morph animation {out}", "ok"))

    def add_created_domain(self, path: str) -> None:
        """A domain the Adapt panel made: list it and enable it (one undo step)."""
        good, _bad = self.domains.import_paths([path])
        if good:
            self.doc.begin_gesture()
            try:
                self._toggled(good[0].key, True)
            finally:
                self.doc.end_gesture()
        else:
            self.window.show_message(f"The new domain {path} could not be added", "error")


def run_optional_installers(window: Any) -> list[str]:
    """Call each of :data:`OPTIONAL_INSTALLERS` that exists; returns the names installed."""
    done = []
    for module, func in OPTIONAL_INSTALLERS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue
            log.exception("installer %s failed to import", module)
            window.show_message(f"{module} failed to load: {exc}", "error")
            continue
        except Exception as exc:  # a broken optional part must not keep the studio from starting
            log.exception("installer %s failed to import", module)
            window.show_message(f"{module} failed to load: {exc}", "error")
            continue
        fn = getattr(mod, func, None)
        if fn is None:
            continue
        try:
            fn(window)
            done.append(f"{module}.{func}")
        except Exception as exc:
            log.exception("installer %s.%s failed", module, func)
            window.show_message(f"{module}: {exc}", "error")
    return done


def install(window: Any) -> PanelBinding:
    """Create the panels, add them to ``window`` and bind them to its Document and worker client."""
    domains = DomainsPanel(window)
    pad = BlendPadPanel(window)
    adapt = AdaptPanel(window)
    window.add_panel("domains", domains, "Domains")
    window.add_panel("blendPad", pad, "Blend pad")
    window.add_panel("adapt", adapt, "Adapt")
    window.panels["domains"].raise_()
    binding = PanelBinding(window, domains, pad, adapt)
    window.panel_binding = binding
    run_optional_installers(window)
    return binding
