"""Edit recipes: a versioned JSON document that fully describes one edit.

Version 1 (``{"format": "styledomain.recipe", "version": 1, ...}``)::

    generator    {name, sha256, layout_fingerprint, file}   file = path hint (relative to the recipe)
    source       null | {photo_sha256, alignment (object from the alignment step), face_index,
                         inversion (object: encoder, steps, aligned, ...)}
    latent       {"kind": "seed", "seed": N}                          NVIDIA generate.py z of seed N
               | {"kind": "inline", "w_plus": [[...] * w_dim] * num_ws}  W+ before truncation
               | {"kind": "file", "file": "x.npy", "sha256": "..."}      sidecar .npy / .safetensors
    truncation   {psi, cutoff}                                  applied to the latent (cutoff null = all rows)
    directions   [{name, sha256, file, weight, layers, style_mix}]  s' = s + strength * sum c_j M_j(d_j)
    param_deltas [{name, sha256, file, weight}]                  theta = theta_0 + sum c_j delta_j
    strength     global direction strength
    keep         optional, in (0, 1]: each direction magnitude-pruned to this fraction of its channels
                 before blending (StyleSpaceSparse); absent = 1 (no pruning)
    noise        {mode: const|random|none, seed}                 seed feeds torch.Generator for "random"
    output       {size: null|int, paste_back: bool}
    studio       optional object: front-end state (the studio's blend-pad position); kept, ignored by the engine

An unknown version or format is an error (never guessed); unknown keys are errors too. Files are
referenced by sha256 and name; the file field is only a hint where to look.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from engine import validation
from engine.errors import FileProblem, UserError
from engine.fileio import atomic_path
from engine.generator import NOISE_MODES

FORMAT_NAME = "styledomain.recipe"
RECIPE_VERSION = 1
LATENT_KINDS = ("seed", "inline", "file")
#: Largest recipe file read (an inline 1024 px W+ is about 0.2 MB).
MAX_RECIPE_BYTES = 8 * 2**20


class RecipeError(FileProblem):
    """A recipe that cannot be used (``path: reason``)."""


@dataclass
class GeneratorRef:
    name: str
    sha256: str
    layout_fingerprint: str
    file: str = ""


@dataclass
class DirectionRef:
    name: str
    sha256: str
    file: str = ""
    weight: float = 1.0
    layers: str = "all"
    style_mix: float = 0.0


@dataclass
class DeltaRef:
    name: str
    sha256: str
    file: str = ""
    weight: float = 1.0


@dataclass
class LatentRef:
    kind: str
    seed: int | None = None
    w_plus: list[list[float]] | None = None
    file: str = ""
    sha256: str = ""


@dataclass
class SourcePhoto:
    photo_sha256: str
    alignment: dict | None = None
    face_index: int | None = None
    inversion: dict | None = None


@dataclass
class Recipe:
    generator: GeneratorRef
    latent: LatentRef
    directions: list[DirectionRef] = field(default_factory=list)
    param_deltas: list[DeltaRef] = field(default_factory=list)
    strength: float = 1.0
    psi: float = 1.0
    cutoff: int | None = None
    noise_mode: str = "const"
    noise_seed: int = 0
    size: int | None = None
    paste_back: bool = False
    source: SourcePhoto | None = None
    studio: dict | None = None
    keep: float = 1.0

    # ---- serialisation ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        lat: dict = {"kind": self.latent.kind}
        if self.latent.kind == "seed":
            lat["seed"] = self.latent.seed
        elif self.latent.kind == "inline":
            lat["w_plus"] = self.latent.w_plus
        else:
            lat.update(file=self.latent.file, sha256=self.latent.sha256)
        out = {
            "format": FORMAT_NAME, "version": RECIPE_VERSION,
            "generator": vars(self.generator).copy(),
            "source": None if self.source is None else vars(self.source).copy(),
            "latent": lat,
            "truncation": {"psi": self.psi, "cutoff": self.cutoff},
            "directions": [vars(d).copy() for d in self.directions],
            "param_deltas": [vars(d).copy() for d in self.param_deltas],
            "strength": self.strength,
            "noise": {"mode": self.noise_mode, "seed": self.noise_seed},
            "output": {"size": self.size, "paste_back": self.paste_back},
        }
        if self.studio is not None:
            out["studio"] = self.studio
        if self.keep != 1.0:  # absent when 1: recipes without pruning are written exactly as before
            out["keep"] = self.keep
        return out

    def dumps(self, indent: int | None = None) -> str:
        """Canonical JSON (sorted keys); floats round-trip exactly."""
        seps = (",", ":") if indent is None else (",", ": ")
        return json.dumps(self.to_dict(), sort_keys=True, indent=indent, separators=seps, allow_nan=False)

    @classmethod
    def from_dict(cls, d: object, origin: str | os.PathLike = "recipe") -> Recipe:
        return _Parser(origin).recipe(d)

    @classmethod
    def loads(cls, text: str, origin: str | os.PathLike = "recipe") -> Recipe:
        try:
            d = json.loads(text)
        except ValueError as exc:
            raise RecipeError(origin, f"recipe is not valid JSON ({exc})") from None
        except RecursionError:
            raise RecipeError(origin, "recipe is nested too deeply to be a recipe") from None
        return cls.from_dict(d, origin)


class _Parser:
    """Strict validation with one clear message per problem."""

    def __init__(self, origin) -> None:
        self.origin = origin

    def fail(self, reason: str):
        raise RecipeError(self.origin, reason)

    def obj(self, d, where: str, required: set[str], optional: set[str] = frozenset()) -> dict:
        if not isinstance(d, dict):
            self.fail(f"{where} must be a JSON object")
        missing = sorted(required - set(d))
        if missing:
            self.fail(f"{where} lacks {', '.join(missing)}")
        unknown = sorted(set(d) - required - set(optional))
        if unknown:
            self.fail(f"{where} has unknown field(s) {', '.join(unknown)}")
        return d

    def str_(self, v, where: str) -> str:
        if not isinstance(v, str):
            self.fail(f"{where} must be a string")
        return v

    def num(self, v, where: str, lo: float | None = None, hi: float | None = None) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            self.fail(f"{where} must be a finite number")
        return self.checked(validation.finite, v, where, lo, hi)

    def int_(self, v, where: str, allow_none: bool = False, lo: int | None = None, hi: int | None = None
             ) -> int | None:
        if v is None and allow_none:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(f"{where} must be an integer")
        return self.checked(validation.integer, v, where, lo, hi)

    def checked(self, check, v, where: str, lo, hi):
        """``check(v, where, lo, hi)`` with its one-line message as this recipe's error."""
        try:
            return check(v, where, lo, hi)
        except UserError as exc:
            self.fail(str(exc))

    def recipe(self, d) -> Recipe:
        if not isinstance(d, dict):
            self.fail("recipe must be a JSON object")
        if d.get("format") != FORMAT_NAME:
            self.fail(f"not a StyleDomain recipe (format={d.get('format')!r})")
        version = d.get("version")
        if "version" not in d:
            self.fail("recipe has no version field; cannot tell how to read it")
        if version != RECIPE_VERSION:
            self.fail(f"recipe version {version!r} is not supported (this program reads version {RECIPE_VERSION})")
        top = {"format", "version", "generator", "latent", "truncation", "directions", "param_deltas",
               "strength", "noise", "output", "source", "studio", "keep"}
        self.obj(d, "recipe", {"format", "version", "generator", "latent"}, top)
        g = self.obj(d["generator"], "generator", {"name", "sha256", "layout_fingerprint"}, {"file"})
        gen = GeneratorRef(self.str_(g["name"], "generator.name"), self.str_(g["sha256"], "generator.sha256"),
                           self.str_(g["layout_fingerprint"], "generator.layout_fingerprint"),
                           self.str_(g.get("file", ""), "generator.file"))
        trunc = self.obj(d.get("truncation", {}), "truncation", set(), {"psi", "cutoff"})
        noise = self.obj(d.get("noise", {}), "noise", set(), {"mode", "seed"})
        mode = noise.get("mode", "const")
        if mode not in NOISE_MODES:
            self.fail(f"noise.mode must be one of {', '.join(NOISE_MODES)}, got {mode!r}")
        out = self.obj(d.get("output", {}), "output", set(), {"size", "paste_back"})
        paste = out.get("paste_back", False)
        if not isinstance(paste, bool):
            self.fail("output.paste_back must be true or false")
        size = self.int_(out.get("size"), "output.size", allow_none=True, lo=validation.MIN_IMAGE_SIZE,
                         hi=validation.MAX_IMAGE_SIZE)
        dirs = d.get("directions", [])
        deltas = d.get("param_deltas", [])
        if not isinstance(dirs, list) or not isinstance(deltas, list):
            self.fail("directions and param_deltas must be lists")
        return Recipe(
            generator=gen, latent=self.latent(d["latent"]),
            directions=[self.direction(x, i) for i, x in enumerate(dirs)],
            param_deltas=[self.delta(x, i) for i, x in enumerate(deltas)],
            strength=self.num(d.get("strength", 1.0), "strength", -validation.STRENGTH_LIMIT,
                              validation.STRENGTH_LIMIT),
            psi=self.num(trunc.get("psi", 1.0), "truncation.psi", -validation.PSI_LIMIT, validation.PSI_LIMIT),
            cutoff=self.int_(trunc.get("cutoff"), "truncation.cutoff", allow_none=True, lo=0),
            noise_mode=mode, noise_seed=self.int_(noise.get("seed", 0), "noise.seed", lo=0,
                                                  hi=validation.NOISE_SEED_MAX),
            size=size, paste_back=paste, source=self.source(d.get("source")),
            studio=self.studio(d.get("studio")),
            keep=self.keep(d.get("keep", 1.0)),
        )

    def keep(self, v) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 < v <= 1:
            self.fail(f"keep must be a number in (0, 1] (the fraction of each direction's channels kept), got {v!r}")
        return float(v)

    def studio(self, d) -> dict | None:
        if d is not None and not isinstance(d, dict):
            self.fail("studio must be an object or null")
        return d

    def latent(self, d) -> LatentRef:
        if not isinstance(d, dict) or d.get("kind") not in LATENT_KINDS:
            self.fail(f"latent.kind must be one of {', '.join(LATENT_KINDS)}")
        kind = d["kind"]
        if kind == "seed":
            self.obj(d, "latent", {"kind", "seed"})
            return LatentRef("seed", seed=self.int_(d["seed"], "latent.seed", lo=0, hi=validation.SEED_MAX))
        if kind == "file":
            self.obj(d, "latent", {"kind", "file", "sha256"})
            return LatentRef("file", file=self.str_(d["file"], "latent.file"),
                             sha256=self.str_(d["sha256"], "latent.sha256"))
        self.obj(d, "latent", {"kind", "w_plus"})
        rows = d["w_plus"]
        if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
            self.fail("latent.w_plus must be a non-empty list of rows")
        if len({len(r) for r in rows}) != 1 or not rows[0]:
            self.fail("latent.w_plus rows must all have the same, non-zero length")
        return LatentRef("inline", w_plus=[[self.num(v, "latent.w_plus value") for v in r] for r in rows])

    def direction(self, d, i: int) -> DirectionRef:
        where = f"directions[{i}]"
        self.obj(d, where, {"name", "sha256"}, {"file", "weight", "layers", "style_mix"})
        from engine.domains.layers import validate_spec
        from engine.errors import UserError

        try:
            layers = validate_spec(self.str_(d.get("layers", "all"), f"{where}.layers"))
        except UserError as exc:
            self.fail(f"{where}.layers: {exc}")
        return DirectionRef(self.str_(d["name"], f"{where}.name"), self.str_(d["sha256"], f"{where}.sha256"),
                            self.str_(d.get("file", ""), f"{where}.file"),
                            self.weight(d.get("weight", 1.0), f"{where}.weight"), layers,
                            self.num(d.get("style_mix", 0.0), f"{where}.style_mix", 0.0, 1.0))

    def delta(self, d, i: int) -> DeltaRef:
        where = f"param_deltas[{i}]"
        self.obj(d, where, {"name", "sha256"}, {"file", "weight"})
        return DeltaRef(self.str_(d["name"], f"{where}.name"), self.str_(d["sha256"], f"{where}.sha256"),
                        self.str_(d.get("file", ""), f"{where}.file"),
                        self.weight(d.get("weight", 1.0), f"{where}.weight"))

    def weight(self, v, where: str) -> float:
        return self.num(v, where, -validation.STRENGTH_LIMIT, validation.STRENGTH_LIMIT)

    def source(self, d) -> SourcePhoto | None:
        if d is None:
            return None
        self.obj(d, "source", {"photo_sha256"}, {"alignment", "face_index", "inversion"})
        for key in ("alignment", "inversion"):
            if d.get(key) is not None and not isinstance(d[key], dict):
                self.fail(f"source.{key} must be an object or null")
        return SourcePhoto(self.str_(d["photo_sha256"], "source.photo_sha256"), d.get("alignment"),
                           self.int_(d.get("face_index"), "source.face_index", allow_none=True, lo=0),
                           d.get("inversion"))


def load_recipe(path: str | os.PathLike) -> Recipe:
    """A recipe from a ``.json`` file or from a PNG that carries one."""
    p = Path(path)
    if not p.is_file():
        raise RecipeError(p, "file not found")
    with open(p, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89PNG"):
        from .png_metadata import read_png_metadata

        text = read_png_metadata(p).recipe_text
        if text is None:
            raise RecipeError(p, "this PNG carries no StyleDomain recipe (exported with metadata stripped?)")
        return Recipe.loads(text, p)
    try:
        if p.stat().st_size > MAX_RECIPE_BYTES:
            raise RecipeError(p, f"too large for a recipe ({p.stat().st_size / 2**20:.0f} MB; at most "
                                 f"{MAX_RECIPE_BYTES // 2**20} MB)")
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecipeError(p, f"cannot read recipe ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise RecipeError(p, f"recipe is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return Recipe.loads(text, p)


def save_recipe(recipe: Recipe, path: str | os.PathLike) -> Path:
    """Pretty JSON, written atomically."""
    p = Path(path)
    with atomic_path(p) as tmp:
        tmp.write_text(recipe.dumps(indent=1) + "\n", encoding="utf-8")
    return p
