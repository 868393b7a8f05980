"""The one rate limiter all workers share: a ceiling, a Retry-After pause, and AIMD pacing.

* Pacing comes from :class:`aiolimiter.AsyncLimiter` at the current rate, never above the
  ceiling (``--max-rate``).
* A 429 pauses every worker until its Retry-After has passed: :meth:`acquire` lets nothing
  through before that moment. The first 429 of an episode also halves the rate
  (multiplicative decrease); the 429s of requests that were already in flight belong to the
  same episode and change nothing more.
* While requests succeed, the rate climbs back a step about once a second (additive
  increase), up to the ceiling.

The clock is injected, so tests move time by hand instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import anyio
from aiolimiter import AsyncLimiter


class Clock(Protocol):
    """Monotonic seconds, a way to wait, and the wall clock."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> Awaitable[None]: ...

    def wall(self) -> datetime: ...


@dataclass(frozen=True)
class SystemClock:
    """The real clock."""

    now: Callable[[], float] = field(default=time.monotonic)
    sleep: Callable[[float], Awaitable[None]] = field(default=anyio.sleep)

    def wall(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)


class AdaptiveLimiter:
    """Shared pacing for all workers: see the module docstring."""

    __slots__ = (
        "_clock",
        "_pacer",
        "_paused_until",
        "_successes",
        "ceiling",
        "decrease",
        "episodes",
        "min_rate",
        "rate",
        "step",
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
        self.step = max(0.1, ceiling * 0.05)
        self.throttled = 0
        self.episodes = 0
        self._clock = clock
        self._paused_until = 0.0
        self._successes = 0
        self._pacer = self._new_pacer()

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
        """A 429 told everyone to wait ``pause`` seconds; return True if it began a new episode."""
        self.throttled += 1
        now = self._clock.now()
        new_episode = now >= self._paused_until
        self._paused_until = max(self._paused_until, now + pause)
        if new_episode:
            self.episodes += 1
            self._set_rate(max(self.min_rate, self.rate * self.decrease))
        self._successes = 0
        return new_episode

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (a Retry-After an earlier run was given), rate unchanged."""
        self._paused_until = max(self._paused_until, self._clock.now() + seconds)

    def on_success(self) -> None:
        """A request succeeded: about once a second of successes, raise the rate a step."""
        self._successes += 1
        if self.rate < self.ceiling and self._successes >= max(1.0, self.rate):
            self._successes = 0
            self._set_rate(min(self.ceiling, self.rate + self.step))

    def _set_rate(self, rate: float) -> None:
        if rate != self.rate:
            self.rate = rate
            self._pacer = self._new_pacer()

    def _new_pacer(self) -> AsyncLimiter:
        # A leaky bucket holding a tenth of a second of requests: the pace stays even (bursts of
        # rate/10 at most, well inside a server's own burst), yet a timer that fires late costs
        # nothing, where a bucket of one would lose that lateness on every request.
        capacity = max(1.0, self.rate / 10)
        return AsyncLimiter(capacity, capacity / self.rate)
