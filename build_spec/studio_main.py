"""Entry point of the frozen StyleDomain Studio (PyInstaller onedir bundle).

Order matters: ``freeze_support`` first (worker processes re-enter here), then guard the standard streams
(a windowed build has none, and tqdm/logging write to them), then import torch before any Qt module (on
Windows, torch >= 2.9 imported after Qt fails with WinError 1114 on ``c10.dll``), then check the system
libraries Qt's xcb plugin needs on Linux, and only then start the studio.
"""

from __future__ import annotations

import multiprocessing
import os
import sys

#: Debian/Ubuntu package for each shared library that Qt's xcb platform plugin loads but the bundle lacks.
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
}


def guard_streams() -> None:
    """Give a windowed build real (null) stdout/stderr so that writes to them cannot fail."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # lives as long as the app


def missing_xcb_packages() -> list[str]:
    """Packages to install for Qt's xcb plugin; empty off Linux, offscreen, or when all libraries load."""
    import ctypes

    if not sys.platform.startswith("linux"):
        return []
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return []
    if "--self-test" in sys.argv and not os.environ.get("DISPLAY"):
        return []  # the self-test falls back to offscreen without a display
    missing = []
    for lib, package in XCB_LIBRARIES.items():
        try:
            ctypes.CDLL(lib)
        except OSError:
            missing.append(package)
    return missing


def main() -> int:
    multiprocessing.freeze_support()
    guard_streams()
    import torch  # noqa: F401  (before Qt, see the module docstring)

    missing = missing_xcb_packages()
    if missing:
        print("StyleDomain Studio: the window needs system libraries that are not installed: "
              f"{' '.join(missing)}\n  Debian/Ubuntu: sudo apt install {' '.join(missing)}", file=sys.stderr)
        return 3
    from desktop.app import main as studio_main

    return int(studio_main() or 0)


if __name__ == "__main__":
    sys.exit(main())
