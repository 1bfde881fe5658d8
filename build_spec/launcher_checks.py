"""The frozen launcher's system-library check for Qt's xcb platform plugin (Linux).

PySide6 bundles Qt but not the X11/xcb libraries its xcb plugin links against. Without them Qt only says
"Could not load the Qt platform plugin xcb"; this check names the missing files and the packages to install.
Pure functions with injectable loaders, so the logic is testable without a bundle.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

#: shared library -> Debian/Ubuntu package, for what libqxcb.so, libQt6XcbQpa and libQt6Gui load from the system
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}
DIALOG_TOOLS = (("zenity", "--error", "--no-wrap", "--text"), ("kdialog", "--error"), ("xmessage", "-center"))


def uses_xcb(platform: str, env: Mapping[str, str], argv: Sequence[str]) -> bool:
    """Whether Qt will load its xcb plugin for this start (only then do the X11 libraries matter)."""
    if not platform.startswith("linux"):
        return False
    qpa = env.get("QT_QPA_PLATFORM", "")
    if qpa:
        return qpa.startswith("xcb")
    if "--self-test" in argv and not env.get("DISPLAY"):
        return False  # the self-test falls back to offscreen without a display
    return not (env.get("WAYLAND_DISPLAY") and not env.get("DISPLAY"))  # a pure Wayland session uses wayland


def missing_libraries(libraries: Mapping[str, str], load: Callable[[str], object],
                      bundled: Sequence[Path] = ()) -> dict[str, str]:
    """The entries of ``libraries`` (file -> package) that ``load`` (e.g. ``ctypes.CDLL``) cannot open.

    A file that lies in one of the ``bundled`` folders counts as present (Qt finds it there by its RUNPATH).
    """
    missing = {}
    for lib, package in libraries.items():
        if any((folder / lib).is_file() for folder in bundled):
            continue
        try:
            load(lib)
        except OSError:
            missing[lib] = package
    return missing


def missing_xcb_libraries(platform: str | None = None, env: Mapping[str, str] | None = None,
                          argv: Sequence[str] | None = None,
                          load: Callable[[str], object] | None = None) -> dict[str, str]:
    """Missing xcb-plugin libraries (file -> package) for this start; empty when xcb is not used."""
    if not uses_xcb(sys.platform if platform is None else platform, os.environ if env is None else env,
                    sys.argv if argv is None else argv):
        return {}
    if load is None:
        import ctypes

        load = ctypes.CDLL
    meipass = getattr(sys, "_MEIPASS", None)
    return missing_libraries(XCB_LIBRARIES, load, [Path(meipass)] if meipass else [])


def missing_message(missing: Mapping[str, str]) -> str:
    """What to tell the user: the missing files and the install command."""
    packages = " ".join(dict.fromkeys(missing.values()))
    return ("StyleDomain Studio cannot open its window: these system libraries are not installed: "
            f"{', '.join(missing)}.\nOn Debian/Ubuntu install them with:\n  sudo apt install {packages}\n"
            "(other distributions: the packages that provide these files, e.g. xcb-util-cursor on Fedora/Arch).")


def tell_user(text: str, env: Mapping[str, str] | None = None, which: Callable[[str], str | None] = shutil.which,
              run: Callable[..., object] = subprocess.run) -> str | None:
    """Print ``text`` to stderr and, started from a menu (no terminal), show it in a dialog if a tool exists.

    Returns the dialog tool used, or None.
    """
    env = os.environ if env is None else env
    stream = sys.stderr
    if stream is not None:
        print(text, file=stream)
    interactive = stream is not None and hasattr(stream, "isatty") and stream.isatty()
    if interactive or not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return None
    for tool, *args in DIALOG_TOOLS:
        if which(tool):
            try:
                run([tool, *args, text], check=False, timeout=600)
            except (OSError, subprocess.SubprocessError):
                continue
            return tool
    return None
