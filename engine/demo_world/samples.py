"""Write the sample inputs shipped in ``resources/samples/``: demo faces and a few domain renders.

    PYTHONPATH=. python -m engine.demo_world.samples resources/samples
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

from .domains import render
from .faces import FaceParams

#: (file name, seed, domain) of every rendered sample.
SAMPLES = (
    ("face-seed0.png", 0, "photo"),
    ("face-seed2.png", 2, "photo"),
    ("face-seed6.png", 6, "photo"),
    ("face-seed9.png", 9, "photo"),
    ("face-seed12.png", 12, "photo"),
    ("face-seed0-sketch.png", 0, "sketch"),
    ("face-seed2-woodcut.png", 2, "woodcut"),
    ("face-seed6-pop_art.png", 6, "pop_art"),
)


def write_samples(folder: str | Path, size: int = 256) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, seed, domain in SAMPLES:
        path = folder / name
        tmp = path.with_name(f".{name}.partial")
        Image.fromarray(render(FaceParams.from_seed(seed), domain, size)).save(tmp, format="PNG", optimize=True)
        tmp.replace(path)
        written.append(path)
    return written


if __name__ == "__main__":
    write_samples(sys.argv[1] if len(sys.argv) > 1 else "resources/samples")
