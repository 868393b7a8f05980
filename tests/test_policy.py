"""Retry verdicts, backoff, failure limits and deadlines: plain functions over values."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bulkpatch.policy import (
    Backoff,
    FailureLimit,
    Verdict,
    judge,
    parse_deadline,
    parse_failure_limit,
    retry_after_wait,
)


@pytest.mark.parametrize(
    ("status", "attempt", "verdict"),
    [
        (200, 1, Verdict.SUCCEEDED),
        (204, 1, Verdict.SUCCEEDED),
        (401, 1, Verdict.STOP_AUTH),
        *[(code, 1, Verdict.RETRY) for code in (429, 423, 500, 502, 503, 504)],
        (None, 1, Verdict.RETRY),
        (503, 5, Verdict.FAILED),
        (None, 5, Verdict.FAILED),
        *[(code, 1, Verdict.FAILED) for code in (400, 403, 404, 405, 409, 410, 415, 428, 501)],
    ],
)
def test_verdicts_follow_the_spec(status: int | None, attempt: int, verdict: Verdict) -> None:
    """Retry exactly 429, 423, 500, 502, 503, 504 and no answer, up to max_attempts (5 here)."""
    assert judge(status, attempt, 5) is verdict


def test_backoff_is_full_jitter_under_the_cap() -> None:
    """Each delay is uniform in [0, min(cap, base * 2**(attempt-1))]."""
    backoff, rng = Backoff(0.5, 4.0), random.Random(1)
    for attempt, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)):
        delays = [backoff.delay(attempt, rng) for _ in range(200)]
        assert min(delays) >= 0
        assert max(delays) <= ceiling
        assert max(delays) > ceiling * 0.8


def test_retry_after_wait_obeys_retry_after_or_backs_off_at_least_a_second() -> None:
    """A readable Retry-After is obeyed as given; without one, backoff never under 1 s."""
    rng = random.Random(2)
    assert retry_after_wait(7.5, 1, Backoff(), rng) == (7.5, "Retry-After")
    pauses = [retry_after_wait(None, 1, Backoff(0.5, 30), rng) for _ in range(50)]
    assert all(pause >= 1.0 and "backoff" in reason for pause, reason in pauses)


@pytest.mark.parametrize(
    ("text", "failed", "done", "exceeded"),
    [
        ("10", 10, 10, False),
        ("10", 11, 11, True),
        ("0", 1, 1, True),
        ("5%", 20, 99, False),  # under the minimum sample
        ("5%", 5, 100, False),
        ("5%", 6, 100, True),
        ("100%", 100, 100, False),
    ],
)
def test_failure_limits(text: str, failed: int, done: int, exceeded: bool) -> None:
    """A count stops past N failures; a percentage past P% once 100 rows are done."""
    assert parse_failure_limit(text).exceeded(failed, done) is exceeded


@pytest.mark.parametrize("text", ["ten", "-1", "150%", "%", "5.5"])
def test_bad_failure_limits(text: str) -> None:
    """Anything but a whole count or a percentage is refused with the flag named."""
    with pytest.raises(ValueError, match="--max-failures"):
        parse_failure_limit(text)


def test_failure_limit_shows_as_given() -> None:
    """The limit prints as the user wrote it."""
    assert (str(FailureLimit(count=3)), str(FailureLimit(percent=2.5))) == ("3", "2.5%")


LOCAL = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("06:00", datetime(2026, 11, 26, 6, 0, tzinfo=LOCAL)),  # passed today: tomorrow
        ("23:30", datetime(2026, 11, 25, 23, 30, tzinfo=LOCAL)),
        ("2026-11-27T05:00:00+00:00", datetime(2026, 11, 27, 5, 0, tzinfo=UTC)),
        ("2026-11-27T05:00", datetime(2026, 11, 27, 5, 0, tzinfo=LOCAL)),
    ],
)
def test_deadlines(text: str, expected: datetime) -> None:
    """A bare time is its next local occurrence; ISO 8601 is taken as given (local if no offset)."""
    now = datetime(2026, 11, 25, 22, 15, tzinfo=LOCAL)
    assert parse_deadline(text, now) == expected


def test_bad_deadline() -> None:
    """A deadline that is neither a time nor a date-time is refused with the flag named."""
    with pytest.raises(ValueError, match="--deadline"):
        parse_deadline("tomorrow morning", datetime(2026, 11, 25, tzinfo=UTC))
