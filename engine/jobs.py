"""One progress and cancel contract for every long engine operation.

A long call takes ``progress: ProgressFn | None = None`` and ``cancel: CancelToken | None = None``.
It reports :class:`Progress` values through ``progress`` (never prints) and checks the token at least
once per step, so a cancel is honoured within one step. A cancelled call raises :class:`Cancelled`,
unless its docstring says it returns a partial result marked as cancelled.

Front-ends (the CLI, the studio's worker, the batch runner) own the token and the callback; the engine
never keeps either beyond the call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Cancelled(Exception):
    """The job was cancelled through its :class:`CancelToken`. Not a user error: callers expect it."""

    def __init__(self, job: str = "") -> None:
        self.job = job
        super().__init__(f"{job} cancelled" if job else "cancelled")


class CancelToken:
    """Thread-safe cancel flag, set from any thread (a GUI button, a signal handler)."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self, job: str = "") -> None:
        if self._event.is_set():
            raise Cancelled(job)

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking at once on cancel; True when cancelled."""
        return self._event.wait(timeout)


@dataclass
class Progress:
    """One report from a running job.

    ``step`` counts finished units of ``total`` (None when the total is unknown); ``values`` carries
    numbers worth plotting (losses, PSNR, images per second); ``preview`` an optional image
    (a PIL image or a [3, H, W] tensor in [-1, 1], on the CPU).
    """

    job: str
    step: int = 0
    total: int | None = None
    message: str = ""
    values: dict[str, float] = field(default_factory=dict)
    preview: Any = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, max(0.0, self.step / self.total))


ProgressFn = Callable[[Progress], None]


def is_cancelled(cancel: CancelToken | None) -> bool:
    return cancel is not None and cancel.cancelled


def check_cancel(cancel: CancelToken | None, job: str = "") -> None:
    """Raise :class:`Cancelled` when ``cancel`` is set (no-op for None)."""
    if cancel is not None:
        cancel.raise_if_cancelled(job)


def report(progress: ProgressFn | None, job: str, step: int = 0, total: int | None = None, message: str = "",
           values: dict[str, float] | None = None, preview: Any = None) -> None:
    """Call ``progress`` (if any) with a :class:`Progress`."""
    if progress is not None:
        progress(Progress(job, step, total, message, dict(values or {}), preview))


class Throttle:
    """Wrap a :data:`ProgressFn` so that it is called at most every ``interval`` seconds.

    The first report and every report with ``step == total`` always pass, so a finished job is always
    seen as finished.
    """

    def __init__(self, progress: ProgressFn, interval: float = 0.05, clock: Callable[[], float] = time.monotonic):
        self._progress = progress
        self._interval = interval
        self._clock = clock
        self._last: float | None = None

    def __call__(self, p: Progress) -> None:
        now = self._clock()
        final = p.total is not None and p.step >= p.total
        if self._last is None or final or now - self._last >= self._interval:
            self._last = now
            self._progress(p)
