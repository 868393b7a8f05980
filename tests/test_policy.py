"""Retry verdicts, backoff, failure limits and deadlines: plain functions over values."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bulkpatch.policy import (
    Action,
    Backoff,
    FailureLimit,
    Limits,
    StopReason,
    Streaks,
    decide,
    parse_deadline,
    parse_failure_limit,
    retry_after_wait,
)

LIMITS = Limits(max_attempts=5, backoff=Backoff(0.5, 4.0))


def decided(
    status: int | None,
    attempt: int = 1,
    retry_after: float | None = None,
    streaks: Streaks | None = None,
    limits: Limits = LIMITS,
) -> tuple[Action, StopReason | None]:
    streak = streaks if streaks is not None else Streaks().after(status)
    decision = decide(status, retry_after, attempt, streak, limits, random.Random(1))
    return decision.action, decision.stop


@pytest.mark.parametrize(
    ("status", "attempt", "action"),
    [
        (200, 1, Action.DONE),
        (204, 1, Action.DONE),
        (401, 1, Action.REFRESH),
        *[(code, 1, Action.RETRY) for code in (429, 423, 500, 502, 503, 504)],
        (None, 1, Action.RETRY),
        (503, 5, Action.FAIL),
        *[(code, 1, Action.FAIL) for code in (400, 403, 404, 405, 409, 410, 415, 428, 501)],
        *[(code, 1, Action.STOP) for code in (301, 302, 303, 307, 308)],
    ],
)
def test_decisions_follow_the_spec(status: int | None, attempt: int, action: Action) -> None:
    """Retry exactly 429, 423, 500, 502, 503, 504 and no answer, up to max_attempts (5 here);
    a redirect stops the run."""
    assert decided(status, attempt)[0] is action


def test_a_429_holds_everyone_a_423_only_its_row() -> None:
    """A 429's Retry-After is for every request; a 423's only for the row it answered."""
    rng = random.Random(1)
    throttled = decide(429, 3.0, 1, Streaks(), LIMITS, rng)
    locked = decide(423, 3.0, 1, Streaks(), LIMITS, rng)
    assert (throttled.wait, throttled.for_everyone) == (3.0, True)
    assert (locked.wait, locked.for_everyone) == (3.0, False)


@pytest.mark.parametrize(
    ("status", "wait", "action", "stop"),
    [
        (429, 86_400.0, Action.STOP, StopReason.RETRY_AFTER),
        (429, 1e12, Action.STOP, StopReason.RETRY_AFTER),
        (423, 86_400.0, Action.FAIL, None),
        (429, 900.0, Action.RETRY, None),
    ],
)
def test_a_retry_after_longer_than_the_limit_is_not_slept(
    status: int, wait: float, action: Action, stop: StopReason | None
) -> None:
    """Past max_retry_after a 429 stops the run (resumable) and a 423 fails its row."""
    limits = Limits(max_retry_after=900.0)
    assert decided(status, retry_after=wait, limits=limits) == (action, stop)


def test_no_answer_many_times_in_a_row_stops_the_run() -> None:
    """Connection-level failures across rows stop the run once they reach the limit."""
    limits = Limits(max_attempts=5, max_connection_failures=3)
    streaks = Streaks()
    for _ in range(2):
        streaks = streaks.after(None)
        assert decided(None, 1, streaks=streaks, limits=limits)[0] is Action.RETRY
    streaks = streaks.after(None)
    assert decided(None, 1, streaks=streaks, limits=limits) == (
        Action.STOP,
        StopReason.UNREACHABLE,
    )


def test_a_row_never_answered_stops_the_run_instead_of_failing() -> None:
    """A row whose every attempt went unanswered, with nothing answered meanwhile: the host."""
    limits = Limits(max_attempts=3, max_connection_failures=10)
    streaks = Streaks(no_answer=3)
    assert decided(None, 3, streaks=streaks, limits=limits) == (Action.STOP, StopReason.UNREACHABLE)
    answered_meanwhile = Streaks(no_answer=1)
    assert decided(None, 3, streaks=answered_meanwhile, limits=limits) == (Action.FAIL, None)


def test_one_dropped_connection_is_not_the_host() -> None:
    """With one attempt a row, a row that got no answer is tried again (up to three times) to
    tell a dropped connection from a host that is down: the row fails only if something else
    was answered meanwhile, and the run stops (its rows pending) if nothing was."""
    limits = Limits(max_attempts=1, max_connection_failures=10)
    assert decided(None, 1, streaks=Streaks(no_answer=1), limits=limits)[0] is Action.RETRY
    assert decided(None, 2, streaks=Streaks(no_answer=1), limits=limits) == (Action.FAIL, None)
    assert decided(None, 3, streaks=Streaks(no_answer=3), limits=limits) == (
        Action.STOP,
        StopReason.UNREACHABLE,
    )
    assert decided(503, 1, streaks=Streaks(), limits=limits) == (Action.FAIL, None)


def test_403s_in_a_row_fail_the_row_and_stop_the_run() -> None:
    """The 20th 403 in a row (here 3rd) fails its row and stops the run."""
    limits = Limits(max_consecutive_403=3)
    streaks = Streaks().after(403).after(403)
    assert decided(403, streaks=streaks, limits=limits) == (Action.FAIL, None)
    streaks = streaks.after(403)
    assert decided(403, streaks=streaks, limits=limits) == (Action.FAIL, StopReason.FORBIDDEN)
    assert streaks.after(200).forbidden == 0


def test_only_404s_from_the_start_stop_the_run() -> None:
    """404s stop the run only while nothing else was answered since it began."""
    limits = Limits(max_initial_404=3)
    streaks = Streaks().after(404).after(503).after(404).after(404)
    assert decided(404, streaks=streaks, limits=limits) == (Action.FAIL, StopReason.NOT_FOUND)
    mixed = Streaks().after(404).after(200).after(404).after(404)
    assert decided(404, streaks=mixed, limits=limits) == (Action.FAIL, None)


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


def test_a_deadline_already_past_is_refused() -> None:
    """A full moment that has passed would stop the run before it starts: refused."""
    with pytest.raises(ValueError, match="already passed"):
        parse_deadline("2026-11-25T05:00:00+00:00", datetime(2026, 11, 25, 6, tzinfo=UTC))
