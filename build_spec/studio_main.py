"""Entry point of the frozen StyleDomain Studio (PyInstaller onedir bundle).

Order matters: ``freeze_support`` first (worker processes re-enter here), then guard the standard streams
(a windowed build has none, and tqdm/logging write to them), then import torch before any Qt module (on
Windows, torch >= 2.9 imported after Qt fails with WinError 1114 on ``c10.dll``). In the bundle torch is
already imported by the runtime hook ``rthook_torch_first.py``, because PyInstaller's own PySide6 hook loads
QtCore before this script runs; the import here keeps the order when run from source. Then check the system
libraries Qt's xcb plugin needs on Linux (``launcher_checks``), and only then start the studio.
``--startup-report FILE`` (launcher only) writes start-up timing marks and quits after the first render
(``startup_marks``).
"""

from __future__ import annotations

import time

LAUNCHER_ENTERED = time.time()

import multiprocessing  # noqa: E402  (after the first timing mark)
import os  # noqa: E402
import sys  # noqa: E402

#: exit status when the window cannot open because system libraries are missing
EXIT_MISSING_LIBRARIES = 3


def guard_streams() -> None:
    """Give a windowed build real (null) stdout/stderr so that writes to them cannot fail."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # lives as long as the app


def main() -> int:
    multiprocessing.freeze_support()
    guard_streams()
    from startup_marks import from_argv

    marks = from_argv()
    if marks is not None:
        marks.marks.update(getattr(sys, "_styledomain_marks", {}))  # the runtime hook's, in the bundle
        marks.marks["launcher"] = LAUNCHER_ENTERED
    import torch  # noqa: F401  (before Qt, see the module docstring)

    if marks is not None:
        marks.mark("torch_imported")  # kept when the runtime hook already set it
    from launcher_checks import missing_message, missing_xcb_libraries, tell_user

    missing = missing_xcb_libraries()
    if missing:
        tell_user(missing_message(missing))
        return EXIT_MISSING_LIBRARIES
    if marks is not None:
        marks.watch_studio()
    from desktop.app import main as studio_main

    return int(studio_main() or 0)


if __name__ == "__main__":
    sys.exit(main())
