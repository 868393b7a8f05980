"""The sandbox's rate limits: a token bucket per access token, and the options to try a limiter.

Clocks are injected (a ``() -> float`` of monotonic seconds) so tests drive time by hand.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Throttle:
    """Answer 429 with this Retry-After; ``violation`` if the client had already been told to wait.

    ``limit`` names the limit that refused: ``rate`` (the token bucket), ``read`` (the bucket
    of GETs when they have their own) or ``window`` (the fixed-window quota).
    """

    retry_after: int
    violation: bool
    early_by: float = 0.0
    limit: str = "rate"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    deadline: float = 0.0
    told_at: float = 0.0
    #: The fixed window this bucket counts in, and how many requests it let through there.
    window: int = -1
    used: int = 0


def parse_schedule(text: str) -> tuple[tuple[float, float], ...]:
    """``"0:50,60:25,180:50"``: from second 0 the rate is 50/s, from second 60 it is 25/s, ..."""
    steps = []
    for part in text.split(","):
        at, _, rate = part.strip().partition(":")
        try:
            step = (float(at), float(rate))
        except ValueError:
            step = (-1.0, 0.0)
        if step[0] < 0 or step[1] <= 0:
            raise ValueError(
                f"a rate schedule is SECONDS:RATE,... with rates above 0, not {text!r}"
            )
        steps.append(step)
    steps.sort()
    if not steps or steps[0][0] != 0:
        raise ValueError(f"a rate schedule starts at second 0 (0:RATE,...), not {text!r}")
    return tuple(steps)


class RateLimits:
    """Per access token: a token bucket, optionally a fixed-window quota; beyond them, 429.

    Every 429 sets a deadline on the limit that refused; a request to that limit before it is
    a Retry-After violation when it arrives more than ``grace`` seconds after the 429 that set
    it (requests already in flight then could not have known), or on a connection that itself
    received that 429. Options, each off by default:

    * ``retry_after_min``: no Retry-After under this many seconds (a server that asks for a
      minute whatever the overshoot).
    * ``window`` and ``quota``: at most ``quota`` requests per token in each fixed window of
      ``window`` seconds (windows start at the first request); beyond it, 429 until the window
      ends.
    * ``schedule``: the bucket's rate changes at these seconds after the first request.
    * ``read_rate`` and ``read_burst``: GETs have a bucket of their own.
    """

    __slots__ = (
        "_buckets",
        "_clock",
        "_connections",
        "_started",
        "burst",
        "grace",
        "quota",
        "rate",
        "read_burst",
        "read_rate",
        "retry_after_min",
        "schedule",
        "window",
    )

    def __init__(
        self,
        rate: float | None,
        burst: int,
        clock: Clock,
        grace: float = 0.1,
        *,
        retry_after_min: float = 0.0,
        window: float | None = None,
        quota: int | None = None,
        schedule: tuple[tuple[float, float], ...] = (),
        read_rate: float | None = None,
        read_burst: int | None = None,
    ) -> None:
        if (window is None) != (quota is None):
            raise ValueError("a window quota needs both a window (seconds) and a quota")
        self.rate = rate
        self.burst = burst
        self.grace = grace
        self.retry_after_min = retry_after_min
        self.window = window
        self.quota = quota
        self.schedule = schedule
        self.read_rate = read_rate
        self.read_burst = read_burst
        self._clock = clock
        self._started: float | None = None
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._connections: dict[int, float] = {}

    def __repr__(self) -> str:
        return f"<RateLimits rate={self.rate} burst={self.burst} window={self.window} quota={self.quota} tokens={len(self._buckets)}>"

    @property
    def started(self) -> float | None:
        """When the first request came (windows and the schedule count from it)."""
        return self._started

    def rate_now(self, now: float) -> float | None:
        """The bucket's rate at ``now`` (from the schedule when there is one)."""
        if not self.schedule or self._started is None:
            return self.rate
        elapsed = now - self._started
        current = self.schedule[0][1]
        for at, rate in self.schedule:
            if elapsed >= at:
                current = rate
        return current

    def admit(self, token: str, connection: int, method: str = "PATCH") -> Throttle | None:
        """None to let the request through, or how to refuse it."""
        now = self._clock()
        if self._started is None:
            self._started = now
        limits: list[tuple[str, float, int]] = []
        if method == "GET" and self.read_rate is not None:
            limits.append(("read", self.read_rate, self.read_burst or self.burst))
        else:
            rate = self.rate_now(now)
            if rate is not None:
                limits.append(("rate", rate, self.burst))
        if self.window is not None:
            limits.append(("window", 0.0, 0))
        for name, rate, burst in limits:
            throttle = self._check(token, name, rate, burst, connection, now)
            if throttle is not None:
                return throttle
        return None

    def _check(
        self, token: str, name: str, rate: float, burst: int, connection: int, now: float
    ) -> Throttle | None:
        bucket = self._buckets.get((token, name))
        if bucket is None:
            bucket = self._buckets[token, name] = _Bucket(float(burst), now)
        if now < bucket.deadline:
            same_connection = self._connections.get(connection, 0.0) > now
            violation = same_connection or now > bucket.told_at + self.grace
            self._remember(connection, bucket.deadline, now)
            wait = bucket.deadline - now
            return Throttle(max(1, math.ceil(wait)), violation, wait, name)
        if name == "window":
            return self._check_window(bucket, connection, now)
        bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        retry_after = max(
            1, math.ceil(self.retry_after_min), math.ceil((1.0 - bucket.tokens) / rate)
        )
        return self._refuse(bucket, connection, now, retry_after, name)

    def _check_window(self, bucket: _Bucket, connection: int, now: float) -> Throttle | None:
        assert self.window is not None
        assert self.quota is not None
        assert self._started is not None
        index = int((now - self._started) // self.window)
        if index != bucket.window:
            bucket.window, bucket.used = index, 0
        if bucket.used < self.quota:
            bucket.used += 1
            return None
        window_end = self._started + (index + 1) * self.window
        retry_after = max(1, math.ceil(self.retry_after_min), math.ceil(window_end - now))
        return self._refuse(bucket, connection, now, retry_after, "window")

    def _refuse(
        self, bucket: _Bucket, connection: int, now: float, retry_after: int, name: str
    ) -> Throttle:
        bucket.deadline, bucket.told_at = now + retry_after, now
        self._remember(connection, bucket.deadline, now)
        return Throttle(retry_after, violation=False, limit=name)

    def _remember(self, connection: int, deadline: float, now: float) -> None:
        if len(self._connections) > 10_000:
            self._connections = {key: end for key, end in self._connections.items() if end > now}
        self._connections[connection] = deadline
