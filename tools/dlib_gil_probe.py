"""Probe: how long does loading dlib's models keep other Python threads from running (the GIL held)?

Runs each load step on a background thread while the main thread ticks every 10 ms, and prints the
step's own duration and the longest gap between the main thread's ticks (a GUI event loop freezes for
about that long). Each step runs in a fresh interpreter, so caches and imports do not carry over.

    .venv/bin/python tools/dlib_gil_probe.py [--steps import,predictor,detector,...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_CHILD = r"""
import json, sys, threading, time
step = sys.argv[1]
import dlib  # noqa: F401  (imported before ticking unless the step is the import itself)
from engine.alignment.models import packaged_predictor_path
path = str(packaged_predictor_path())

def work():
    if step == "predictor":
        dlib.shape_predictor(path)
    elif step == "detector":
        dlib.get_frontal_face_detector()
    elif step == "read_bytes":
        with open(path, "rb") as f:
            f.read()
    elif step == "both":
        dlib.get_frontal_face_detector(); dlib.shape_predictor(path)
    elif step == "warm_up":
        from engine.alignment.dlib_detector import warm_up
        warm_up()

done = threading.Event()
took = {}
def run():
    t = time.perf_counter(); work(); took["s"] = time.perf_counter() - t; done.set()

ticks = [time.perf_counter()]
threading.Thread(target=run, daemon=True).start()
while not done.is_set():
    time.sleep(0.010)
    ticks.append(time.perf_counter())
gaps = [b - a for a, b in zip(ticks, ticks[1:])]
print(json.dumps({"step": step, "took_ms": round(took["s"] * 1000), "max_gap_ms": round(max(gaps) * 1000)}))
"""


def main() -> None:
    """Run each requested step in a child interpreter and print one JSON line per step."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", default="read_bytes,detector,predictor,both")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    for step in args.steps.split(","):
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, "-c", _CHILD, step], capture_output=True, text=True,
                                 check=True)
            print(json.dumps(json.loads(out.stdout.strip().splitlines()[-1])))


if __name__ == "__main__":
    main()
