"""The observable edit state of the studio, with undo/redo.

:class:`EditState` is an immutable snapshot (model, source latent, directions, deltas, strength, pad
position, view); :class:`Document` holds the current one, emits change signals per part, and pushes
every change onto a :class:`QUndoStack`. Changes made under one *gesture* (a slider or puck drag) merge
into one undo step. ``to_recipe`` / ``state_from_recipe`` convert to and from
:class:`engine.pipeline.recipe.Recipe`, so an export embeds the whole edit and a dropped recipe
restores it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.pipeline.recipe import DeltaRef, DirectionRef, GeneratorRef, LatentRef, Recipe, SourcePhoto
from engine.pipeline.recipe_render import file_hint

from .worker.requests import DeltaSpec, DirectionSpec, RenderSpec


@dataclass(frozen=True)
class ModelInfo:
    path: str
    name: str
    sha256: str
    layout_fingerprint: str
    size: int
    is_demo: bool = False
    resolutions: tuple[int, ...] = ()


@dataclass(frozen=True)
class DirectionSlot:
    """A direction in the edit (enabled or not): file, identity, weight and layer range."""

    path: str
    name: str
    sha256: str
    enabled: bool = True
    weight: float = 1.0
    layers: str = "all"
    style_mix: float = 0.0


@dataclass(frozen=True)
class DeltaSlot:
    path: str
    name: str
    sha256: str
    enabled: bool = True
    weight: float = 1.0


@dataclass(frozen=True, eq=False)
class Source:
    """Where the latent comes from: a seed, or a photo's inversion (``w_plus`` CPU [num_ws, w_dim])."""

    kind: str = "seed"  # "seed" | "photo" | "latent"
    seed: int | None = 0
    w_plus: torch.Tensor | None = None
    photo_path: str | None = None
    photo_sha256: str = ""
    alignment: dict | None = None
    face_index: int | None = None
    inversion: dict | None = None

    @property
    def label(self) -> str:
        if self.kind == "seed":
            return f"seed {self.seed}"
        return Path(self.photo_path).name if self.photo_path else "latent"


@dataclass(frozen=True, eq=False)
class EditState:
    model: ModelInfo | None = None
    source: Source = field(default_factory=Source)
    directions: tuple[DirectionSlot, ...] = ()
    deltas: tuple[DeltaSlot, ...] = ()
    strength: float = 1.0
    psi: float = 1.0
    pad: tuple[float, float] | None = None
    paste_back: bool = False
    pad_anchors: tuple[tuple[str, float, float], ...] = ()  # (domain path, x, y) as arranged on the pad
    keep: float = 1.0  # fraction of each direction's channels kept (the Domains panel's sparsity = 1 - keep)

    def render_spec(self) -> RenderSpec | None:
        """What the worker renders for this state (None without a model)."""
        if self.model is None:
            return None
        s = self.source
        return RenderSpec(
            self.model.path, s.seed if s.w_plus is None else None, s.w_plus,
            tuple(DirectionSpec(d.path, d.weight, d.layers, d.style_mix) for d in self.directions if d.enabled),
            tuple(DeltaSpec(d.path, d.weight) for d in self.deltas if d.enabled),
            self.strength, self.psi, photo_path=s.photo_path, alignment=s.alignment, keep=self.keep)


def to_recipe(state: EditState, relative_to: Path | None = None) -> Recipe:
    """The recipe of ``state``; file hints relative to the folder of ``relative_to`` (the exported file)."""
    if state.model is None:
        raise ValueError("no model")
    m, s = state.model, state.source
    gen = GeneratorRef(m.name, m.sha256, m.layout_fingerprint, file_hint(m.path, relative_to))
    if s.w_plus is not None:
        latent = LatentRef("inline", w_plus=s.w_plus.detach().float().cpu().tolist())
    else:
        latent = LatentRef("seed", seed=int(s.seed or 0))
    source = None
    if s.kind == "photo" and s.photo_sha256:
        source = SourcePhoto(s.photo_sha256, s.alignment, s.face_index, s.inversion)
    dirs = [DirectionRef(d.name, d.sha256, file_hint(d.path, relative_to), d.weight, d.layers, d.style_mix)
            for d in state.directions if d.enabled]
    deltas = [DeltaRef(d.name, d.sha256, file_hint(d.path, relative_to), d.weight) for d in state.deltas if d.enabled]
    studio = _studio_pad(state)
    return Recipe(gen, latent, dirs, deltas, strength=state.strength, psi=state.psi,
                  noise_seed=int(s.seed or 0) if s.w_plus is None else 0, paste_back=state.paste_back,
                  source=source, studio=studio, keep=state.keep)


def _studio_pad(state: EditState) -> dict | None:
    """The recipe's ``studio`` field: ``{"pad": {"puck": [u, v], "anchors": [{"sha256", "pos"}]}}`` or None."""
    pad: dict = {}
    if state.pad is not None:
        pad["puck"] = [float(state.pad[0]), float(state.pad[1])]
    sha = {d.path: d.sha256 for d in state.directions + state.deltas if d.enabled}
    anchors = [{"sha256": sha[k], "pos": [float(x), float(y)]} for k, x, y in state.pad_anchors if k in sha]
    if anchors:
        pad["anchors"] = anchors
    return {"pad": pad} if pad else None


def anchors_from_recipe(recipe: Recipe, state: EditState) -> tuple[tuple[str, float, float], ...]:
    """The blend-pad anchor positions in a recipe's ``studio`` field, keyed by the path of the domain of
    ``state`` with the same sha256 (malformed or unknown entries are skipped)."""
    pad = (recipe.studio or {}).get("pad") if isinstance(recipe.studio, dict) else None
    items = pad.get("anchors") if isinstance(pad, dict) else None
    if not isinstance(items, list):
        return ()
    by_sha = {d.sha256: d.path for d in state.directions + state.deltas}
    out = []
    for a in items:
        pos = a.get("pos") if isinstance(a, dict) else None
        if (not isinstance(pos, list) or len(pos) != 2 or not all(isinstance(v, (int, float)) for v in pos)
                or a.get("sha256") not in by_sha):
            continue
        out.append((by_sha[a["sha256"]], min(1.0, max(0.0, float(pos[0]))), min(1.0, max(0.0, float(pos[1])))))
    return tuple(out)


def pad_from_recipe(recipe: Recipe) -> tuple[float, float] | None:
    """The blend-pad puck stored in a recipe's ``studio`` field (None when absent or malformed)."""
    puck = ((recipe.studio or {}).get("pad") or {}).get("puck") if isinstance(recipe.studio, dict) else None
    if not isinstance(puck, list) or len(puck) != 2 or not all(isinstance(v, (int, float)) for v in puck):
        return None
    return (min(1.0, max(0.0, float(puck[0]))), min(1.0, max(0.0, float(puck[1]))))


class _StateCommand(QUndoCommand):
    """Swap two snapshots; commands of one gesture merge."""

    ID = 4242

    def __init__(self, doc: Document, old: EditState, new: EditState, text: str, gesture: object | None):
        super().__init__(text)
        self.doc, self.old, self.new, self.gesture = doc, old, new, gesture
        self._first = True

    def id(self) -> int:  # noqa: A003 - Qt API
        return self.ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt API
        if not isinstance(other, _StateCommand) or self.gesture is None or other.gesture != self.gesture:
            return False
        self.new = other.new
        return True

    def redo(self) -> None:
        if self._first:  # the document already holds ``new`` when the command is pushed
            self._first = False
            return
        self.doc._apply(self.new)

    def undo(self) -> None:
        self.doc._apply(self.old)


class Document(QObject):
    """The current edit. Change it only through these methods (each is one undo step)."""

    changed = Signal(object)  # EditState (any change)
    model_changed = Signal(object)  # ModelInfo | None
    source_changed = Signal(object)  # Source
    directions_changed = Signal(object)  # tuple[DirectionSlot, ...]
    deltas_changed = Signal(object)  # tuple[DeltaSlot, ...]
    strength_changed = Signal(float)
    pad_changed = Signal(object)  # (u, v) | None
    view_changed = Signal(bool)  # paste_back
    gesture_finished = Signal()  # a drag ended: time for the full-resolution render

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state = EditState()
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setObjectName("undoStack")
        self._gestures = itertools.count(1)
        self._gesture: int | None = None

    @property
    def state(self) -> EditState:
        return self._state

    # ---- gestures: one drag = one undo step ------------------------------------------------------
    def begin_gesture(self) -> int:
        """Start a drag: every change until :meth:`end_gesture` merges into one undo step."""
        self._gesture = next(self._gestures)
        return self._gesture

    def end_gesture(self) -> None:
        if self._gesture is not None:
            self._gesture = None
            self.gesture_finished.emit()

    @property
    def in_gesture(self) -> bool:
        return self._gesture is not None

    # ---- generic change --------------------------------------------------------------------------
    def set_state(self, new: EditState, text: str = "Edit", undoable: bool = True) -> None:
        old = self._state
        self._apply(new)
        if undoable:
            self.undo_stack.push(_StateCommand(self, old, new, text, self._gesture))

    def reset(self, new: EditState) -> None:
        """Replace the state and clear the history (a new document)."""
        self._apply(new)
        self.undo_stack.clear()

    def _apply(self, new: EditState) -> None:
        old, self._state = self._state, new
        if old.model != new.model:
            self.model_changed.emit(new.model)
        if old.source is not new.source:
            self.source_changed.emit(new.source)
        if old.directions != new.directions:
            self.directions_changed.emit(new.directions)
        if old.deltas != new.deltas:
            self.deltas_changed.emit(new.deltas)
        if old.strength != new.strength or old.keep != new.keep:
            self.strength_changed.emit(new.strength)
        if old.pad != new.pad or old.pad_anchors != new.pad_anchors:
            self.pad_changed.emit(new.pad)
        if old.paste_back != new.paste_back:
            self.view_changed.emit(new.paste_back)
        self.changed.emit(new)

    # ---- convenience setters ---------------------------------------------------------------------
    def set_model(self, model: ModelInfo) -> None:
        self.set_state(replace(self._state, model=model), f"Open model {model.name}")

    def set_source(self, source: Source) -> None:
        self.set_state(replace(self._state, source=source), f"Open {source.label}")

    def set_strength(self, value: float) -> None:
        self.set_state(replace(self._state, strength=float(value)), "Strength")

    def set_keep(self, value: float) -> None:
        """The fraction of each direction's channels kept (magnitude pruning), in (0, 1]."""
        self.set_state(replace(self._state, keep=min(1.0, max(0.01, float(value)))), "Sparsity")

    def set_psi(self, value: float) -> None:
        self.set_state(replace(self._state, psi=float(value)), "Truncation")

    def set_paste_back(self, on: bool) -> None:
        self.set_state(replace(self._state, paste_back=bool(on)), "View", undoable=False)

    def set_pad(self, pad: tuple[float, float] | None, weights: dict[str, float] | None = None,
                anchors: tuple[tuple[str, float, float], ...] | None = None) -> None:
        """Move the blend-pad puck; ``weights`` (direction or delta path -> weight; every enabled domain is
        an anchor on the pad) and ``anchors`` ((path, x, y): the pad's arrangement; None keeps it) are applied
        in the same step."""
        dirs, deltas = self._state.directions, self._state.deltas
        if weights:
            dirs = tuple(replace(d, weight=float(weights[d.path])) if d.path in weights else d for d in dirs)
            deltas = tuple(replace(d, weight=float(weights[d.path])) if d.path in weights else d for d in deltas)
        new = replace(self._state, pad=pad, directions=dirs, deltas=deltas)
        if anchors is not None:
            new = replace(new, pad_anchors=tuple((str(k), float(x), float(y)) for k, x, y in anchors))
        self.set_state(new, "Blend")

    def add_direction(self, slot: DirectionSlot) -> None:
        if any(d.path == slot.path for d in self._state.directions):
            self.update_direction(slot.path, enabled=True)
            return
        self.set_state(replace(self._state, directions=self._state.directions + (slot,)), f"Add {slot.name}")

    def update_direction(self, path: str, **changes) -> None:
        """Change fields (enabled, weight, layers, style_mix) of the direction with this path."""
        dirs = tuple(replace(d, **changes) if d.path == path else d for d in self._state.directions)
        what = ", ".join(sorted(changes))
        self.set_state(replace(self._state, directions=dirs), f"Direction {what}")

    def remove_direction(self, path: str) -> None:
        dirs = tuple(d for d in self._state.directions if d.path != path)
        self.set_state(replace(self._state, directions=dirs), "Remove direction")

    def add_delta(self, slot: DeltaSlot) -> None:
        if any(d.path == slot.path for d in self._state.deltas):
            return
        self.set_state(replace(self._state, deltas=self._state.deltas + (slot,)), f"Add {slot.name}")

    def update_delta(self, path: str, **changes) -> None:
        deltas = tuple(replace(d, **changes) if d.path == path else d for d in self._state.deltas)
        self.set_state(replace(self._state, deltas=deltas), "Delta")

    def remove_delta(self, path: str) -> None:
        self.set_state(replace(self._state, deltas=tuple(d for d in self._state.deltas if d.path != path)),
                       "Remove delta")

    def to_recipe(self, relative_to: Path | None = None) -> Recipe:
        return to_recipe(self._state, relative_to)
