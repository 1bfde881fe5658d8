"""The library's inter-process lock: concurrent imports from two processes all land; a busy library is a
one-line error after the timeout, never a hang; a killed holder leaves no stale lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import TINY
from test_directions_helpers import styledomain_file

from engine.cli.main import main
from engine.errors import UserError
from engine.library import Library
from engine.library import lock as lock_module
from engine.library.lock import library_lock

ROOT = Path(__file__).resolve().parents[1]
FILES_PER_PROCESS = 10

#: Child: wait for the go file, import every file, remove the first half, import those again.
CHILD = """
import sys, time
from pathlib import Path
from engine.library import Library
go, files = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
while not go.exists():
    time.sleep(0.005)
lib = Library()
for f in files:
    lib.import_file(f, name=f.stem)
for f in files[: len(files) // 2]:
    lib.remove(f.stem)
for f in files[: len(files) // 2]:
    lib.import_file(f, name=f.stem)
print("ok")
"""


def _env(home: Path) -> dict:
    env = dict(os.environ, STYLEDOMAIN_HOME=str(home), PYTHONPATH=str(ROOT))
    env.pop("PYTHONSTARTUP", None)
    return env


def test_two_processes_importing_at_once_lose_no_entry(tmp_path):
    home, src = tmp_path / "library", tmp_path / "src"
    src.mkdir()
    groups = []
    for p in range(2):
        files = [src / f"dir-{p}-{i}.pt" for i in range(FILES_PER_PROCESS)]
        for i, f in enumerate(files):
            styledomain_file(f, TINY.channels, seed=100 * p + i)
        groups.append(files)
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(go), *map(str, files)], env=_env(home),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for files in groups]
    time.sleep(0.5)
    go.touch()  # both start importing together (each needs a few seconds to import torch first)
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0 and out.strip() == "ok", err[-2000:]
    want = {f.stem for files in groups for f in files}
    index = json.loads((home / "index.json").read_text())
    assert {e["name"] for e in index["entries"]} == want
    assert {e.name for e in Library(home).entries("direction") if not e.read_only} == want
    stored = {p.stem for p in (home / "direction").iterdir()}
    assert stored == want  # every file in place, no temporary copy left (dot-files would show as '.name...')
    assert all(r.ok for r in Library(home).verify() if not r.entry.read_only)


def _hold_in_thread(home: Path):
    """Hold the library's lock on another thread until the returned event is set."""
    held, release = threading.Event(), threading.Event()

    def hold():
        with library_lock(home):
            held.set()
            release.wait(30)

    t = threading.Thread(target=hold)
    t.start()
    assert held.wait(10)
    return t, release


def test_a_busy_library_is_a_one_line_error_after_the_timeout(tmp_path, monkeypatch, capsys):
    home = tmp_path / "library"
    monkeypatch.setenv("STYLEDOMAIN_HOME", str(home))
    src = tmp_path / "d.pt"
    styledomain_file(src, TINY.channels, seed=1)
    Library().import_file(src, name="first")
    before = (home / "index.json").read_bytes()
    monkeypatch.setattr(lock_module, "DEFAULT_TIMEOUT", 0.3)
    thread, release = _hold_in_thread(home)
    try:
        with pytest.raises(UserError, match=r"library .* is busy \(another StyleDomain process"):
            Library().remove("first")  # gives up after the (shortened) timeout instead of waiting forever
        other = tmp_path / "e.pt"
        styledomain_file(other, TINY.channels, seed=2)
        code = main(["models", "import", str(other)])
        err = capsys.readouterr().err
        assert code == 2 and "is busy" in err and len(err.strip().splitlines()) == 1, err
        assert (home / "index.json").read_bytes() == before  # nothing changed
        assert not [p for p in (home / "direction").iterdir() if p.name.startswith(".")]  # no staged copy left
        assert [e.name for e in Library().entries("direction") if not e.read_only] == ["first"]  # readers: no lock
    finally:
        release.set()
        thread.join()
    assert Library().remove("first").name == "first"  # free again


def test_the_lock_is_reentrant_in_one_thread_and_released_when_its_process_dies(tmp_path):
    home = tmp_path / "library"
    with library_lock(home), library_lock(home):  # a change inside a change does not wait for itself
        pass
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pathlib import Path\nfrom engine.library.lock import "
         "library_lock\nwith library_lock(Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(60)\n",
         str(home)], env=_env(home), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match="is busy"):
            with library_lock(home, timeout=0.2):
                pass
    finally:
        holder.kill()
        holder.wait(30)
    with library_lock(home, timeout=5):  # the dead process's lock is gone with it
        pass
    assert (home / ".lock").exists()
