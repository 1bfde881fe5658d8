"""Measure the GUI event loop's worst stall at start-up and during the first photo open (studio, offscreen).

Starts the studio as ``python -m desktop`` does (``open_studio``, demo model, a throw-away library and
settings), waits for the first render, waits ``--pause`` seconds (a user's reaction time; the face
detector's warm-up runs then unless ``--no-warm-up``), then opens the NASA astronaut photo (face
detection + inversion) and prints one JSON line: the worst stall (ms beyond a 10 ms timer) in each phase.

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. .venv/bin/python tools/photo_open_stall.py [--no-warm-up]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    """Run the measurement; print the JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-warm-up", action="store_true", help="measure without the face detector warm-up")
    ap.add_argument("--pause", type=float, default=3.0, help="seconds between the first render and the photo")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="photo-open-stall-"))
    os.environ["STYLEDOMAIN_HOME"] = str(work / "lib")
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    import desktop.worker.warm_up as warm_up
    from desktop import app as studio_app
    from engine.resources import demo_model_path, resources_dir

    if args.no_warm_up:  # open_studio imports it when called
        warm_up.install_detector_warm_up = lambda window, delay_ms=0: None  # type: ignore[assignment]
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    settings = QSettings(str(work / "studio.ini"), QSettings.Format.IniFormat)
    stalls = {"start-up": 0.0, "photo open": 0.0}
    phase = ["start-up"]
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        stalls[phase[0]] = max(stalls[phase[0]], (now - last[0]) * 1000 - 10)
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    window = studio_app.open_studio(demo_model_path(), "cpu", "fp32", studio_app.load_settings(settings))
    window.confirm_close = lambda: True
    window.show()

    def wait(predicate, timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while not predicate() and time.monotonic() < end:
            qapp.processEvents()
            time.sleep(0.002)
        return predicate()

    ok = wait(lambda: window.last_preview is not None, 120)
    end = time.monotonic() + args.pause
    wait(lambda: time.monotonic() > end, args.pause + 1)
    warm = getattr(window, "detector_warm_up", None)
    photo = work / "astronaut.png"
    shutil.copy(resources_dir() / "samples" / "astronaut.png", photo)
    phase[0] = "photo open"
    last[0] = time.perf_counter()
    t0 = time.perf_counter()
    window.open_paths([photo])
    ok = ok and wait(lambda: window.document.state.source.kind == "photo", 300)
    took = time.perf_counter() - t0
    timer.stop()
    window.close()
    window.client.stop()
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"ok": ok, "warm_up": None if warm is None else warm.done,
                      "max_stall_ms": {k: round(v, 1) for k, v in stalls.items()}, "photo_open_s": round(took, 2)}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
