"""Offline rules for times: ``start``, ``end``, ``timezone`` and ``recurrence``.

The server keeps times to the minute, refuses a start in the past, a duration under 10 minutes
or over 23 h 59 min, and a start 10 years or more ahead; recurrence is an RFC 2445 RRULE.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

from bulkpatch.model.iso8601 import EXTENDED, form_problem, utc_offset_problem, without_offset
from bulkpatch.model.iso8601 import calendar_problem as calendar_problem
from bulkpatch.model.iso8601 import parse_iso8601 as parse_iso8601
from bulkpatch.model.recurrence import (
    SERIES_YEARS_CAP,
    bend,
    expand,
    never_occurs,
    rule_parts,
)
from bulkpatch.model.rrule_syntax import UNTIL_FORM, rrule_problem

MIN_DURATION = timedelta(minutes=10)
MAX_DURATION = timedelta(hours=23, minutes=59)
MAX_YEARS_AHEAD = 10
SOON = timedelta(minutes=10)


class Reporter(Protocol):
    """Where findings go (the rules module's per-row report)."""

    def error(self, field: str, rule: str, message: str, value: Any = None) -> None: ...

    def warning(self, field: str, rule: str, message: str, value: Any = None) -> None: ...


_TIME_FIELDS = ("start", "end", "timezone", "recurrence")


@dataclass(frozen=True, slots=True)
class _Limits:
    """The moments every row of one validation is compared with, computed once per ``now``."""

    now: datetime
    floor_now: datetime
    soon: datetime
    too_far: datetime

    @classmethod
    @lru_cache(maxsize=4)
    def at(cls, now: datetime) -> _Limits:
        return cls(
            now,
            now.replace(second=0, microsecond=0),
            now + SOON,
            now + relativedelta(years=MAX_YEARS_AHEAD),
        )


def check_times(body: dict[str, Any], now: datetime, report: Reporter) -> None:
    """Check start, end, timezone and recurrence; rewrite local times with their offset."""
    if not any(field in body for field in _TIME_FIELDS):
        return
    limits = _Limits.at(now)
    zone = _read_zone(body.get("timezone"), report)
    # A local time in a row whose timezone was refused lacks no offset: the zone is the problem.
    zone_refused = zone is None and isinstance(body.get("timezone"), str)
    start = _read_time(body, "start", zone, report, zone_refused=zone_refused)
    end = _read_time(body, "end", zone, report, zone_refused=zone_refused)
    floor_now = limits.floor_now
    for field, moment in (("start", start), ("end", end)):
        if moment is not None and moment < floor_now:
            report.error(
                field,
                "in_past",
                f"{field} is in the past (now is {now:%Y-%m-%dT%H:%M%z})",
                body[field],
            )
    if start is not None:
        _check_start(start, limits, body, report)
    if start is not None and end is not None:
        _check_duration(
            _as_sent(start, limits, is_start=True),
            _as_sent(end, limits, is_start=False),
            body,
            report,
        )
    elif ("start" in body) != ("end" in body):
        given, other = ("start", "end") if "start" in body else ("end", "start")
        report.warning(
            given,
            "half_reschedule",
            f"{given} without {other}: the server keeps the meeting's current {other}, and refuses the patch if the two no longer fit",
        )
    recurrence = body.get("recurrence")
    if isinstance(recurrence, str):
        # The API reads a rule on the meeting's clock: a start written in UTC falls on its day.
        local = start.astimezone(zone) if start is not None and zone is not None else start
        check_rrule(recurrence, now, report, local)


def _read_zone(name: Any, report: Reporter) -> tzinfo | None:
    if not isinstance(name, str):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        report.error(
            "timezone",
            "timezone",
            "timezone must be an IANA time zone name such as 'Europe/Berlin'",
            name,
        )
        return None


def _read_time(
    body: dict[str, Any],
    field: str,
    zone: tzinfo | None,
    report: Reporter,
    *,
    zone_refused: bool = False,
) -> datetime | None:
    text = body.get(field)
    if not isinstance(text, str):
        return None
    # Only a text that may be a time is kept: a cell of a megabyte stays out of the cache.
    reading = _cached_reading(text, zone) if len(text) <= _CACHED_LENGTH else _reading(text, zone)
    if reading.problem is not None and not (zone_refused and reading.problem == "needs_offset"):
        _report_time(field, text, zone, reading, report)
    if reading.sent is not None:
        body[field] = reading.sent
    return reading.moment


class _Reading(NamedTuple):
    """What a start or end text means in a zone: the same for every row that gives it."""

    moment: datetime | None  # None: refused
    problem: str | None  # the rule it breaks (``ambiguous_time`` only warns)
    sent: str | None = None  # a local time as sent, with its offset
    why: str = ""  # which part of an ``impossible_datetime`` or ``utc_offset`` does not exist


def _misformed(text: str) -> _Reading:
    """A text refused for its form: the ISO 8601 form it is written in, when it is one."""
    form_why = form_problem(text)
    if form_why is None:
        return _Reading(None, "datetime_format")
    return _Reading(None, "iso8601_form", why=form_why)


def _reading(text: str, zone: tzinfo | None) -> _Reading:
    """What ``text`` means as a start or end in ``zone`` (None: the row gives no timezone)."""
    moment = parse_iso8601(text)
    if moment is None:
        # Only a text that failed is looked at again: a valid time costs nothing more.
        offset_why = utc_offset_problem(text)
        rest = text if offset_why is None else without_offset(text)
        why = calendar_problem(rest)
        if why is not None:
            why += "" if offset_why is None else f", and its {offset_why}"
            return _Reading(None, "impossible_datetime", why=why)
        if offset_why is not None and parse_iso8601(rest) is not None:
            return _Reading(None, "utc_offset", why=offset_why)
        return _misformed(text)
    if EXTENDED.match(text.strip()) is None:
        # Python reads week dates and the basic format too; they are sent as written, so only
        # the form every example of the API uses is taken (our decision: see the README).
        return _misformed(text)
    if moment.tzinfo is not None:
        # Python reads offsets up to +-23:59, minutes past 59 and seconds: none is a clock's.
        offset_why = utc_offset_problem(text) if text[-1:] not in "Zz" else None
        if offset_why is not None:
            return _Reading(None, "utc_offset", why=offset_why)
        return _Reading(moment, None)
    if zone is None:
        return _Reading(None, "needs_offset")
    local = moment.replace(tzinfo=zone)
    problem = None
    # The two folds differ only in a gap or an overlap; only then is the round trip worth it.
    if local.replace(fold=1).utcoffset() != local.utcoffset():
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
            return _Reading(None, "nonexistent_time")
        problem = "ambiguous_time"
    # Sent with its offset: the row's timezone decided what it means, so the server need not guess.
    return _Reading(local, problem, local.isoformat())


#: A job's rows mostly share a few times and zones, and reading one was a third of the cost of
#: checking a rescheduled row: the readings are kept. The longest ISO 8601 time is 35 characters.
_CACHED_LENGTH = 64
_cached_reading = lru_cache(maxsize=8192)(_reading)


def _report_time(
    field: str, text: str, zone: tzinfo | None, reading: _Reading, report: Reporter
) -> None:
    """The finding for a time ``_reading`` refused or warned of, on this row."""
    problem = reading.problem or ""
    message = _TIME_PROBLEMS[problem].format(field=field, zone=zone, why=reading.why)
    if problem == "ambiguous_time":
        report.warning(field, problem, message, text)
    else:
        report.error(field, problem, message, text)


_TIME_PROBLEMS = {
    "datetime_format": (
        "{field} must be an ISO 8601 date and time, such as 2030-01-27T20:30:00+08:00"
    ),
    "impossible_datetime": "{field} has the right format, but {why}",
    "iso8601_form": "{field} {why} (ISO 8601's extended form, which the API's examples use)",
    "utc_offset": "{field}'s {why}",
    "needs_offset": "{field} has no UTC offset; add one (+02:00, Z) or give the row a timezone",
    "nonexistent_time": "{field} does not exist in {zone} (the clocks skip it)",
    "ambiguous_time": "{field} happens twice in {zone}; the first is used",
}


def _as_sent(moment: datetime, limits: _Limits, *, is_start: bool) -> datetime:
    """The time the server keeps: seconds dropped, and a start in this minute moved to the next.

    The reference: "if start is within the same minute as the current time, start will be
    adjusted to the upcoming minute" - seconds before now within that minute too.
    """
    truncated = (
        moment
        if not moment.second and not moment.microsecond
        else moment.replace(second=0, microsecond=0)
    )
    if is_start and truncated == limits.floor_now:
        return truncated + timedelta(minutes=1)
    return truncated


def _check_start(start: datetime, limits: _Limits, body: dict[str, Any], report: Reporter) -> None:
    if start >= limits.too_far:
        report.error(
            "start",
            "too_far_ahead",
            f"a meeting that starts {MAX_YEARS_AHEAD} years or more ahead cannot be updated",
            body["start"],
        )
    elif limits.floor_now <= start < limits.soon:
        report.warning(
            "start",
            "starts_soon",
            "start is less than 10 minutes away and may be in the past when the row is sent",
            body["start"],
        )


def _check_duration(start: datetime, end: datetime, body: dict[str, Any], report: Reporter) -> None:
    if start >= end:
        report.error("end", "start_after_end", "start must be before end", body["end"])
        return
    duration = end - start
    if not MIN_DURATION <= duration <= MAX_DURATION:
        report.error(
            "end",
            "duration",
            f"the meeting would last {_hours_minutes(duration)}; it must last 10 minutes to 23 h 59 min",
            body["end"],
        )


def _hours_minutes(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def check_rrule(text: str, now: datetime, report: Reporter, start: datetime | None = None) -> None:
    """Check that ``text`` is one well-formed RFC 2445 RRULE, and warn where the API bends it.

    ``start`` (the row's new start, if any) is where occurrences are counted from; without it,
    from now.
    """
    problem = rrule_problem(text)
    parts = rule_parts(text) if problem is None else None
    if parts is None:
        message = problem or f"recurrence is not an RRULE: {text!r}"
        report.error("recurrence", "rrule", message, text)
        return
    try:
        expand(text, start or now)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        until = parts.get("UNTIL", "")
        why = calendar_problem(until, needs_time=False) if UNTIL_FORM.fullmatch(until) else None
        if why is not None:
            message = f"recurrence's UNTIL has the right format, but {why}"
            report.error("recurrence", "impossible_datetime", message, text)
        else:
            report.error("recurrence", "rrule", f"recurrence is not a valid RRULE: {exc}", text)
        return
    never = never_occurs(parts, start)
    if never is not None:
        report.error("recurrence", "never_occurs", never, text)
        return
    bent = bend(text, now, start or now)
    for name in bent.first_only:
        report.warning(
            "recurrence",
            "first_only",
            f"the API takes only the first of several {name} values in a "
            f"{parts['FREQ'].lower()} rule: it keeps {bent.text}",
            text,
        )
    if bent.until_capped:
        report.warning(
            "recurrence",
            "capped",
            f"the API ends a series at most {SERIES_YEARS_CAP} years from now, before this UNTIL: "
            f"it keeps {bent.text}",
            text,
        )
    if bent.count_capped is not None:
        report.warning(
            "recurrence",
            "capped",
            f"a {parts['FREQ'].lower()} series with an end keeps at most {bent.count_capped} "
            f"occurrences: it keeps {bent.text}",
            text,
        )
