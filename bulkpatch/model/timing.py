"""Offline rules for times: ``start``, ``end``, ``timezone`` and ``recurrence``.

The server keeps times to the minute, refuses a start in the past, a duration under 10 minutes
or over 23 h 59 min, and a start 10 years or more ahead; recurrence is an RFC 2445 RRULE.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

from bulkpatch.model.recurrence import SERIES_YEARS_CAP, bend, expand, rule_parts

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
        check_rrule(recurrence, now, report, start)


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
    why: str = ""  # which part of an ``impossible_datetime`` does not exist


def _reading(text: str, zone: tzinfo | None) -> _Reading:
    """What ``text`` means as a start or end in ``zone`` (None: the row gives no timezone)."""
    moment = parse_iso8601(text)
    if moment is None:
        # Only a text that failed is looked at again: a valid time costs nothing more.
        why = calendar_problem(text)
        if why is not None:
            return _Reading(None, "impossible_datetime", why=why)
        return _Reading(None, "datetime_format")
    if moment.tzinfo is not None:
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
    "needs_offset": "{field} has no UTC offset; add one (+02:00, Z) or give the row a timezone",
    "nonexistent_time": "{field} does not exist in {zone} (the clocks skip it)",
    "ambiguous_time": "{field} happens twice in {zone}; the first is used",
}


def parse_iso8601(text: str) -> datetime | None:
    """An ISO 8601 date-time (with or without offset), or None; a bare date is not enough."""
    stripped = text.strip()
    if "T" not in stripped and "t" not in stripped and " " not in stripped:
        return None  # a date alone, or not a date at all
    try:
        return datetime.fromisoformat(stripped)
    except ValueError:
        return None


#: An ISO 8601 calendar date and time of day, extended (2027-02-30T10:00) or basic (20270230T1000);
#: what may follow (fraction, offset) is left to ``datetime.fromisoformat``.
_DATE_TIME = re.compile(
    r"(?P<year>\d{4})(?P<dash>-?)(?P<month>\d{2})(?P=dash)(?P<day>\d{2})"
    r"(?:(?P<t>[Tt ])(?P<hour>\d{2})(?:(?P<colon>:?)(?P<minute>\d{2})"
    r"(?:(?P=colon)(?P<second>\d{2}))?)?)?"
)
#: The forms RFC 2445 gives UNTIL: a date, or a date and time (20270228, 20270228T100000Z).
_UNTIL = re.compile(r"\d{8}(?:[Tt]\d{6}[Zz]?)?")
#: In English whatever the locale: findings read the same on every machine.
_MONTHS = "January February March April May June July August September October November December"


def calendar_problem(text: str, *, needs_time: bool = True) -> str | None:
    """Why an ISO 8601 text in the right format names no real moment (2027-02-30, 25:00), or
    None: the text is fine, or its format is wrong (then that is what to say).

    Meant for a text that did not parse, so valid times never pay for it. The same text with
    every number in range must parse, so a wrong format is never called an impossible date.
    """
    stripped = text.strip()
    match = _DATE_TIME.match(stripped)
    if match is None or (needs_time and match["t"] is None):
        return None
    dash, colon = match["dash"], match["colon"] or ""
    in_range = f"2000{dash}01{dash}01"
    if match["t"] is not None:
        in_range += match["t"] + "00"
        if match["minute"] is not None:
            in_range += f"{colon}00" + (f"{colon}00" if match["second"] is not None else "")
    try:
        datetime.fromisoformat(in_range + stripped[match.end() :])
    except ValueError:
        return None  # the format is wrong, whatever the numbers
    year, month, day = (int(match[name]) for name in ("year", "month", "day"))
    date = f"{match['year']}-{match['month']}-{match['day']}"
    if year == 0:
        return f"{date} is not a day of the calendar (years run 0001 to 9999)"
    if not 1 <= month <= 12:
        return f"{date} is not a day of the calendar (months run 01 to 12)"
    days = monthrange(year, month)[1]
    if not 1 <= day <= days:
        return f"{date} is not a day of the calendar ({_MONTHS.split()[month - 1]} {year} has {days} days)"
    return _time_of_day_problem(match)


def _time_of_day_problem(match: re.Match[str]) -> str | None:
    """Why the time of day of a :data:`_DATE_TIME` match does not exist, or None."""
    parts = [match[name] for name in ("hour", "minute", "second") if match[name] is not None]
    shown = ":".join(parts + ["00"] * (len(parts) == 1))
    hour, minute, second = (int(part) for part in [*parts, "0", "0", "0"][:3])
    if hour == 24 and minute == second == 0:
        return f"{shown} is not a time of day (hours run 00 to 23: write 00:00 of the next day)"
    for value, unit, top in ((hour, "hours", 23), (minute, "minutes", 59), (second, "seconds", 59)):
        if value > top:
            return f"{shown} is not a time of day ({unit} run 00 to {top})"
    return None


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
    parts = rule_parts(text)
    if parts is None or "FREQ" not in parts:
        report.error(
            "recurrence",
            "rrule",
            "recurrence must be an RFC 2445 RRULE such as FREQ=WEEKLY;INTERVAL=1;BYDAY=MO",
            text,
        )
        return
    if "COUNT" in parts and "UNTIL" in parts:
        report.error("recurrence", "rrule", "an RRULE takes COUNT or UNTIL, not both", text)
        return
    for name in ("INTERVAL", "COUNT"):
        # RFC 2445: "interval = 1*DIGIT" and "count = 1*DIGIT", a positive integer.
        if name in parts and not (parts[name].isdigit() and int(parts[name]) > 0):
            report.error(
                "recurrence", "rrule", f"{name} must be a positive whole number (RFC 2445)", text
            )
            return
    try:
        expand(text, start or now)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        until = parts.get("UNTIL", "")
        why = calendar_problem(until, needs_time=False) if _UNTIL.fullmatch(until) else None
        if why is not None:
            message = f"recurrence's UNTIL has the right format, but {why}"
            report.error("recurrence", "impossible_datetime", message, text)
        else:
            report.error("recurrence", "rrule", f"recurrence is not a valid RRULE: {exc}", text)
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
