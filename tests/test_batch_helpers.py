"""Helpers for the batch tests: recipes for the demo model or a tiny model, and folders of inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from engine.checkpoints import load_generator
from engine.pipeline.recipe import DirectionRef, GeneratorRef, LatentRef, Recipe, save_recipe
from engine.stylespace import layout_fingerprint, style_layout

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "models" / "demo-faces-64.safetensors"
SAMPLES = ROOT / "resources" / "samples"
FACES = ["face-seed2.png", "face-seed6.png", "face-seed9.png", "face-seed12.png"]


def make_recipe(path: Path, model: Path = DEMO, direction: Path | None = None, weight: float = 0.8,
                paste_back: bool = False, size: int | None = None) -> Path:
    """A recipe for ``model`` (optionally with one direction), saved as ``path``."""
    from engine.fileio import sha256_of

    lg = load_generator(model)
    dirs = []
    if direction is not None:
        dirs = [DirectionRef(direction.stem, sha256_of(direction), str(direction.resolve()), weight, "all")]
    r = Recipe(GeneratorRef(lg.name, lg.sha256, layout_fingerprint(style_layout(lg.generator.config)),
                            str(Path(model).resolve())), LatentRef("seed", seed=0), directions=dirs,
               paste_back=paste_back, size=size)
    return save_recipe(r, path)


def demo_direction(path: Path, seed: int = 3) -> Path:
    """A StyleDomain-layout s_delta direction file for the demo model."""
    from test_directions_helpers import styledomain_file

    styledomain_file(path, load_generator(DEMO).generator.config.channels, seed=seed, scale=0.3)
    return path


def faceless(path: Path, size: int = 128) -> Path:
    """A smooth gradient: a valid image with no face in it."""
    y, x = np.mgrid[0:size, 0:size]
    arr = np.stack([x * 255 // size, y * 255 // size, np.full_like(x, 128)], -1).astype(np.uint8)
    Image.fromarray(arr).save(path)
    return path


def mixed_folder(root: Path) -> dict[str, list[Path]]:
    """Good faces (one in a sub-folder), a corrupt PNG, a faceless image, a text file named .png, a
    truncated JPEG, a hidden good face and a .txt file."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "sub").mkdir()
    (root / ".hidden").mkdir()
    good = [root / FACES[0], root / FACES[1], root / "sub" / FACES[2]]
    for g in good:
        shutil.copy(SAMPLES / g.name, g)
    shutil.copy(SAMPLES / FACES[3], root / ".hidden" / FACES[3])
    shutil.copy(SAMPLES / FACES[3], root / ".dot.png")
    data = (SAMPLES / FACES[0]).read_bytes()
    (root / "corrupt.png").write_bytes(data[: len(data) // 3])
    (root / "text.png").write_text("not an image\n")
    (root / "notes.txt").write_text("ignored: not an image type\n")
    bad = [root / "corrupt.png", faceless(root / "faceless.png"), root / "text.png"]
    return {"good": good, "bad": bad}


def aligned_inputs(folder: Path, n: int, size: int = 64, seed: int = 0, link: bool = False) -> list[Path]:
    """``n`` small noisy images (already "aligned" crops); ``link``: hard links of one file (cheap)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    paths = []
    first = None
    for i in range(n):
        p = folder / f"img{i:05d}.png"
        if link and first is not None:
            p.hardlink_to(first)
        else:
            Image.fromarray(rng.randint(0, 255, (size, size, 3), dtype=np.uint8)).save(p)
            first = p
        paths.append(p)
    return paths
