"""When a recurrence rule first meets, asked of dateutil within a bounded span of years.

dateutil looks for a rule's next occurrence period after period and stops only past year 9999
(an UNTIL ends the search at the first occurrence after it, and a rule that never meets has
none), so asking it about such a rule took seconds. Here it is asked about a twin of the span:
the same dates some years later, where weekdays and leap years fall as in the span, and 9999 is
just past its end. The Gregorian calendar repeats every 400 years; a span of a few years
comes again far more often. Pure; the answers are kept, since a job's rows share few rules.
"""

from __future__ import annotations

from calendar import isleap
from datetime import MAXYEAR, date, datetime, timedelta
from functools import lru_cache

from dateutil.rrule import rrule, rrulestr

#: The parts of the rules that meet within a period or two of their start whatever the
#: calendar does (see :func:`surely_meets`); any other part sends a rule to dateutil.
_PLAIN_PARTS = frozenset({"FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST", "BYDAY", "BYMONTHDAY"})
#: The longest period of each frequency, in days.
_PERIOD_DAYS = {"DAILY": 1, "WEEKLY": 7, "MONTHLY": 31, "YEARLY": 366}
#: The days every month has, and the nth weekday every month (or year) has.
_EVERY_MONTH_DAYS = 28
_EVERY_MONTH_NTH = 4
_EVERY_YEAR_NTH = 52


def surely_meets(parts: dict[str, str], start: datetime | None, until: datetime | None) -> bool:
    """Whether the rule surely meets between ``start`` and ``until`` (naive, on the start's
    clock), from its parts alone: True for the plain rules most jobs carry, which so never pay
    for a search; False means "ask dateutil", not "never".

    Each period of such a rule holds a day it keeps (a weekday, a date up to the 28th, the 1st
    to 4th weekday of a month), so it meets within the period after the start's.
    """
    freq = parts["FREQ"]
    names = parts.keys() - {"BYMONTH"} if freq == "YEARLY" else parts.keys() - {"BYSETPOS"}
    if not names <= _PLAIN_PARTS:
        return False
    days, dates = parts.get("BYDAY"), parts.get("BYMONTHDAY")
    interval = int(parts.get("INTERVAL", "1"))
    if days is not None and dates is not None:
        return False  # Friday the 13th: the two meet only where they agree
    if "BYMONTH" in parts and days is None and dates is None:
        return False  # the start's date in those months: the 30th is in no February
    if dates is not None and (
        freq not in {"MONTHLY", "YEARLY"}
        or any(abs(int(day)) > _EVERY_MONTH_DAYS for day in dates.split(","))
    ):
        return False
    if "BYSETPOS" in parts and not _every_month_has_position(parts):
        return False
    if days is not None:
        if freq == "DAILY" and interval > 1:
            return False  # every 7th day from a Tuesday is never a Monday
        within_year = freq == "YEARLY" and "BYMONTH" not in parts
        most = _EVERY_YEAR_NTH if within_year else _EVERY_MONTH_NTH
        if any(abs(int(item[:-2])) > most for item in days.split(",") if len(item) > 2):
            return False
    if "UNTIL" not in parts:
        return True
    if start is None or until is None:
        return False
    reach = 7 if freq == "DAILY" and days is not None else (interval + 1) * _PERIOD_DAYS[freq]
    return until >= start + timedelta(days=reach)


def _every_month_has_position(parts: dict[str, str]) -> bool:
    """Whether a monthly rule's BYSETPOS picks from days every month has enough of: the last
    weekday of the month (BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1), each day 4 times a month at least."""
    days = parts.get("BYDAY", "")
    if parts["FREQ"] != "MONTHLY" or not days or "BYMONTHDAY" in parts:
        return False
    count = len(set(days.split(",")))
    if any(len(item) > 2 for item in days.split(",")):
        return False  # 1MO,3MO: numbered days are few
    return all(abs(int(pos)) <= _EVERY_MONTH_NTH * count for pos in parts["BYSETPOS"].split(","))


@lru_cache(maxsize=4096)
def first_occurrence(rule: str, start: datetime, years: int) -> datetime | None:
    """The first occurrence of ``rule`` (no UNTIL or COUNT) from ``start`` (naive, on the
    series' own clock) within ``years``, or None if it has none there.

    A span dateutil cannot be asked about cheaply (one ending too near 9999 for a twin) gives
    ``start``: taken as meeting, never refused on a guess.
    """
    shift = _twin_shift(start.year, years + 1)
    parsed = _parsed(rule)
    if shift is None or parsed is None:
        return start
    end = _moved(start, years)
    try:
        found = next(
            iter(parsed.replace(dtstart=_moved(start, shift), until=_moved(end, shift))), None
        )
    except (ValueError, TypeError, OverflowError):
        return start
    return None if found is None else _moved(found, -shift)


@lru_cache(maxsize=256)
def _parsed(rule: str) -> rrule | None:
    """The rule as dateutil reads it (each start then replaces the placeholder's), or None."""
    try:
        parsed = rrulestr(rule, dtstart=datetime(2001, 1, 1))
    except (ValueError, TypeError, OverflowError):
        return None
    return parsed if isinstance(parsed, rrule) else None


def _moved(moment: datetime, years: int) -> datetime:
    """The same date and time ``years`` later (29 February: the 28th, where that is no leap
    year; a twin's years are leap where the span's are, so a date moved there and back stays)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


@lru_cache(maxsize=256)
def _twin_shift(year: int, span: int) -> int | None:
    """How many years on the calendar of ``span`` years from ``year`` (and the year after, for
    a week that runs into it) comes again, the latest time it does before 9999; None if never.
    """
    if year + span >= MAXYEAR:
        return None
    wanted = [_calendar(year + offset) for offset in range(span + 1)]
    last = MAXYEAR - span - 1
    for twin in range(last, max(year, last - 400), -1):
        if all(_calendar(twin + offset) == kind for offset, kind in enumerate(wanted)):
            return twin - year
    return None


def _calendar(year: int) -> tuple[int, bool]:
    """What a year's dates fall on: the weekday of its 1 January, and whether it is a leap year."""
    return date(year, 1, 1).weekday(), isleap(year)
