"""A batch killed with SIGKILL at some moment and rerun exports every input exactly once, leaves no temporary
or partial files, and does not touch the outputs the first run finished."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_batch_helpers import aligned_inputs, make_recipe

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.png")}


def _batch_cmd(inp: Path, out: Path, recipe: Path) -> list[str]:
    return [sys.executable, "-m", "engine.cli", "batch", str(inp), "-o", str(out), "--recipe", str(recipe),
            "--aligned", "--steps", "3", "--workers", "1", "--batch-size", "1", "--json"]


@pytest.mark.parametrize("kill_after_outputs", [1, 5])
def test_sigkill_then_rerun_exports_each_input_exactly_once(tmp_path, kill_after_outputs):
    inputs = aligned_inputs(tmp_path / "in", 16)
    recipe = make_recipe(tmp_path / "r.json")
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(_batch_cmd(tmp_path / "in", out, recipe), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_dir() and len(list(out.glob("*.png"))) >= kill_after_outputs:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _digests(out) if out.is_dir() else {}
    assert len(before) < len(inputs), "the run finished before it could be killed; make the inputs slower"
    rerun = subprocess.run(_batch_cmd(tmp_path / "in", out, recipe), env=env, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    after = _digests(out)
    assert sorted(after) == sorted(f"{p.stem}_r.png" for p in inputs)  # each input once, nothing else
    assert all(after[name] == digest for name, digest in before.items())  # earlier outputs untouched
    leftovers = [p.name for p in out.iterdir() if p.name.endswith(".partial") or p.name.startswith(".img")]
    assert not leftovers
    assert not (out / ".styledomain-batch.journal").exists()
