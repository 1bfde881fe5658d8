"""Write resources/detectors/dlib-frontal-face-detector.svm: dlib's built-in frontal face detector, saved.

dlib builds that detector by unpacking a compressed copy compiled into the library (about 0.8 s, holding
the GIL); loading the saved file takes about 1 ms and gives the same detections. Rerun after a dlib
upgrade and update ``FRONTAL_DETECTOR_SHA256`` in engine/alignment/dlib_detector.py to the printed hash.

    .venv/bin/python tools/make_face_detector_file.py
"""

from __future__ import annotations

import hashlib

import dlib

from engine.alignment.models import FRONTAL_DETECTOR_FILE
from engine.resources import resources_dir


def main() -> None:
    """Save the detector and print its sha256."""
    path = resources_dir() / "detectors" / FRONTAL_DETECTOR_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    dlib.get_frontal_face_detector().save(str(tmp))
    tmp.replace(path)
    print(path, hashlib.sha256(path.read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
