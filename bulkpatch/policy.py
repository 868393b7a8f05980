"""What happens after each answer: one pure function from (reply or no reply, context) to a decision.

SPEC section 4: 2xx is done. 429, 423, 500, 502, 503, 504, timeouts and connection errors are
retried up to the configured number of attempts: a 429's Retry-After holds every request, a
423's only its own. 401 asks for a token refresh (or stops the run). A 3xx means the base URL is
wrong: the run stops, the row stays pending. Many requests in a row with no answer at all (the
host is down or wrong), many consecutive 403s, a run whose first rows all answer 404, and a
Retry-After longer than ``max_retry_after`` stop the run too. Any other status fails the row
with the API's own message.

Also here: the backoff, the failure limit and the deadline, all plain values.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

RETRYABLE = frozenset({429, 423, 500, 502, 503, 504})
MIN_UNREADABLE_RETRY_AFTER = 1.0


class StopReason(StrEnum):
    """Why a run ended."""

    FINISHED = "finished"
    INTERRUPTED = "interrupted"
    AUTH = "auth"
    FORBIDDEN = "forbidden"
    FAILURES = "too_many_failures"
    DEADLINE = "deadline"
    UNREACHABLE = "unreachable"
    REDIRECT = "redirect"
    NOT_FOUND = "not_found"
    RETRY_AFTER = "retry_after_too_long"
    IDENTITY = "identity_unknown"


class Action(StrEnum):
    """What to do with a request after one attempt."""

    DONE = "done"  # a 2xx
    RETRY = "retry"  # again, after ``wait`` (for this request, or for everyone on a 429)
    REFRESH = "refresh"  # a 401: renew the token and send again, or stop
    FAIL = "fail"  # the row fails with the API's message
    STOP = "stop"  # the run must stop; the row stays pending, never failed nor succeeded


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**(attempt-1)))."""

    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        return rng.uniform(0.0, min(self.cap, self.base * 2 ** max(0, attempt - 1)))


@dataclass(frozen=True, slots=True)
class Limits:
    """The settings the decisions depend on."""

    max_attempts: int = 5
    backoff: Backoff = Backoff()
    max_retry_after: float = 900.0
    max_consecutive_403: int = 20
    max_connection_failures: int = 10
    max_initial_404: int = 20


@dataclass(frozen=True, slots=True)
class Streaks:
    """What the run saw across rows, counted up to and including the answer being decided."""

    #: Requests in a row with no HTTP answer at all.
    no_answer: int = 0
    #: 403 answers in a row.
    forbidden: int = 0
    #: 404 answers since the run began, as long as nothing else has been answered for good.
    initial_404: int = 0
    #: Whether any answer other than a 404 or a retryable status has come (a 2xx, a 400...).
    other_answer: bool = False

    def after(self, status: int | None) -> Streaks:
        """The streaks once an answer has come (``None``: no answer at all)."""
        if status is None:
            return Streaks(self.no_answer + 1, self.forbidden, self.initial_404, self.other_answer)
        forbidden = self.forbidden + 1 if status == 403 else 0
        initial, other = self.initial_404, self.other_answer
        if status == 404 and not other:
            initial += 1
        elif status not in RETRYABLE and status not in (401, 404):
            other = True
        return Streaks(0, forbidden, initial, other)


#: Attempts a row that gets no answer at all is given before its silence is the host's.
_HOST_SILENT = 3


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do, how long to wait first, and why (for the log)."""

    action: Action
    wait: float = 0.0
    #: The wait holds every request (a 429's Retry-After), not just this one.
    for_everyone: bool = False
    reason: str = ""
    #: The run must stop (with FAIL: after recording the row; with STOP: leaving it pending).
    stop: StopReason | None = None


def decide(
    status: int | None,
    retry_after: float | None,
    attempt: int,
    streaks: Streaks,
    limits: Limits,
    rng: random.Random,
) -> Decision:
    """The decision for an answer (``status`` None: no answer at all) after ``attempt`` attempts.

    ``streaks`` already counts this answer.
    """
    if status is not None and 200 <= status < 300:
        return Decision(Action.DONE)
    if status == 401:
        return Decision(Action.REFRESH, reason="the access token was refused", stop=StopReason.AUTH)
    if status is not None and 300 <= status < 400:
        return Decision(Action.STOP, reason="a redirect", stop=StopReason.REDIRECT)
    if status is None and streaks.no_answer >= limits.max_connection_failures:
        return Decision(Action.STOP, reason="no answer", stop=StopReason.UNREACHABLE)
    retryable = status is None or status in RETRYABLE
    # Every attempt of this row went unanswered, and nothing else was answered meanwhile.
    silent = status is None and streaks.no_answer >= attempt
    # Such a row is tried _HOST_SILENT times, whatever max_attempts says: one dropped
    # connection cannot tell a row from a host that is down (whose rows must stay pending).
    if retryable and (attempt < limits.max_attempts or (silent and attempt < _HOST_SILENT)):
        return _retry(status, retry_after, attempt, limits, rng)
    if silent:
        return Decision(Action.STOP, reason="no answer", stop=StopReason.UNREACHABLE)
    if status == 403 and streaks.forbidden >= limits.max_consecutive_403:
        return Decision(Action.FAIL, stop=StopReason.FORBIDDEN)
    if status == 404 and streaks.initial_404 >= limits.max_initial_404:
        return Decision(Action.FAIL, stop=StopReason.NOT_FOUND)
    return Decision(Action.FAIL)


def _retry(
    status: int | None,
    retry_after: float | None,
    attempt: int,
    limits: Limits,
    rng: random.Random,
) -> Decision:
    if status in (429, 423):
        wait, why = retry_after_wait(retry_after, attempt, limits.backoff, rng)
        if wait > limits.max_retry_after:
            if status == 423:  # one locked meeting does not stop the run: that row fails
                return Decision(Action.FAIL, wait, reason=f"locked for {wait:,.0f} s")
            return Decision(Action.STOP, wait, True, why, StopReason.RETRY_AFTER)
        reason = why if status == 429 else f"{why} (423 Locked)"
        return Decision(Action.RETRY, wait, status == 429, reason)
    return Decision(Action.RETRY, limits.backoff.delay(attempt, rng), reason="backoff")


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

    ``now`` is aware and local; a time without date is today's, or tomorrow's once passed. A
    full moment that has already passed is refused: the run could do nothing.
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
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=now.tzinfo)
    if moment <= now:
        raise ValueError(
            f"--deadline {text} has already passed (now is {now:%Y-%m-%dT%H:%M%z}); give a "
            "later moment, or a time of day such as 06:00"
        )
    return moment
