"""Adaptive draft resolution: the largest early-exit resolution whose frame fits the time budget.

The policy works on measured frame times only (the worker records every draft frame it renders):

- before any measurement it starts at a middle resolution;
- a resolution whose recent frames took longer than the budget is a ceiling: the next pick is below it;
- above the largest resolution that fits, the next larger one is tried once when it has no recent
  measurement (it was never tried, or its last frames are ``stale_frames`` draft frames old), so the
  size climbs back when the machine gets less busy, and a too-slow probe costs one frame per
  ``stale_frames`` frames.

The ``preview/policy`` setting (:data:`POLICIES`) can override it: ``smallest`` always drafts at the
smallest resolution, ``full`` always at the largest (the model's own size); ``adaptive`` is the above.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: one draft frame must take at most this long while the user drags (seconds)
DRAFT_BUDGET_S = 0.150
#: a measurement older than this many draft frames no longer counts (the machine's load changes)
STALE_FRAMES = 30
#: the draft size policies (the studio's ``preview/policy`` setting)
POLICIES = ("adaptive", "smallest", "full")


@dataclass
class _Sample:
    seconds: float  # smoothed frame time
    frame: int  # index of the draft frame that last updated it


class AdaptiveDraftSize:
    """Measured frame times per resolution, and the draft resolution they call for (see the module doc)."""

    def __init__(self, resolutions: Sequence[int], budget_s: float = DRAFT_BUDGET_S, smoothing: float = 0.5,
                 stale_frames: int = STALE_FRAMES, policy: str = "adaptive") -> None:
        self.resolutions = sorted(int(r) for r in resolutions if r >= 8) or sorted(int(r) for r in resolutions)
        self.budget_s = budget_s
        self.smoothing = smoothing
        self.stale_frames = stale_frames
        self.frames = 0
        self._samples: dict[int, _Sample] = {}
        self.policy = "adaptive"
        self.set_policy(policy)

    def set_policy(self, policy: str) -> None:
        """One of :data:`POLICIES` (an unknown name raises ValueError)."""
        if policy not in POLICIES:
            raise ValueError(f"unknown preview policy {policy!r} (one of {', '.join(POLICIES)})")
        self.policy = policy

    @property
    def measured(self) -> dict[int, float]:
        """Smoothed frame time per resolution (recent or not)."""
        return {r: s.seconds for r, s in self._samples.items()}

    def record(self, resolution: int, seconds: float) -> None:
        """One rendered draft frame at ``resolution`` took ``seconds``."""
        self.frames += 1
        old = self._samples.get(resolution)
        if old is None or self._stale(old):
            value = float(seconds)
        else:
            value = old.seconds + self.smoothing * (float(seconds) - old.seconds)
        self._samples[resolution] = _Sample(value, self.frames)

    def _stale(self, sample: _Sample) -> bool:
        return self.frames - sample.frame >= self.stale_frames

    def recent(self, resolution: int) -> float | None:
        """The smoothed frame time at ``resolution`` when measured within the last ``stale_frames`` frames."""
        s = self._samples.get(resolution)
        return None if s is None or self._stale(s) else s.seconds

    def pick(self) -> int:
        """The resolution of the next draft frame."""
        if self.policy == "smallest":
            return self.resolutions[0]
        if self.policy == "full":
            return self.resolutions[-1]
        times = {r: self.recent(r) for r in self.resolutions}
        over = [r for r, t in times.items() if t is not None and t > self.budget_s]
        ceiling = min(over) if over else None
        below = [r for r in self.resolutions if ceiling is None or r < ceiling]
        if not below:
            return self.resolutions[0]
        fits = [r for r in below if times[r] is not None]
        if not fits:  # nothing recent fits: the middle size to start, else one step below the ceiling
            return self.resolutions[len(self.resolutions) // 2] if ceiling is None else below[-1]
        best = max(fits)
        i = self.resolutions.index(best)
        if i + 1 < len(self.resolutions):
            nxt = self.resolutions[i + 1]
            if (ceiling is None or nxt < ceiling) and times[nxt] is None:
                return nxt  # try one size up (never tried, or not for a while)
        return best
