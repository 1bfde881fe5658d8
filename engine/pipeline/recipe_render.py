"""Reproduce a recipe: find its files, rebuild the latent, render bit-identically.

Files named by a recipe are found, in order, at: an explicit path from the caller, the recipe's
``file`` hint (relative to the recipe's folder, or absolute), the same file name in each search
folder, then any file in a search folder whose sha256 matches. A file found through a hint or a
search must have the recipe's sha256; a missing one is reported by name and hash (and, for the
model, layout fingerprint).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from engine.checkpoints import LoadedGenerator, load_generator
from engine.domains.blend import DirectionTerm, build_edit
from engine.domains.direction import Direction, load_direction
from engine.domains.param_delta import ParamDelta, load_param_delta
from engine.errors import FileProblem, UserError
from engine.fileio import sha256_of
from engine.stylespace import layout_fingerprint, style_layout

from .edit import DeltaTerm, Edit, render_edit_image
from .latent_file import load_latent_file
from .recipe import DeltaRef, DirectionRef, GeneratorRef, LatentRef, Recipe, SourcePhoto

SEARCH_SUFFIXES = (".pt", ".pth", ".pkl", ".safetensors", ".npy")


def find_file(sha256: str, hint: str, base_dir: Path | None, search_dirs: Sequence[Path],
              mismatched: list[Path] | None = None) -> Path | None:
    """Locate a file by hint and sha256 (see module docstring); None when nowhere.

    Files found by name whose sha256 differs are appended to ``mismatched`` (for the error message).
    """
    candidates: list[Path] = []
    if hint:
        h = Path(hint)
        if h.is_absolute():
            candidates.append(h)
        elif base_dir is not None:
            candidates.append(base_dir / h)
        candidates += [Path(d) / h.name for d in search_dirs]
    for c in candidates:
        if not c.is_file():
            continue
        if not sha256 or sha256_of(c) == sha256:
            return c
        if mismatched is not None:
            mismatched.append(c)
    if sha256:
        for d in search_dirs:
            for c in sorted(Path(d).glob("*")):
                if c.suffix.lower() in SEARCH_SUFFIXES and c.is_file() and sha256_of(c) == sha256:
                    return c
        from engine.library import find_by_sha256  # last: the user's model library (and the built-ins)

        return find_by_sha256(sha256)
    return None


def find_required(what: str, sha256: str, hint: str, base_dir: Path | None, search_dirs: Sequence[Path],
                  advice: str) -> Path:
    """:func:`find_file`, or a :class:`UserError` naming ``what``, its sha256, a same-name file with
    other contents if one was seen, and ``advice``."""
    mismatched: list[Path] = []
    path = find_file(sha256, hint, base_dir, search_dirs, mismatched)
    if path is None:
        other = f"; {mismatched[0]} has other contents (sha256 differs)" if mismatched else ""
        raise UserError(f"{what} (sha256 {_short(sha256)}) not found{other}: {advice}")
    return path


def _short(sha: str) -> str:
    return sha[:12] + "..." if len(sha) > 12 else sha or "unknown"


def resolve_model(ref: GeneratorRef, base_dir: Path | None, search_dirs: Sequence[Path],
                  explicit: str | os.PathLike | None = None, device: str = "cpu") -> tuple[LoadedGenerator, list[str]]:
    """Load the recipe's generator; returns it and notes (e.g. "different weights than recorded")."""
    notes: list[str] = []
    path = _explicit_model(explicit) if explicit else find_required(
        f"model {ref.name!r} (layout fingerprint {ref.layout_fingerprint})", ref.sha256, ref.file, base_dir,
        search_dirs, "pass --model FILE or put it next to the recipe")
    loaded = load_generator(path, device=device)
    fp = layout_fingerprint(style_layout(loaded.generator.config))
    if fp != ref.layout_fingerprint:
        raise FileProblem(path, f"model layout {fp} does not match the recipe's model {ref.name!r} "
                                f"(layout fingerprint {ref.layout_fingerprint})")
    if ref.sha256 and loaded.sha256 != ref.sha256:
        notes.append(f"model {path.name} is not the recipe's {ref.name!r} (sha256 {_short(ref.sha256)}): "
                     "same layer table, so the edit applies, but the image will differ")
    return loaded, notes


def _explicit_model(text: str | os.PathLike) -> Path:
    """``--model``: a file path, or a generator's name in the model library (the CLI's one resolver)."""
    from engine.library import resolve

    return resolve(text, "generator")


def resolve_direction(ref: DirectionRef, base_dir: Path | None, search_dirs: Sequence[Path]) -> tuple[Direction, Path]:
    path = find_required(f"direction {ref.name!r}", ref.sha256, ref.file, base_dir, search_dirs,
                         "put it next to the recipe or pass --search DIR")
    d = load_direction(path)
    if ref.style_mix and d.style_latents is None:
        raise FileProblem(path, f"the recipe mixes style latents from direction {ref.name!r}, which has none")
    return d, path


def resolve_delta(ref: DeltaRef, base_dir: Path | None, search_dirs: Sequence[Path]) -> tuple[ParamDelta, Path]:
    path = find_required(f"parameter delta {ref.name!r}", ref.sha256, ref.file, base_dir, search_dirs,
                         "put it next to the recipe or pass --search DIR")
    return load_param_delta(path), path


def check_latent_fits(w_plus: torch.Tensor, loaded: LoadedGenerator, origin: str | os.PathLike) -> None:
    cfg = loaded.generator.config
    if tuple(w_plus.shape) != (cfg.num_ws, cfg.style_dim):
        raise FileProblem(origin, f"latent has shape {list(w_plus.shape)}, this model needs "
                                  f"[{cfg.num_ws}, {cfg.style_dim}]")


@dataclass
class ResolvedRecipe:
    recipe: Recipe
    loaded: LoadedGenerator
    directions: list[tuple[DirectionRef, Direction, Path]] = field(default_factory=list)
    deltas: list[tuple[DeltaRef, ParamDelta, Path]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    base_dir: Path | None = None
    search_dirs: list[Path] = field(default_factory=list)


def resolve_recipe(recipe: Recipe, recipe_path: str | os.PathLike | None = None,
                   model: str | os.PathLike | None = None, search_dirs: Sequence[str | os.PathLike] = (),
                   device: str = "cpu") -> ResolvedRecipe:
    base = Path(recipe_path).resolve().parent if recipe_path else None
    dirs = [Path(d) for d in search_dirs]
    loaded, notes = resolve_model(recipe.generator, base, dirs, model, device)
    res = ResolvedRecipe(recipe, loaded, notes=notes, base_dir=base, search_dirs=dirs)
    layout = style_layout(loaded.generator.config)
    for ref in recipe.directions:
        d, p = resolve_direction(ref, base, dirs)
        build_edit([DirectionTerm(d, ref.weight, ref.layers, str(p))], layout)  # fit + mask check up front
        res.directions.append((ref, d, p))
    for ref in recipe.param_deltas:
        delta, p = resolve_delta(ref, base, dirs)
        res.deltas.append((ref, delta, p))
    return res


def recipe_latent(res: ResolvedRecipe, override: torch.Tensor | None = None) -> torch.Tensor | None:
    """The untruncated W+ [num_ws, w_dim] from the override, inline data or sidecar; None for seeds."""
    lat: LatentRef = res.recipe.latent
    if override is not None:
        return override
    if lat.kind == "seed":
        return None
    if lat.kind == "inline":
        w = torch.tensor(lat.w_plus, dtype=torch.float32)
        check_latent_fits(w, res.loaded, "recipe latent")
        return w
    path = find_required(f"latent file {lat.file!r}", lat.sha256, lat.file, res.base_dir, res.search_dirs,
                         "put it next to the recipe")
    w = load_latent_file(path)
    check_latent_fits(w, res.loaded, path)
    return w


def file_hint(target: str | os.PathLike, relative_to: str | os.PathLike | None) -> str:
    """Where a recipe written at ``relative_to`` should look for ``target``: a path relative to the
    recipe's folder, or absolute (no ``relative_to``, or another drive on Windows)."""
    target = Path(target).resolve()
    if relative_to is None:
        return str(target)
    try:
        return os.path.relpath(target, Path(relative_to).resolve().parent)
    except ValueError:
        return str(target)


def generator_ref(loaded: LoadedGenerator, relative_to: str | os.PathLike | None = None) -> GeneratorRef:
    """The recipe entry of a loaded generator (name, sha256, layout fingerprint, file hint)."""
    return GeneratorRef(loaded.name, loaded.sha256, layout_fingerprint(style_layout(loaded.generator.config)),
                        file_hint(loaded.path, relative_to))


def _file_sha(sha: str, origin: str, what: str) -> str:
    if sha:
        return sha
    if not origin:
        raise UserError(f"{what} has no file, so a recipe cannot refer to it; save it to a file first")
    return sha256_of(origin)


def recipe_for_edit(loaded: LoadedGenerator, edit: Edit, latent: LatentRef, *,
                    relative_to: str | os.PathLike | None = None, size: int | None = None,
                    noise_mode: str = "const", noise_seed: int = 0, paste_back: bool = False,
                    source: SourcePhoto | None = None) -> Recipe:
    """The recipe that reproduces ``edit`` of ``latent`` on ``loaded``.

    File hints are relative to the folder of ``relative_to`` (the recipe or the PNG that will carry it;
    None = absolute paths). Terms without a ``sha256`` have their ``origin`` file hashed.
    """
    dirs = [DirectionRef(t.direction.name, _file_sha(t.sha256, t.origin, f"direction {t.direction.name!r}"),
                         file_hint(t.origin, relative_to) if t.origin else "", t.weight, t.layers, t.style_mix)
            for t in edit.directions]
    deltas = [DeltaRef(d.delta.name, _file_sha(d.sha256, d.origin, f"parameter delta {d.delta.name!r}"),
                       file_hint(d.origin, relative_to) if d.origin else "", d.weight) for d in edit.deltas]
    return Recipe(generator_ref(loaded, relative_to), latent, dirs, deltas, strength=edit.strength, psi=edit.psi,
                  cutoff=edit.cutoff, noise_mode=noise_mode, noise_seed=noise_seed, size=size,
                  paste_back=paste_back, source=source, keep=edit.keep)


def resolved_edit(res: ResolvedRecipe) -> Edit:
    """The recipe's directions, deltas, strength and truncation as an :class:`Edit`."""
    r = res.recipe
    return Edit(
        directions=tuple(DirectionTerm(d, ref.weight, ref.layers, str(p), ref.style_mix, ref.sha256)
                         for ref, d, p in res.directions),
        deltas=tuple(DeltaTerm(delta, ref.weight, str(p), ref.sha256) for ref, delta, p in res.deltas),
        strength=r.strength, psi=r.psi, cutoff=r.cutoff, keep=r.keep)


def render_kwargs(recipe: Recipe) -> dict:
    """The recipe's output settings as keyword arguments of :func:`render_edit_image`."""
    return {"size": recipe.size, "noise_mode": recipe.noise_mode, "noise_seed": recipe.noise_seed}


def render_resolved(res: ResolvedRecipe, w_plus: torch.Tensor | None = None) -> Image.Image:
    """Render the recipe; ``w_plus`` (untruncated [num_ws, w_dim]) replaces the recipe's latent."""
    r = res.recipe
    w = recipe_latent(res, w_plus)
    if w is None and r.latent.seed is None:
        raise UserError("recipe has no latent and none was given")
    latent = int(r.latent.seed) if w is None else w
    return render_edit_image(res.loaded.generator, latent, resolved_edit(res), **render_kwargs(r))
