"""Remaining-time estimate for progress bars (smoothed rate, human-readable text)."""

from __future__ import annotations

import time
from collections.abc import Callable


def format_duration(seconds: float) -> str:
    """``"<1 s"``, ``"42 s"``, ``"3 min 05 s"``, ``"2 h 07 min"``."""
    if seconds < 0.5:
        return "<1 s"  # a fast batch is "done in <1 s", not "done in 0 s"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class EtaEstimator:
    """Feed fractions done in [0, 1]; ``remaining()`` is seconds left (None until there is a rate)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        self._start = self._clock()
        self._fraction = 0.0

    def update(self, fraction: float | None) -> None:
        if fraction is not None:
            self._fraction = min(1.0, max(0.0, float(fraction)))

    def elapsed(self) -> float:
        return self._clock() - self._start

    def remaining(self) -> float | None:
        if self._fraction <= 0.0:
            return None
        return self.elapsed() * (1.0 - self._fraction) / self._fraction

    def text(self) -> str:
        left = self.remaining()
        if self._fraction >= 1.0:
            return f"done in {format_duration(self.elapsed())}"
        return "estimating…" if left is None else f"about {format_duration(left)} left"
