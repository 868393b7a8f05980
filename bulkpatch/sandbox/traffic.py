"""What the sandbox does to traffic: rate limits (limits.py), faults on demand, and the stats.

Clocks are injected (a ``() -> float`` of monotonic seconds) so tests drive time by hand.
"""

from __future__ import annotations

import hashlib
import math
import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from bulkpatch.sandbox.limits import Clock, RateLimits, Throttle, parse_schedule

__all__ = [
    "FAULT_STATUSES",
    "Clock",
    "Fault",
    "Faults",
    "RateLimits",
    "Stats",
    "Throttle",
    "TokenIssuer",
    "fingerprint",
    "parse_latency",
    "parse_schedule",
]

FAULT_STATUSES = (500, 502, 503, 504)


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
    """Access tokens that expire, and their refresh.

    A token expires ``ttl`` seconds after it is issued, or once it has been accepted for
    ``uses`` requests (a lifetime counted in requests: tests of refresh never depend on how
    fast a machine is). The first token is the one given at start; each refresh with the right
    refresh token issues a new one (the old ones keep working until they expire, as with the
    real API).
    """

    __slots__ = ("_clock", "_expiry", "_used", "refresh_token", "ttl", "uses")

    def __init__(
        self,
        first_token: str,
        refresh_token: str,
        ttl: float | None,
        clock: Clock,
        uses: int | None = None,
    ) -> None:
        self.refresh_token = refresh_token
        self.ttl = ttl
        self.uses = uses
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._used: Counter[str] = Counter()
        self._issue(first_token)

    def __repr__(self) -> str:
        return f"<TokenIssuer ttl={self.ttl} uses={self.uses} issued={len(self._expiry)}>"

    def _issue(self, token: str) -> None:
        self._expiry[token] = math.inf if self.ttl is None else self._clock() + self.ttl

    def valid(self, token: str) -> bool:
        """Issued and not expired."""
        if self.uses is not None and self._used[token] >= self.uses:
            return False
        return self._clock() < self._expiry.get(token, -math.inf)

    def spend(self, token: str) -> None:
        """The token was accepted for one more request."""
        self._used[token] += 1

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
