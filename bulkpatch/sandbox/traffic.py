"""What the sandbox does to traffic: per-token rate limits, faults on demand, and the stats.

Clocks are injected (a ``() -> float`` of monotonic seconds) so tests drive time by hand.
"""

from __future__ import annotations

import hashlib
import math
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Clock = Callable[[], float]
FAULT_STATUSES = (500, 502, 503, 504)


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


FaultKind = Literal["status", "drop", "locked"]


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected failure: an error status, a dropped connection, or 423 Locked."""

    kind: FaultKind
    status: int = 0


@dataclass
class Faults:
    """Failures on demand, drawn from a seeded RNG; change the fields at run time to switch them."""

    latency_ms: tuple[float, float] = (0.0, 0.0)
    fault_rate: float = 0.0
    locked_rate: float = 0.0
    locked_retry_after: int = 1
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def latency(self) -> float:
        """Seconds to wait before answering."""
        low, high = self.latency_ms
        return (low if high <= low else self.rng.uniform(low, high)) / 1000

    def draw(self) -> Fault | None:
        """The fault for this request, if any (nothing is applied when there is one)."""
        roll = self.rng.random()
        if roll < self.fault_rate:
            choice = self.rng.randrange(len(FAULT_STATUSES) + 1)
            return (
                Fault("drop")
                if choice == len(FAULT_STATUSES)
                else Fault("status", FAULT_STATUSES[choice])
            )
        if roll < self.fault_rate + self.locked_rate:
            return Fault("locked", 423)
        return None


def parse_latency(text: str) -> tuple[float, float]:
    """``"200"`` or ``"50-250"`` milliseconds."""
    low, _, high = text.partition("-")
    first = float(low)
    second = float(high) if high else first
    if first < 0 or second < first:
        raise ValueError(f"latency must be MS or MIN-MAX with 0 <= MIN <= MAX, not {text!r}")
    return first, second


def fingerprint(token: str) -> str:
    """A short, one-way name for a token, safe to show in stats and logs."""
    return hashlib.sha256(token.encode()).hexdigest()[:8]


@dataclass
class Stats:
    """What the sandbox saw; served at ``GET /_sandbox/stats``."""

    requests: Counter[str] = field(default_factory=Counter)
    patches_applied: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    throttled: int = 0
    violations: list[dict[str, Any]] = field(default_factory=list)
    violations_by_limit: Counter[str] = field(default_factory=Counter)
    throttled_by_limit: Counter[str] = field(default_factory=Counter)
    cancelled_occurrences: int = 0
    refreshes: int = 0
    expired_tokens: set[str] = field(default_factory=set)
    #: Per second since start: [requests, 429s], for charts of how a client paced itself.
    timeline: dict[int, list[int]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    #: When the first API request came in and the last answer went out: one yardstick for
    #: every client's speed, whatever it measures itself.
    first_request_at: float | None = None
    last_answer_at: float | None = None

    def enter(self) -> None:
        if self.first_request_at is None:
            self.first_request_at = time.monotonic()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        self.in_flight -= 1

    def count(self, method: str, status: int | str) -> None:
        self.requests[f"{method} {status}"] += 1
        self.last_answer_at = time.monotonic()
        second = self.timeline.setdefault(int(self.last_answer_at - self.started), [0, 0])
        second[0] += 1
        second[1] += status == 429

    @property
    def busy_seconds(self) -> float:
        """From the first request in to the last answer out (0 before any)."""
        if self.first_request_at is None or self.last_answer_at is None:
            return 0.0
        return round(self.last_answer_at - self.first_request_at, 3)

    def violation(self, token: str, throttle: Throttle) -> None:
        self.violations_by_limit[throttle.limit] += 1
        self.violations.append(
            {
                "at": datetime.now(UTC).isoformat(),
                "token": fingerprint(token),
                "earlyBySeconds": round(throttle.early_by, 3),
                "limit": throttle.limit,
            }
        )

    def snapshot(
        self, include_meetings: bool = True, include_timeline: bool = False
    ) -> dict[str, Any]:
        """A JSON-ready copy."""
        counts = self.patches_applied
        snapshot: dict[str, Any] = {
            "requests": dict(sorted(self.requests.items())),
            "patchesApplied": sum(counts.values()),
            "meetingsPatched": len(counts),
            "meetingsPatchedMoreThanOnce": sum(1 for n in counts.values() if n > 1),
            "maxConcurrentRequests": self.max_in_flight,
            "throttled": self.throttled,
            "retryAfterViolations": len(self.violations),
            "retryAfterViolationsByLimit": dict(sorted(self.violations_by_limit.items())),
            "throttledByLimit": dict(sorted(self.throttled_by_limit.items())),
            "violations": self.violations[-100:],
            "cancelledOccurrences": self.cancelled_occurrences,
            "tokenRefreshes": self.refreshes,
            "expiredTokensSeen": len(self.expired_tokens),
            "busySeconds": self.busy_seconds,
        }
        if self.first_request_at is not None:
            # Where the timeline's seconds stand against windows and schedules (which count
            # from the first request).
            snapshot["firstRequestSecond"] = round(self.first_request_at - self.started, 3)
        if include_meetings:
            snapshot["patchesPerMeeting"] = dict(counts)
        if include_timeline:
            snapshot["timeline"] = [
                [second, *counts_] for second, counts_ in sorted(self.timeline.items())
            ]
        return snapshot


class TokenIssuer:
    """Access tokens that expire ``ttl`` seconds after they are issued, and their refresh.

    The first token is the one given at start; each refresh with the right refresh token
    issues a new one (the old ones keep working until they expire, as with the real API).
    """

    __slots__ = ("_clock", "_expiry", "refresh_token", "ttl")

    def __init__(
        self, first_token: str, refresh_token: str, ttl: float | None, clock: Clock
    ) -> None:
        self.refresh_token = refresh_token
        self.ttl = ttl
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._issue(first_token)

    def __repr__(self) -> str:
        return f"<TokenIssuer ttl={self.ttl} issued={len(self._expiry)}>"

    def _issue(self, token: str) -> None:
        self._expiry[token] = math.inf if self.ttl is None else self._clock() + self.ttl

    def valid(self, token: str) -> bool:
        """Issued and not expired."""
        return self._clock() < self._expiry.get(token, -math.inf)

    def expired(self, token: str) -> bool:
        """Issued once, and past its lifetime."""
        return token in self._expiry and not self.valid(token)

    def refresh(self, refresh_token: str) -> dict[str, Any] | None:
        """An OAuth2 token answer for the right refresh token, None otherwise."""
        if not refresh_token or refresh_token != self.refresh_token:
            return None
        token = f"sbx-{secrets.token_hex(16)}"
        self._issue(token)
        lifetime = 1_209_600 if self.ttl is None else self.ttl
        return {
            "access_token": token,
            "expires_in": lifetime,
            "refresh_token": self.refresh_token,
            "refresh_token_expires_in": 7_776_000,
            "token_type": "Bearer",
        }
