"""Errors meant for users: shown as one line, no traceback, non-zero exit."""

from __future__ import annotations

import os


class UserError(Exception):
    """Bad input or an impossible request. ``str(err)`` is the one line a user sees."""


class FileProblem(UserError):
    """A file that cannot be used: ``str(err)`` is ``path: reason``."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
