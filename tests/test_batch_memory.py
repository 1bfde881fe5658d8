"""Batch memory stays flat: peak RSS does not grow with the number of inputs (200 vs 2,000).

Mostly-cheap inputs keep the run short on a 2-core machine: one input in ten is a good 512 px photo (hard
links of one file: decoding costs real memory, ~1 MB each), the others are files that are not images
(they go through the same feeder, queue and workers and fail at decode). A runner that kept decoded
photos, results or queued work for the whole run would hold 10x more in the 2,000-input run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import make_generator
from test_batch_helpers import ROOT, aligned_inputs, make_recipe

from engine.checkpoints.native import save_native


def child_peak_rss_mb(argv: list[str]) -> tuple[float, int]:
    """Run the CLI in a child process: its own peak RSS (os.wait4 rusage of that pid) and its exit code."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024.0, proc.returncode


def inputs(folder: Path, n: int) -> int:
    """``n`` inputs, every tenth a good photo; returns how many are good."""
    good = aligned_inputs(folder / "good", 1, size=512)[0]
    for i in range(n):
        p = folder / f"img{i:05d}.png"
        if i % 10 == 0:
            p.hardlink_to(good)
        else:
            p.write_bytes(b"not an image")
    good.unlink()
    (folder / "good").rmdir()
    return (n + 9) // 10


def test_peak_memory_does_not_grow_with_the_number_of_inputs(tmp_path):
    model = tmp_path / "tiny.safetensors"
    save_native(make_generator(), model)
    recipe = make_recipe(tmp_path / "r.json", model=model, size=8)  # 8 px: synthesis stops early, cheap
    peaks = {}
    for n in (200, 2000):
        good = inputs(tmp_path / f"in{n}", n)
        out = tmp_path / f"out{n}"
        peaks[n], code = child_peak_rss_mb(["batch", str(tmp_path / f"in{n}"), "-o", str(out), "--recipe",
                                            str(recipe), "--aligned", "--steps", "0", "--no-encoder", "--workers",
                                            "2", "--device", "cpu", "--json"])
        assert code == 1  # the non-images failed
        assert len(list(out.glob("*.png"))) == good
    # 180 more decoded photos would be ~180 MB; the per-input bookkeeping is a few hundred bytes each
    assert peaks[2000] < peaks[200] + 40, peaks
