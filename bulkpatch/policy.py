"""Retry and backoff decisions: plain functions from an answer to what happens next.

SPEC section 4: 429, 423, 500, 502, 503, 504, timeouts and connection errors are retried up to
the configured number of attempts; 401 stops the run; any other status fails the row with the
API's own message (403 also counts toward the "many consecutive 403s" stop).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

RETRYABLE = frozenset({429, 423, 500, 502, 503, 504})
MIN_UNREADABLE_RETRY_AFTER = 1.0


class Verdict(StrEnum):
    """What to do with a row after one attempt."""

    SUCCEEDED = "succeeded"
    RETRY = "retry"
    FAILED = "failed"
    STOP_AUTH = "stop_auth"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**(attempt-1)))."""

    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        return rng.uniform(0.0, min(self.cap, self.base * 2 ** max(0, attempt - 1)))


def judge(status: int | None, attempt: int, max_attempts: int) -> Verdict:
    """The verdict for an answer (``None`` = no answer at all) after ``attempt`` attempts."""
    if status is not None and 200 <= status < 300:
        return Verdict.SUCCEEDED
    if status == 401:
        return Verdict.STOP_AUTH
    retryable = status is None or status in RETRYABLE
    if retryable and attempt < max_attempts:
        return Verdict.RETRY
    return Verdict.FAILED


def retry_after_wait(
    retry_after: float | None, attempt: int, backoff: Backoff, rng: random.Random
) -> tuple[float, str]:
    """How long to wait after a 429 (everyone) or a 423 (that row), and why (for the log).

    A readable Retry-After is obeyed as given; an unreadable or missing one falls back to the
    backoff, never under one second.
    """
    if retry_after is not None:
        return retry_after, "Retry-After"
    return max(
        MIN_UNREADABLE_RETRY_AFTER, backoff.delay(attempt, rng)
    ), "backoff (no usable Retry-After)"


@dataclass(frozen=True, slots=True)
class FailureLimit:
    """--max-failures: a number of failed rows, or a share of the rows done (after a sample)."""

    count: int | None = None
    percent: float | None = None
    min_sample: int = 100

    def exceeded(self, failed: int, done: int) -> bool:
        """Whether this many failures out of this many rows done is past the limit."""
        if self.count is not None:
            return failed > self.count
        if self.percent is not None and done >= self.min_sample:
            return failed * 100 > self.percent * done
        return False

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.count)


def parse_failure_limit(text: str) -> FailureLimit:
    """``25`` (rows) or ``5%`` (of the rows done, once at least 100 are done)."""
    value = text.strip()
    try:
        if value.endswith("%"):
            percent = float(value[:-1])
            if 0 <= percent <= 100:
                return FailureLimit(percent=percent)
        elif int(value) >= 0:
            return FailureLimit(count=int(value))
    except ValueError:
        pass
    raise ValueError(
        f"--max-failures takes a number of rows (25) or a percentage (5%), not {text!r}"
    )


def parse_deadline(text: str, now: datetime) -> datetime:
    """When to stop: ``06:00`` (the next such local time) or an ISO 8601 date and time.

    ``now`` is aware and local; a time without date is today's, or tomorrow's once passed.
    """
    value = text.strip()
    try:
        clock = time.fromisoformat(value)
    except ValueError:
        pass
    else:
        moment = datetime.combine(now.date(), clock.replace(tzinfo=None), tzinfo=now.tzinfo)
        return moment if moment > now else moment + timedelta(days=1)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"--deadline takes a time (06:00) or an ISO 8601 date and time, not {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=now.tzinfo)
