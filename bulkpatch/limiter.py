"""The one rate limiter all workers share: a ceiling, a Retry-After pause, and AIMD pacing.

* Pacing comes from :class:`aiolimiter.AsyncLimiter` at the current rate, never above the
  ceiling (``--max-rate``).
* A 429 pauses every worker until its Retry-After has passed: :meth:`acquire` lets nothing
  through before that moment. The first 429 of an episode also lowers the rate: to just under
  what the server let through in the last second, when that can be measured, else by half
  (multiplicative decrease). The 429s of requests that were already in flight belong to the
  same episode and change nothing more.
* While requests succeed, the rate climbs back a step about once a second (additive
  increase), quickly while far under the measured server rate, slowly near it, and never
  above it, the ceiling, or 97 % of the pace the last 429 came at: each probe above the
  server's limit costs a Retry-After, so a pace that was refused is not tried again soon.
  After two clean minutes that top rises 5 % (and 5 % more every two minutes after), so a
  limit that was low for a while (another client on the same token) is found again: a probe
  costs at most one Retry-After in two minutes.

The clock is injected, so tests move time by hand instead of sleeping.
"""

from __future__ import annotations

import math
from collections import deque

from aiolimiter import AsyncLimiter

from bulkpatch.clock import Clock, SystemClock

__all__ = ["AdaptiveLimiter", "Clock", "SystemClock"]


class _Pacer(AsyncLimiter):
    """aiolimiter's leaky bucket, with a rate that can change without emptying the bucket.

    A new AsyncLimiter per rate change would start empty and let a fresh burst through at
    every step, which is exactly what pushes a run over a server's limit. This changes the
    drain rate in place, after settling what drained at the old one. It touches aiolimiter's
    ``_leak``, ``_level``, ``_rate_per_sec`` and ``_wake_next``: constraints.txt pins the
    version and tests/test_limiter.py checks the behaviour.
    """

    __slots__ = ()

    def __init__(self, rate: float) -> None:
        capacity = _capacity(rate)
        super().__init__(capacity, capacity / rate)

    def set_rate(self, rate: float) -> None:
        """Drain at ``rate`` from now on; what is in the bucket stays there."""
        self._leak()
        capacity = _capacity(rate)
        self.max_rate = capacity
        self.time_period = capacity / rate
        self._rate_per_sec = rate
        self._level = min(self._level, capacity)
        if self._waiters:
            self._wake_next()  # the first waiter's wake-up time changes with the rate

    @property
    def level(self) -> float:
        """How full the bucket is, in requests."""
        self._leak()
        return self._level


_MEASURE_SECONDS = 2.0
#: How far under a refused pace the climb stops: a 429 came at that pace, so go 3 % below.
_REFUSED_MARGIN = 0.97
_RELAX_AFTER_SECONDS = 120.0
_RELAX_STEP = 0.05


def _capacity(rate: float) -> float:
    # A tenth of a second of requests: the pace stays even (bursts of rate/10 at most, well
    # inside a server's own burst), yet a timer that fires late costs nothing, where a bucket
    # of one would lose that lateness on every request.
    return max(1.0, rate / 10)


class AdaptiveLimiter:
    """Shared pacing for all workers: see the module docstring."""

    __slots__ = (
        "_clock",
        "_last_episode_at",
        "_pacer",
        "_paused_until",
        "_recent",
        "_resumed_at",
        "_since_step",
        "ceiling",
        "decrease",
        "episodes",
        "estimate",
        "min_rate",
        "rate",
        "refused_rate",
        "throttled",
    )

    def __init__(
        self, ceiling: float, clock: Clock, *, decrease: float = 0.5, min_rate: float = 0.2
    ) -> None:
        if ceiling <= 0:
            raise ValueError("the rate ceiling must be positive")
        self.ceiling = ceiling
        self.rate = ceiling
        self.decrease = decrease
        self.min_rate = min(min_rate, ceiling)
        #: The server's rate as measured before the last 429, once there is a measure.
        self.estimate: float | None = None
        #: The pace at which the last 429 came: the climb stays under it from then on.
        self.refused_rate: float | None = None
        self.throttled = 0
        self.episodes = 0
        self._clock = clock
        self._paused_until = 0.0
        self._resumed_at = clock.now()
        self._last_episode_at = clock.now()
        self._recent: deque[float] = deque()
        self._since_step = 0
        self._pacer = _Pacer(self.rate)

    def __repr__(self) -> str:
        paused = max(0.0, self._paused_until - self._clock.now())
        return f"<AdaptiveLimiter rate={self.rate:.2f}/s ceiling={self.ceiling:g}/s paused={paused:.2f}s 429s={self.throttled}>"

    @property
    def paused_for(self) -> float:
        """Seconds until sending may resume (0 when not paused)."""
        return max(0.0, self._paused_until - self._clock.now())

    async def acquire(self) -> None:
        """Wait until this worker may send one request."""
        while True:
            wait = self._paused_until - self._clock.now()
            if wait > 0:
                await self._clock.sleep(wait)
                continue
            await self._pacer.acquire()
            # A 429 may have come in while this worker waited for its slot: check again.
            if self._paused_until <= self._clock.now():
                return

    def on_throttle(self, pause: float) -> bool:
        """A 429 told everyone to wait ``pause`` seconds; return True if it began a new episode.

        The new pace: just under the rate the server let through in the last second of sending,
        when there was such a second; otherwise (a burst right after a start or a pause) the
        pace times ``decrease``.
        """
        self.throttled += 1
        now = self._clock.now()
        new_episode = now >= self._paused_until
        self._paused_until = max(self._paused_until, now + pause)
        if new_episode:
            self.episodes += 1
            self.refused_rate = self.rate
            self._last_episode_at = now
            measured = self._measured_rate(now)
            if measured is not None:
                self.estimate = measured
                self._set_rate(max(self.min_rate, min(self.rate, 0.95 * measured)))
            else:
                self._set_rate(max(self.min_rate, self.rate * self.decrease))
            self._resumed_at = self._paused_until
            self._recent.clear()
        self._since_step = 0
        return new_episode

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (a Retry-After an earlier run was given), rate unchanged."""
        self._paused_until = max(self._paused_until, self._clock.now() + seconds)
        self._resumed_at = max(self._resumed_at, self._paused_until)

    def on_success(self) -> None:
        """A request succeeded: about once a second of successes, raise the rate a step.

        Far under the top (the last measured server rate, or before any measure the
        ceiling), the step is a quarter of the pace, to get back quickly; near it, one percent
        of it. The top is also kept under the pace the last 429 came at: the measure counts
        the server's burst as rate, and a climb to it would be refused again and again.
        """
        now = self._clock.now()
        self._recent.append(now)
        while self._recent and self._recent[0] < now - _MEASURE_SECONDS:
            self._recent.popleft()
        self._since_step += 1
        top = self._top(now)
        if self.rate < top and self._since_step >= max(1.0, self.rate):
            self._since_step = 0
            near = self.estimate is not None and self.rate >= 0.9 * top
            step = 0.01 * top if near else 0.25 * self.rate
            self._set_rate(min(top, self.rate + max(0.1, step)))

    def _top(self, now: float) -> float:
        """The highest pace the climb may reach: see the module docstring."""
        learned = math.inf
        if self.estimate is not None:
            learned = self.estimate
        if self.refused_rate is not None:
            learned = min(learned, _REFUSED_MARGIN * self.refused_rate)
        clean_periods = (now - self._last_episode_at) // _RELAX_AFTER_SECONDS
        learned *= 1 + _RELAX_STEP * clean_periods
        return max(min(self.ceiling, learned), self.min_rate)

    def _measured_rate(self, now: float) -> float | None:
        """Successes per second over up to the last two seconds of sending, if at least one.

        Two seconds dilute the server's own burst, which the first second after a pause gets.
        """
        window = min(_MEASURE_SECONDS, now - self._resumed_at)
        if window < 1.0:
            return None
        count = sum(1 for moment in self._recent if moment >= now - window)
        return count / window if count else None

    def _set_rate(self, rate: float) -> None:
        if rate != self.rate:
            self.rate = rate
            self._pacer.set_rate(rate)
