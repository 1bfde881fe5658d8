"""The launcher's ``--startup-report`` run exits after its report, even with a job still queued at quit.

Regression test for the exit hang of the frozen app (docs/packaging.md): the report was written, then the
quit found a queued job ("Read model layout") and the window's "A job is still running ... quit?" question
opened a modal loop that nobody answers, so the process lived until the 300 s give-up timer. Here a job that
never ends on its own is queued when the first render is shown; the run from source must still exit, with status 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: generous limits, far below the 300 s give-up timer that the hang ran into
REPORT_LIMIT_S = 180.0
EXIT_AFTER_REPORT_LIMIT_S = 45.0

DRIVER = """
import runpy, sys, time
from desktop import window as window_module

original_init = window_module.StudioWindow.__init__

def init(window, *args, **kwargs):
    original_init(window, *args, **kwargs)

    def busy(ctx):  # a job still running at quit; honours its cancel token
        while True:
            ctx.checkpoint()
            time.sleep(0.05)

    def queue_busy(*_args):  # connected before the launcher's own first-render slot, so it runs first
        if not hasattr(window, "_busy_job"):
            window._busy_job = window.client.submit("Busy test job", busy)

    window.preview_shown.connect(queue_busy)

window_module.StudioWindow.__init__ = init
sys.argv = ["studio_main.py", "--startup-report", sys.argv[1]]
runpy.run_path(%r, run_name="__main__")
"""


def test_startup_report_run_exits_with_a_job_still_queued(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    report = tmp_path / "startup.json"
    env = {**os.environ, "HOME": str(tmp_path / "home"), "STYLEDOMAIN_HOME": str(tmp_path / "library"),
           "XDG_RUNTIME_DIR": str(tmp_path), "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "build_spec")])}
    driver = DRIVER % str(ROOT / "build_spec" / "studio_main.py")
    proc = subprocess.Popen([sys.executable, "-c", driver, str(report)], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + REPORT_LIMIT_S
        while not report.is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert report.is_file(), f"no start-up report (exit {proc.poll()}): {proc.stderr.read()[-800:]}"
        try:
            code = proc.wait(timeout=EXIT_AFTER_REPORT_LIMIT_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {EXIT_AFTER_REPORT_LIMIT_S:.0f} s after its report") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, proc.stderr.read()[-800:]
    data = json.loads(report.read_text())
    assert data["complete"] is True
    assert {"window_painted", "first_render"} <= set(data["since_process_start_s"])
