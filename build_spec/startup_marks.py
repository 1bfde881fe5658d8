"""Start-up timing marks for the frozen studio: ``styledomain-studio --startup-report FILE``.

The launcher (``studio_main.py``) takes the flag off the command line before the studio parses it, records
wall-clock marks (process start, launcher entered, torch imported, main window first painted, first render on
the canvas), writes them to FILE as JSON and quits once the first render is shown. It watches the studio from
outside (a paint-event filter on ``desktop.window.StudioWindow`` and its ``preview_shown`` signal), so the
studio's code is unchanged; ``build_spec/startup_time.py`` runs it cold and warm.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

FLAG = "--startup-report"
#: give up (write what was reached, exit) when no first render came within this many seconds
TIMEOUT_S = 300.0


def take_flag(argv: Sequence[str]) -> tuple[Path | None, list[str]]:
    """``(FILE, argv without the flag)`` for ``--startup-report FILE`` or ``--startup-report=FILE``."""
    rest: list[str] = []
    report: Path | None = None
    items = list(argv)
    i = 0
    while i < len(items):
        arg = items[i]
        if arg == FLAG and i + 1 < len(items):
            report, i = Path(items[i + 1]), i + 2
            continue
        if arg.startswith(FLAG + "="):
            report = Path(arg.split("=", 1)[1])
        else:
            rest.append(arg)
        i += 1
    return report, rest


def process_start_time() -> float | None:
    """Wall-clock time this process started (Linux ``/proc``; 10 ms resolution), or None elsewhere."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22 of stat(5), counted after the ")" that ends the command name
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


class StartupMarks:
    """Collects named wall-clock marks and writes them once the window is painted and the first render shown."""

    def __init__(self, report: Path) -> None:
        self.report = report
        self.marks: dict[str, float] = {}
        start = process_start_time()
        if start is not None:
            self.marks["process_start"] = start
        self.written = False

    def mark(self, name: str) -> None:
        self.marks.setdefault(name, time.time())

    def done(self) -> bool:
        return "window_painted" in self.marks and "first_render" in self.marks

    def write(self, complete: bool) -> None:
        if self.written:
            return
        self.written = True
        base = self.marks.get("process_start", self.marks.get("launcher", 0.0))
        data = {"complete": complete, "epoch": self.marks,
                "since_process_start_s": {k: round(v - base, 3) for k, v in self.marks.items()}}
        tmp = self.report.with_name(self.report.name + ".partial")
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        tmp.replace(self.report)

    def watch_studio(self) -> None:
        """Hook the studio's main window (paint events, first preview) and quit after the first render."""
        from PySide6.QtCore import QEvent, QObject, QTimer
        from PySide6.QtWidgets import QApplication

        from desktop import window as window_module

        marks = self

        class Watcher(QObject):
            def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
                if event.type() == QEvent.Type.Show:
                    marks.mark("window_shown")
                elif event.type() == QEvent.Type.Paint:
                    marks.mark("window_painted")
                    marks.finish_if_done()
                return False

        def on_preview(*_args) -> None:
            marks.mark("first_render")
            marks.finish_if_done()

        def give_up() -> None:
            marks.write(complete=False)
            QApplication.exit(1)

        cls = window_module.StudioWindow
        original_init = cls.__init__

        def init(window, *args, **kwargs) -> None:
            original_init(window, *args, **kwargs)
            marks.mark("window_created")
            # Nobody answers a dialog in a timing run: quitting with a job still queued (the model-layout read
            # that follows the first render) must not open the "A job is still running ... quit?" question,
            # whose modal loop kept the app alive until the give-up timer. Like the self-test: cancel and quit.
            window.confirm_close = lambda: True
            window._startup_watcher = Watcher(window)  # parented: lives as long as the window
            window.installEventFilter(window._startup_watcher)
            window.preview_shown.connect(on_preview)
            QTimer.singleShot(int(TIMEOUT_S * 1000), give_up)

        cls.__init__ = init

    def finish_if_done(self) -> None:
        if self.done() and not self.written:
            from PySide6.QtCore import QTimer
            from PySide6.QtWidgets import QApplication

            self.write(complete=True)
            QTimer.singleShot(0, QApplication.quit)


def from_argv(argv: list[str] | None = None) -> StartupMarks | None:
    """Take ``--startup-report FILE`` off ``sys.argv`` (in place); the marks collector, or None without it."""
    argv = sys.argv if argv is None else argv
    report, rest = take_flag(argv[1:])
    if report is None:
        return None
    argv[1:] = rest
    return StartupMarks(report)
