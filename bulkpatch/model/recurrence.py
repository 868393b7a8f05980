"""Recurrence rules as the API keeps them: parsed, bent to its limits, expanded into occurrences.

The reference: "Multiple days or dates for monthly or yearly recurrence rule are not supported,
only the first day or date specified is taken"; "the actual furthest date accepted for the
recurring meeting is five years from now. Specifically, if it has an ending date, there can be up
to 5 occurrences for a yearly meeting, 60 occurrences for a monthly meeting, 261 occurrences for
a weekly meeting, or 1826 occurrences for a daily meeting." `validate` warns with these, the
sandbox applies them. Pure: ``now`` is passed in.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrule, rrulestr

from bulkpatch.model.first_occurrence import first_occurrence, surely_meets
from bulkpatch.model.rrule_syntax import DAY_NAMES, ordinal

SERIES_YEARS_CAP = 5
#: The most occurrences a series with an end keeps, by frequency.
OCCURRENCE_LIMITS = {"YEARLY": 5, "MONTHLY": 60, "WEEKLY": 261, "DAILY": 1826}
_FIRST_ONLY = ("BYMONTHDAY", "BYDAY")
_PARTS = re.compile(r"^(?:RRULE:)?(?P<rule>[A-Z]+=[^;=\s]+(?:;[A-Z]+=[^;=\s]+)*);?$", re.IGNORECASE)


def rule_parts(text: str) -> dict[str, str] | None:
    """``FREQ=WEEKLY;COUNT=3`` as ``{"FREQ": "WEEKLY", "COUNT": "3"}`` (upper case), or None."""
    match = _PARTS.match(text.strip())
    if match is None:
        return None
    return dict(part.split("=", 1) for part in match["rule"].upper().split(";"))


def join_parts(parts: dict[str, str]) -> str:
    """The rule text again, parts in the order given."""
    return ";".join(f"{name}={value}" for name, value in parts.items())


@dataclass(frozen=True, slots=True)
class Bent:
    """A rule after the API's limits: the text it keeps, and what it changed (empty if nothing)."""

    text: str
    first_only: tuple[str, ...] = ()
    until_capped: bool = False
    count_capped: int | None = None

    @property
    def changed(self) -> bool:
        """Whether the API keeps something other than what was sent."""
        return bool(self.first_only) or self.until_capped or self.count_capped is not None


def bend(text: str, now: datetime, start: datetime | None = None) -> Bent:
    """The rule the API keeps for ``text``: first day/date only, UNTIL and COUNT capped.

    With the series' ``start``, a rule that ends by UNTIL is also cut at its last allowed
    occurrence (a weekly rule on five days a week reaches 261 occurrences long before 5 years).
    """
    parts = rule_parts(text)
    if parts is None:
        return Bent(text)
    freq = parts.get("FREQ", "")
    first_only = []
    if freq in {"MONTHLY", "YEARLY"}:
        for name in _FIRST_ONLY:
            if "," in parts.get(name, ""):
                parts[name] = parts[name].split(",", 1)[0]
                first_only.append(name)
    until_capped = False
    cap = now + relativedelta(years=SERIES_YEARS_CAP)
    until = parts.get("UNTIL")
    if until is not None and _until_moment(until) > cap:
        parts["UNTIL"] = f"{cap.astimezone(UTC):%Y%m%dT%H%M%SZ}"
        until_capped = True
    count_capped = None
    limit = OCCURRENCE_LIMITS.get(freq)
    count = parts.get("COUNT", "")
    if limit is not None and count.isdigit() and int(count) > limit:
        parts["COUNT"] = str(limit)
        count_capped = limit
    elif limit is not None and "UNTIL" in parts and start is not None and _may_exceed(parts, start):
        last = _nth(join_parts(parts), start, limit)
        if last is not None:
            parts["UNTIL"] = f"{last.astimezone(UTC):%Y%m%dT%H%M%SZ}"
            count_capped = limit
    if not (first_only or until_capped or count_capped):
        return Bent(text)
    return Bent(join_parts(parts), tuple(first_only), until_capped, count_capped)


def expand(text: str, start: datetime) -> rrule:
    """The rule's occurrences from ``start`` (aware, in the meeting's zone: wall-clock kept).

    Raises ValueError for a rule dateutil cannot read.
    """
    parts = rule_parts(text)
    if parts is None:
        raise ValueError(f"not an RRULE: {text!r}")
    until = parts.get("UNTIL")
    if until is not None and not until.endswith("Z"):
        # An aware start needs an aware UNTIL; a floating one is read as UTC.
        parts["UNTIL"] = f"{_until_moment(until):%Y%m%dT%H%M%SZ}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rule = rrulestr(join_parts(parts), dtstart=start)
    if not isinstance(rule, rrule):
        raise ValueError(f"not one RRULE: {text!r}")
    return rule


def upcoming(text: str | None, start: datetime, duration: timedelta, now: datetime) -> datetime:
    """The start of the occurrence in progress or next (the series' own start without a rule)."""
    if not text:
        return start
    try:
        found = expand(text, start).after(now - duration)
    except (ValueError, TypeError, OverflowError):
        return start
    return found if found is not None else start


def overlaps(
    text: str | None, start: datetime, duration: timedelta, low: datetime, high: datetime
) -> bool:
    """Whether any occurrence of the series (or the meeting itself) overlaps ``[low, high)``."""
    if not text:
        return start < high and start + duration > low
    try:
        found = expand(text, start).after(low - duration)
    except (ValueError, TypeError, OverflowError):
        return start < high and start + duration > low
    return found is not None and found < high


#: The most days each month has (February's 29: in a leap year), and the months' names.
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MONTHS = "January February March April May June July August September October November December"
#: The most of one weekday a month has: a numbered BYDAY past it (6MO, -6MO) never falls.
_MOST_IN_A_MONTH = 5


def never_occurs(parts: dict[str, str], start: datetime | None) -> str | None:
    """Why a well-formed rule gives no occurrence at all, or None if it may give one.

    Decided from the parts where they tell (with the words that say which day is missing);
    else dateutil is asked for the first occurrence within the five years the API keeps a
    series, never by a plain search, which runs year after year up to 9999 and takes seconds
    a row (see :mod:`bulkpatch.model.first_occurrence`). ``start`` (the row's new start, if
    any) is where the series begins; the values are those the API keeps (the first day or
    date of a monthly or yearly rule).
    """
    until = parts.get("UNTIL")
    if start is not None and until is not None and _until_before(until, start):
        return (
            f"recurrence's UNTIL={until} is before the series' start ({start.isoformat()}): "
            "the series would have no occurrence; give an UNTIL after the start"
        )
    return _no_such_weekday(parts) or _no_such_day(parts, start) or _meets_nowhere(parts, start)


def _kept(parts: dict[str, str], name: str) -> tuple[str, str]:
    """A list part's values as the API keeps them (the first alone in a monthly or yearly rule),
    and the words that say so when it dropped some."""
    values = parts[name]
    if parts["FREQ"] in {"MONTHLY", "YEARLY"} and "," in values:
        return values.split(",", 1)[0], f" (the API keeps only the first of {name}'s values)"
    return values, ""


#: A start for a rule whose series' start is unknown: a Monday, 1 January, in a common year.
_ANY_START = datetime(2001, 1, 1)
#: The years in which each date falls on each weekday, in leap years and others (between
#: century years): a rule meeting in none of them, whatever its start, meets never.
_CALENDAR_CYCLE = 28
#: The parts that end a series: the search for its first occurrence goes without them.
_ENDS = ("UNTIL", "COUNT")
#: The parts that do not choose days: the rest are named when a rule meets on none.
_NOT_CHOOSING = ("FREQ", *_ENDS, "WKST")


def _meets_nowhere(parts: dict[str, str], start: datetime | None) -> str | None:
    """Why the rule, as the API keeps it, meets on no day before its UNTIL or within the
    five years the API keeps a series, asked of dateutil; or None.

    Without a start, only a rule that does not depend on one (days chosen by its parts, an
    INTERVAL of 1, no UNTIL) is asked, over a whole cycle of the calendar.
    """
    kept = dict(parts)
    note = ""
    for name in _FIRST_ONLY:
        if name in parts:
            kept[name], dropped = _kept(parts, name)
            note += dropped
    rule = join_parts({name: value for name, value in kept.items() if name not in _ENDS})
    if start is None:
        if surely_meets(kept, None, None) or not _start_free(kept):
            return None
        if first_occurrence(rule, _ANY_START, _CALENDAR_CYCLE) is not None:
            return None
        return (
            f"recurrence's {_choosing(kept)} no day at all{note}: the series would have no "
            "occurrence"
        )
    wall = start.replace(tzinfo=None)
    until = _until_wall(parts.get("UNTIL"), start)
    if surely_meets(kept, wall, until):
        return None
    first = first_occurrence(rule, wall, SERIES_YEARS_CAP)
    if first is None:
        return (
            f"recurrence's {_choosing(kept)} no day in the {SERIES_YEARS_CAP} years from the series' "
            f"start ({start.isoformat()}){note}, and the API keeps no occurrence past "
            f"{SERIES_YEARS_CAP} years from now: the series would have no occurrence"
        )
    if until is not None and first > until:
        return (
            f"recurrence's UNTIL={parts['UNTIL']} ends the series before its first occurrence, "
            f"{first.replace(tzinfo=start.tzinfo).isoformat()}{note}: the series would have no "
            "occurrence; give an UNTIL on or after it"
        )
    return None


def _choosing(parts: dict[str, str]) -> str:
    """The parts that choose a rule's days, and the verb: "BYDAY=MO and BYSETPOS=6 choose"."""
    chosen = [
        f"{name}={value}"
        for name, value in parts.items()
        if name not in _NOT_CHOOSING and (name, value) != ("INTERVAL", "1")
    ] or [f"FREQ={parts['FREQ']}"]
    if len(chosen) == 1:
        return f"{chosen[0]} chooses"
    return f"{', '.join(chosen[:-1])} and {chosen[-1]} choose"


def _start_free(parts: dict[str, str]) -> bool:
    """Whether the rule meets on the same days whatever its start: its parts choose the days
    (without them dateutil takes the start's), every period counts, and nothing ends it."""
    return (
        parts.get("INTERVAL", "1") == "1"
        and "UNTIL" not in parts
        and any(name in parts for name in ("BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO"))
    )


def _no_such_weekday(parts: dict[str, str]) -> str | None:
    """Why a numbered BYDAY counted within a month (6MO, -6FR) never falls, or None.

    It counts within the month in a monthly rule, and in a yearly one with BYMONTH; within a
    year, past 53, it is refused with the rule's form.
    """
    freq = parts["FREQ"]
    # A daily or weekly rule has no month to count in: its 6MO is refused with the rule's form.
    if "BYDAY" not in parts or not (freq == "MONTHLY" or (freq == "YEARLY" and "BYMONTH" in parts)):
        return None
    kept, dropped = _kept(parts, "BYDAY")
    for item in kept.split(","):
        day = item.lstrip("+-0123456789")
        nth = int(item[: -len(day)] or "0")
        if abs(nth) > _MOST_IN_A_MONTH:
            which = ordinal(abs(nth)) + ("-to-last" if nth < 0 else "")
            return (
                f"recurrence's BYDAY={item} never falls: no month has a {which} "
                f"{DAY_NAMES[day]}{dropped} (a month has 4 or 5 of each day: 1{day} to 5{day}, "
                "or -1 to -5 from its end); the series would have no occurrence"
            )
    return None


def _no_such_day(parts: dict[str, str], start: datetime | None) -> str | None:
    """Why BYMONTHDAY falls in none of the months the rule meets in (30 in February), or None."""
    if "BYMONTHDAY" not in parts:
        return None
    kept, dropped = _kept(parts, "BYMONTHDAY")
    days = [abs(int(day)) for day in kept.split(",")]
    months = _months_met(parts, start)
    if not months or any(day <= _MONTH_DAYS[month - 1] for day in days for month in months):
        return None
    names = [_MONTHS.split()[month - 1] for month in sorted(months)]
    where = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
    most = max(_MONTH_DAYS[month - 1] for month in months)
    return (
        f"recurrence's BYMONTHDAY={kept}{dropped} falls in none of the months the rule meets "
        f"in: {where} {'has' if len(names) == 1 else 'have'} at most {most} days; the series "
        "would have no occurrence"
    )


def _months_met(parts: dict[str, str], start: datetime | None) -> set[int]:
    """The months a rule meets in: BYMONTH's, or those a monthly rule's INTERVAL brings it back
    to from its start (February alone, every 12 months from a February start); empty: any."""
    if "BYMONTH" in parts:
        return {int(month) for month in parts["BYMONTH"].split(",")}
    if parts["FREQ"] != "MONTHLY" or start is None:
        return set()
    interval = int(parts.get("INTERVAL", "1"))
    return {(start.month - 1 + step * interval) % 12 + 1 for step in range(12)}


def _may_exceed(parts: dict[str, str], start: datetime) -> bool:
    """Whether the rule could pass its occurrence limit before UNTIL (False only when surely not).

    Counting a daily or weekly rule's occurrences one by one costs milliseconds; for the plain
    rules most jobs carry a bound from the span is enough, so a million-row job stays fast.
    Yearly and monthly limits (5, 60) are cheap to count.
    """
    freq = parts["FREQ"]
    rest = set(parts) - {"FREQ", "INTERVAL", "UNTIL", "WKST"}
    if freq == "DAILY" and not rest:
        per_period, days = 1, 1
    elif freq == "WEEKLY" and rest <= {"BYDAY"}:
        per_period, days = len(parts.get("BYDAY", "MO").split(",")), 7
    else:
        return True
    interval = int(parts["INTERVAL"]) if parts.get("INTERVAL", "").isdigit() else 1
    periods = (_until_moment(parts["UNTIL"]) - start).days // (days * max(interval, 1)) + 1
    return periods * per_period > OCCURRENCE_LIMITS[freq]


def _nth(text: str, start: datetime, limit: int) -> datetime | None:
    """The ``limit``-th occurrence when the rule has more than ``limit`` of them, else None."""
    try:
        found = list(islice(expand(text, start), limit + 1))
    except (ValueError, TypeError, OverflowError):
        return None
    return found[limit - 1] if len(found) > limit else None


def _until_before(until: str, start: datetime) -> bool:
    """Whether an UNTIL ends the series before its start.

    Only a UTC UNTIL (``Z``) is a moment; a date or a time without ``Z`` is read on the
    start's own clock (RFC 5545 reads them in the start's time zone), so an UNTIL on the
    start's own day never ends a series that starts that evening west of UTC.
    """
    if until[-1:] in "Zz":
        return _until_moment(until) < start
    local = start.replace(tzinfo=None)
    if "T" in until.upper():
        return _stamp(until) < local
    return _stamp(until).date() < local.date()


def _until_wall(until: str | None, start: datetime) -> datetime | None:
    """An UNTIL on the start's own clock, as :func:`_until_before` reads it (a date: its end)."""
    if until is None:
        return None
    if until[-1:] in "Zz":
        return _until_moment(until).astimezone(start.tzinfo).replace(tzinfo=None)
    if "T" in until.upper():
        return _stamp(until)
    return _stamp(until) + timedelta(days=1, seconds=-1)


def _until_moment(until: str) -> datetime:
    """An RRULE UNTIL (``YYYYMMDD`` or ``YYYYMMDDTHHMMSS[Z]``) as an aware UTC moment."""
    if "T" in until.upper():
        return _stamp(until).replace(tzinfo=UTC)
    return _stamp(until).replace(tzinfo=UTC) + timedelta(days=1, seconds=-1)


_STAMP = re.compile(r"(\d{4})(\d{2})(\d{2})(?:[Tt](\d{2})(\d{2})(\d{2}))?[Zz]?", re.ASCII)


def _stamp(until: str) -> datetime:
    """An UNTIL's date and time as written (midnight for a date), naive; ValueError if it is
    not in RFC 2445's form or names no moment. A third of strptime's cost, paid on most rows."""
    match = _STAMP.fullmatch(until)
    if match is None:
        raise ValueError(f"not an RRULE UNTIL: {until!r}")
    year, month, day, hour, minute, second = (int(part) for part in match.groups(default="0"))
    return datetime(year, month, day, hour, minute, second)
