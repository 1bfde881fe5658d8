"""Project files (``.sdproj``): one safetensors file holding a whole edit, never a pickle.

Layout (version 1)::

    tensors    w_plus            the source latent, W+ [num_ws, w_dim] as saved (bit-exact), when there is one
               <extra names>     optional per-photo data (e.g. an aligned crop, a paste-back transform)
    metadata   format   = "styledomain.project"
               version  = "1"
               project  = JSON {recipe, files, studio, tensors, saved_at, app}
               checksum = sha256 over the project JSON and every tensor (name, dtype, shape, bytes)

``recipe`` is an :class:`engine.pipeline.recipe.Recipe` (what renders the edit); when the latent is
embedded its ``latent`` is ``{"kind": "file", "file": "#w_plus", ...}`` on disk and becomes an inline
latent again on load. ``files`` lists every file the project refers to (model, directions and deltas,
enabled or not, the photo) by role, name and sha256, with the last path it was seen at; files are found
again by sha256 (:func:`find_project_files`). ``studio`` is front-end state the engine keeps but does not
read. Any change to the file after it was saved fails the checksum.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import torch

from engine.errors import FileProblem
from engine.fileio import read_safetensors, read_safetensors_metadata, require_file, save_safetensors, sniff
from engine.jobs import CancelToken, ProgressFn, check_cancel, report

from .recipe import LatentRef, Recipe

PROJECT_FORMAT = "styledomain.project"
PROJECT_VERSION = 1
PROJECT_SUFFIX = ".sdproj"
#: What a referenced file is for.
FILE_ROLES = ("model", "direction", "delta", "photo", "encoder")
#: The recipe's latent when it lives in the project's ``w_plus`` tensor.
EMBEDDED_LATENT = "#w_plus"
W_PLUS = "w_plus"
_TENSOR_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_SHA256 = re.compile(r"^([0-9a-f]{64})?$")
_BODY_KEYS = {"recipe", "files", "studio", "tensors", "saved_at", "app"}
_FILE_KEYS = {"role", "name", "sha256", "path", "required"}


class ProjectError(FileProblem):
    """A project file that cannot be used (``path: reason``)."""


@dataclass(frozen=True)
class FileRef:
    """A file the project needs (``required``) or may use: found again by ``sha256``; ``path`` is a hint."""

    role: str
    name: str
    sha256: str
    path: str = ""
    required: bool = True

    def describe(self) -> str:
        short = self.sha256[:12] + "..." if self.sha256 else "no sha256"
        return f"{self.role} {self.name!r} (sha256 {short})"


@dataclass
class Project:
    """One edit as saved: the recipe, the latent, the files it refers to and the front-end's own state."""

    recipe: Recipe
    w_plus: torch.Tensor | None = None
    files: list[FileRef] = field(default_factory=list)
    studio: dict = field(default_factory=dict)
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    saved_at: str = ""
    app: str = ""

    def refs(self, role: str) -> list[FileRef]:
        return [f for f in self.files if f.role == role]


# ---- writing ---------------------------------------------------------------------------------------------


def save_project(project: Project, path: str | os.PathLike, *, saved_at: str | None = None) -> Path:
    """Write ``project`` to ``path`` atomically (a failure leaves any earlier file as it was).

    The latent comes from ``project.w_plus``, else from an inline recipe latent. ``saved_at`` defaults to now
    (UTC, ISO 8601). Returns the path.
    """
    recipe, w = _latent_for_saving(project)
    tensors: dict[str, torch.Tensor] = {}
    if w is not None:
        tensors[W_PLUS] = w
    for name, t in project.tensors.items():
        if name == W_PLUS or not _TENSOR_NAME.match(name):
            raise ValueError(f"project tensor name {name!r} is not allowed")
        tensors[name] = t.detach().cpu().contiguous()
    for ref in project.files:
        _check_ref(ref)
    body = {
        "recipe": recipe.to_dict(),
        "files": [vars(f).copy() for f in project.files],
        "studio": project.studio,
        "tensors": sorted(tensors),
        "saved_at": saved_at or datetime.now(UTC).isoformat(timespec="microseconds"),
        "app": project.app,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    meta = {"format": PROJECT_FORMAT, "version": str(PROJECT_VERSION), "project": text,
            "checksum": _checksum(text, tensors)}
    return save_safetensors(tensors, path, meta)


def _latent_for_saving(project: Project) -> tuple[Recipe, torch.Tensor | None]:
    recipe, lat = project.recipe, project.recipe.latent
    w = project.w_plus
    if w is None and lat.kind == "inline":
        w = torch.tensor(lat.w_plus, dtype=torch.float32)
    if w is None:
        return recipe, None
    w = w.detach().cpu().contiguous()
    if w.ndim != 2 or not w.is_floating_point():
        raise ValueError(f"w_plus must be a floating [num_ws, w_dim] tensor, got {w.dtype} {list(w.shape)}")
    digest = hashlib.sha256(_tensor_bytes(w)).hexdigest()
    return replace(recipe, latent=LatentRef("file", file=EMBEDDED_LATENT, sha256=digest)), w


def _check_ref(ref: FileRef) -> None:
    if ref.role not in FILE_ROLES:
        raise ValueError(f"file role {ref.role!r} is not one of {', '.join(FILE_ROLES)}")
    if not _SHA256.match(ref.sha256):
        raise ValueError(f"{ref.describe()}: sha256 must be 64 lower-case hex digits")


def _tensor_bytes(t: torch.Tensor) -> bytes:
    flat = t.detach().cpu().contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""


def _checksum(text: str, tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    h.update(f"{PROJECT_FORMAT}\n".encode())
    h.update(text.encode("utf-8"))
    for name in sorted(tensors):
        t = tensors[name]
        h.update(f"\n{name}:{str(t.dtype).removeprefix('torch.')}:{list(t.shape)}\n".encode())
        h.update(_tensor_bytes(t))
    return h.hexdigest()


# ---- reading ---------------------------------------------------------------------------------------------


def load_project(path: str | os.PathLike) -> Project:
    """Read and check a project file. Anything wrong is one :class:`ProjectError` line naming the file."""
    p = require_file(path, ProjectError)
    kind = sniff(p)
    if kind != "safetensors":
        what = {"zip": "a PyTorch file", "pickle": "a pickle file"}.get(kind, "not a safetensors file")
        raise ProjectError(p, f"not a StyleDomain project ({what})")
    meta = read_safetensors_metadata(p, ProjectError)
    if meta.get("format") != PROJECT_FORMAT:
        raise ProjectError(p, "not a StyleDomain project (a safetensors file of another kind, e.g. a model or a "
                              "direction)")
    _check_version(p, meta.get("version"))
    if "project" not in meta or "checksum" not in meta:
        raise ProjectError(p, "damaged project file (its description or checksum is missing)")
    tensors, _ = read_safetensors(p, ProjectError)
    if _checksum(meta["project"], tensors) != meta["checksum"]:
        raise ProjectError(p, "checksum mismatch: the file was changed or damaged after it was saved")
    return _Reader(p).project(meta["project"], tensors)


def _check_version(p: Path, version: str | None) -> None:
    if version is None:
        raise ProjectError(p, "project has no version; cannot tell how to read it")
    try:
        number = int(version)
    except ValueError:
        raise ProjectError(p, f"project version {version!r} is not a number") from None
    if number > PROJECT_VERSION:
        raise ProjectError(p, f"project version {number} is newer than this program reads ({PROJECT_VERSION}); "
                              "update StyleDomain Studio")
    if number != PROJECT_VERSION:
        raise ProjectError(p, f"project version {number} is not supported (this program reads {PROJECT_VERSION})")


class _Reader:
    """Strict checks of the project JSON, one clear message per problem."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, reason: str):
        raise ProjectError(self.path, reason)

    def project(self, text: str, tensors: dict[str, torch.Tensor]) -> Project:
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):
            self.fail("damaged project file (its description is not valid JSON)")
        if not isinstance(body, dict):
            self.fail("damaged project file (its description is not a JSON object)")
        if set(body) != _BODY_KEYS:
            self.fail(f"project description has fields {sorted(body)}, expected {sorted(_BODY_KEYS)}")
        names = body["tensors"]
        if not isinstance(names, list) or sorted(tensors) != sorted(map(str, names)):
            self.fail(f"project tensors {sorted(tensors)} do not match its description")
        for key in ("studio",):
            if not isinstance(body[key], dict):
                self.fail(f"project {key} must be a JSON object")
        for key in ("saved_at", "app"):
            if not isinstance(body[key], str):
                self.fail(f"project {key} must be a string")
        if not isinstance(body["files"], list):
            self.fail("project files must be a list")
        recipe = Recipe.from_dict(body["recipe"], self.path)
        w = tensors.pop(W_PLUS, None)
        recipe = self.latent(recipe, w)
        files = [self.file_ref(f, i) for i, f in enumerate(body["files"])]
        return Project(recipe, w, files, body["studio"], tensors, body["saved_at"], body["app"])

    def latent(self, recipe: Recipe, w: torch.Tensor | None) -> Recipe:
        lat = recipe.latent
        embedded = lat.kind == "file" and lat.file == EMBEDDED_LATENT
        if w is None:
            if embedded:
                self.fail("the project's latent tensor 'w_plus' is missing")
            return recipe
        if not embedded:
            self.fail("the project has a 'w_plus' tensor but its recipe does not use it")
        if w.ndim != 2 or not w.is_floating_point():
            self.fail(f"the project's latent has shape {list(w.shape)} and dtype {w.dtype}, expected a floating "
                      "[num_ws, w_dim] tensor")
        if not bool(torch.isfinite(w).all()):
            self.fail("the project's latent contains NaN/Inf values")
        return replace(recipe, latent=LatentRef("inline", w_plus=w.tolist()))

    def file_ref(self, d, i: int) -> FileRef:
        where = f"files[{i}]"
        if not isinstance(d, dict) or set(d) != _FILE_KEYS:
            self.fail(f"{where} must be an object with {', '.join(sorted(_FILE_KEYS))}")
        if d["role"] not in FILE_ROLES:
            self.fail(f"{where}.role must be one of {', '.join(FILE_ROLES)}")
        for key in ("name", "sha256", "path"):
            if not isinstance(d[key], str):
                self.fail(f"{where}.{key} must be a string")
        if not _SHA256.match(d["sha256"]):
            self.fail(f"{where}.sha256 must be 64 lower-case hex digits")
        if not isinstance(d["required"], bool):
            self.fail(f"{where}.required must be true or false")
        return FileRef(d["role"], d["name"], d["sha256"], d["path"], d["required"])


# ---- finding the files again -----------------------------------------------------------------------------


@dataclass
class ResolvedFiles:
    """Where each of a project's files was found (index into ``project.files`` -> path) and what was not."""

    project: Project
    found: dict[int, Path] = field(default_factory=dict)

    def path(self, ref: FileRef) -> Path | None:
        for i, f in enumerate(self.project.files):
            if f == ref and i in self.found:
                return self.found[i]
        return None

    @property
    def missing(self) -> list[FileRef]:
        return [f for i, f in enumerate(self.project.files) if i not in self.found]

    @property
    def missing_required(self) -> list[FileRef]:
        return [f for f in self.missing if f.required]

    def missing_message(self) -> str:
        """One line naming every missing required file ('' when none is missing)."""
        gone = self.missing_required
        if not gone:
            return ""
        them = "it" if len(gone) == 1 else "them"
        return (f"missing {', '.join(f.describe() for f in gone)}: import {them} into the model library "
                f"or put {them} next to the project")


def find_project_files(project: Project, project_path: str | os.PathLike | None = None,
                       search_dirs: Sequence[str | os.PathLike] = (), *, progress: ProgressFn | None = None,
                       cancel: CancelToken | None = None) -> ResolvedFiles:
    """Find each referenced file by sha256: at its last-known path, by name next to the project or in
    ``search_dirs``, by content in ``search_dirs``, then in the model library. Never raises for a missing
    file (see :attr:`ResolvedFiles.missing`); a cancel raises :class:`engine.jobs.Cancelled`."""
    from .recipe_render import find_file

    dirs = [Path(d) for d in search_dirs]
    if project_path is not None:
        dirs.insert(0, Path(project_path).resolve().parent)
    dirs = [d for d in dirs if d.is_dir()]
    out = ResolvedFiles(project)
    total = len(project.files)
    for i, ref in enumerate(project.files):
        check_cancel(cancel, "project files")
        report(progress, "project files", i, total, f"looking for {ref.name}")
        found = find_file(ref.sha256, ref.path, None, dirs)
        if found is not None:
            out.found[i] = found
    report(progress, "project files", total, total, "done")
    return out


def require_project_files(project: Project, project_path: str | os.PathLike, search_dirs: Sequence = (), *,
                          progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> ResolvedFiles:
    """:func:`find_project_files`, or a :class:`ProjectError` naming every missing required file."""
    res = find_project_files(project, project_path, search_dirs, progress=progress, cancel=cancel)
    if res.missing_required:
        raise ProjectError(project_path, res.missing_message())
    return res


def project_summary(project: Project) -> dict:
    """Plain facts for ``styledomain project info`` and diagnostics."""
    r = project.recipe
    return {
        "format": PROJECT_FORMAT, "version": PROJECT_VERSION, "saved_at": project.saved_at, "app": project.app,
        "model": {"name": r.generator.name, "sha256": r.generator.sha256,
                  "layout_fingerprint": r.generator.layout_fingerprint},
        "latent": ({"kind": "seed", "seed": r.latent.seed} if project.w_plus is None
                   else {"kind": "w_plus", "shape": list(project.w_plus.shape),
                         "dtype": str(project.w_plus.dtype).removeprefix("torch.")}),
        "directions": [{"name": d.name, "weight": d.weight, "layers": d.layers} for d in r.directions],
        "param_deltas": [{"name": d.name, "weight": d.weight} for d in r.param_deltas],
        "strength": r.strength, "psi": r.psi,
        "files": [vars(f).copy() for f in project.files],
        "tensors": {k: list(v.shape) for k, v in sorted(project.tensors.items())},
    }


__all__ = [
    "EMBEDDED_LATENT", "FILE_ROLES", "PROJECT_FORMAT", "PROJECT_SUFFIX", "PROJECT_VERSION", "FileRef", "Project",
    "ProjectError", "ResolvedFiles", "find_project_files", "load_project", "project_summary",
    "require_project_files", "save_project",
]
