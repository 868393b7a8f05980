"""ISO 8601 date-times as people write them: parsed, or why one names no moment.

A text that does not parse is looked at again to say what is wrong with it in the writer's
terms: a day or time of day that does not exist (2027-02-30, 25:00), or a UTC offset no clock
shows (+25:00, +05:60). Pure, and only ever paid for by a text that failed or has an offset.
"""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import datetime

#: The widest UTC offset taken either way, in minutes. The clocks furthest from UTC show +14:00
#: (Kiribati's Line Islands) and -12:00; Python reads up to +-23:59, but past 14:00 an offset is a
#: typo that would move the meeting by hours, so it is refused.
MAX_OFFSET_MINUTES = 14 * 60
#: The UTC offset that ends a date-time (+05:30, -0800, +05), with the seconds Python also reads.
_OFFSET = re.compile(
    r"(?<=\d)[+-](?P<hours>\d{2})(?::?(?P<minutes>\d{2})(?::?(?P<seconds>\d{2}(?:[.,]\d+)?))?)?$"
)


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


def utc_offset_problem(text: str) -> str | None:
    """Why the UTC offset that ends a date-time is none a clock shows, or None (no offset, or
    a fine one): out of range (+25:00, +14:30), minutes past 59 (+05:60), or seconds (+05:30:15).
    """
    match = _OFFSET.search(text.strip())
    if match is None:
        return None
    offset = match[0]
    if match["seconds"] is not None:
        return f"UTC offset {offset} has seconds: an offset is hours and minutes, such as +05:30"
    minutes = int(match["minutes"] or 0)
    if minutes > 59:
        return f"UTC offset {offset} does not exist: its minutes run 00 to 59"
    if int(match["hours"]) * 60 + minutes > MAX_OFFSET_MINUTES:
        return f"UTC offset {offset} is out of range: offsets run from -14:00 to +14:00"
    return None


def without_offset(text: str) -> str:
    """The date-time with its offset, if it has one, made +00:00 (to read the rest alone)."""
    return _OFFSET.sub("+00:00", text.strip())
