"""Adaptive draft resolution: the largest early-exit resolution whose frame fits the time budget."""

from __future__ import annotations

from collections.abc import Sequence

#: one draft frame must take at most this long while the user drags (seconds)
DRAFT_BUDGET_S = 0.150


class AdaptiveDraftSize:
    """Keeps measured frame times per resolution and picks the draft resolution from them.

    Unmeasured resolutions are estimated from the nearest measured one (time ~ pixels).
    """

    def __init__(self, resolutions: Sequence[int], budget_s: float = DRAFT_BUDGET_S, smoothing: float = 0.5):
        self.resolutions = sorted(int(r) for r in resolutions if r >= 8) or sorted(resolutions)
        self.budget_s = budget_s
        self.smoothing = smoothing
        self.measured: dict[int, float] = {}

    def record(self, resolution: int, seconds: float) -> None:
        old = self.measured.get(resolution)
        self.measured[resolution] = seconds if old is None else old + self.smoothing * (seconds - old)

    def estimate(self, resolution: int) -> float | None:
        if resolution in self.measured:
            return self.measured[resolution]
        if not self.measured:
            return None
        near = min(self.measured, key=lambda r: abs(r - resolution))
        return self.measured[near] * (resolution / near) ** 2

    def pick(self) -> int:
        """Largest resolution estimated within budget; a mid-small one before any measurement."""
        if not self.measured:
            return self.resolutions[min(len(self.resolutions) - 1, max(0, len(self.resolutions) // 2))]
        best = self.resolutions[0]
        for r in self.resolutions:
            est = self.estimate(r)
            if est is not None and est <= self.budget_s:
                best = r
        return best
