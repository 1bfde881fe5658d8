"""Logging for the studio: a rotating log file, and Qt's own messages routed into it."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from PySide6.QtCore import QtMsgType, qInstallMessageHandler

LOG_NAME = "studio.log"
_qt_warnings: list[str] = []
qt_log = logging.getLogger("qt")


def log_dir() -> Path:
    from platformdirs import user_log_dir

    return Path(user_log_dir("StyleDomain Studio", appauthor=False))


def setup_logging(folder: Path | None = None, level: int = logging.INFO) -> Path:
    """Log to ``folder/studio.log`` (1 MB x 3, rotating); returns the log file path."""
    folder = Path(folder) if folder else log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_NAME
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_studio", False):
            root.removeHandler(h)
            h.close()
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=1 << 20, backupCount=3, encoding="utf-8")
    handler._studio = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    return path


def _qt_handler(mode: QtMsgType, context, message: str) -> None:
    levels = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
              QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
              QtMsgType.QtFatalMsg: logging.CRITICAL}
    level = levels.get(mode, logging.WARNING)
    if level >= logging.WARNING:
        _qt_warnings.append(message)
    qt_log.log(level, "%s", message)


def install_qt_message_handler() -> None:
    """Qt's warnings go to the log (and :func:`qt_warnings`), not to stderr."""
    qInstallMessageHandler(_qt_handler)


def qt_warnings() -> list[str]:
    return list(_qt_warnings)
