"""Where the per-user model library lives."""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: Environment variable naming the library folder; overrides the per-user default (tests set it).
HOME_VARIABLE = "STYLEDOMAIN_HOME"


def default_library_dir() -> Path:
    """``$STYLEDOMAIN_HOME`` when set, else the platform's per-user data folder for the app.

    Linux: ``~/.local/share/styledomain``; Windows: ``%LOCALAPPDATA%\\StyleDomain Studio``; macOS:
    ``~/Library/Application Support/StyleDomain Studio``. Nothing is created here.
    """
    override = os.environ.get(HOME_VARIABLE, "").strip()
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    app = "styledomain" if sys.platform.startswith("linux") else "StyleDomain Studio"
    return Path(user_data_dir(app, appauthor=False))
