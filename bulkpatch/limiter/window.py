"""Recognising a quota of N requests per fixed window from the 429s it causes.

Such a limit lets a burst through at the start of each window, refuses the rest of the window
with a Retry-After that ends at the next boundary, and starts again. So the moments sending may
resume fall on the window's boundaries, a whole number of periods apart, and each cycle between
them lets the same number of requests through. Three resumes a whole number of equal periods
apart (within :data:`_TOLERANCE`: Retry-After is in whole seconds), with cycles within 10 % of
each other, name the window; the pace is then the quota spread evenly over it (2 % under),
with no probing above it.
"""

from __future__ import annotations

from collections import deque

_MIN_PERIOD = 5.0
#: Retry-After comes in whole seconds, so a resume is up to a second after the boundary.
_TOLERANCE = 1.5
_EVEN = 0.98


class WindowDetector:
    """The quota per window, once the refusals show one."""

    __slots__ = ("_cycles", "period", "quota")

    def __init__(self) -> None:
        #: (moment sending may resume, successes in the cycle that ended at that refusal)
        self._cycles: deque[tuple[float, float]] = deque(maxlen=3)
        self.period: float | None = None
        self.quota: int | None = None

    def __repr__(self) -> str:
        return f"<WindowDetector period={self.period} quota={self.quota}>"

    def refused(self, resume_at: float, cycle_successes: float) -> None:
        """A refusal ended a cycle of ``cycle_successes``; sending resumes at ``resume_at``."""
        if self.quota is not None:
            # Paced at the quota and refused all the same: it moved, or it was no window.
            self.quota = self.period = None
            self._cycles.clear()
        self._cycles.append((resume_at, cycle_successes))
        if len(self._cycles) < 3:
            return
        (first, _), (second, count_a), (third, count_b) = self._cycles
        gap_a, gap_b = second - first, third - second
        period = min(gap_a, gap_b)
        if period < _MIN_PERIOD or min(count_a, count_b) < 1:
            return
        whole_a, whole_b = round(gap_a / period), round(gap_b / period)
        aligned = (
            abs(gap_a - whole_a * period) <= _TOLERANCE
            and abs(gap_b - whole_b * period) <= _TOLERANCE
        )
        # A cycle that spanned several windows let several quotas through.
        per_window_a, per_window_b = count_a / whole_a, count_b / whole_b
        similar = abs(per_window_a - per_window_b) <= 0.1 * max(per_window_a, per_window_b)
        if aligned and similar:
            self.period = (gap_a + gap_b) / (whole_a + whole_b)
            self.quota = int(min(per_window_a, per_window_b))

    def quota_rate(self) -> float | None:
        """The even pace that spends the quota over the window, once a window is known."""
        if self.quota is None or self.period is None:
            return None
        return _EVEN * self.quota / self.period
