"""ISO 8601 date-times as people write them: parsed, or why one names no moment.

A text that does not parse is looked at again to say what is wrong with it in the writer's
terms: a day or time of day that does not exist (2027-02-30, 25:00), a UTC offset no clock
shows (+25:00, +05:60), or a form other than the extended calendar one (2027-W05-3, 2027-034,
20270203T100000Z, a lower-case z, the minus sign U+2212), named with the text to write instead.
Pure, and only ever paid for by a text that failed, has an offset, or is read the first time.
"""

from __future__ import annotations

import re
from calendar import isleap, monthrange
from datetime import date, datetime, timedelta

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


#: ISO 8601's extended calendar form, which every example of the API reference uses: the date
#: with dashes, the time with colons (hours alone too), a fraction only after the seconds and
#: after a full stop, then the end or an offset. Python reads more (week dates, the basic
#: format, 10,5 as 10:00:00.5, a comma before the seconds' fraction).
EXTENDED = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?(?=$|[Z+-])")
#: Every ISO 8601 date and time a person may write: a calendar (2027-02-03), week (2027-W05-3)
#: or ordinal (2027-034) date, basic or extended, then a time, then Z or an offset, the minus
#: sign U+2212 and lower-case t and z included.
_ANY_FORM = re.compile(
    r"(?P<year>\d{4})(?P<dash>-?)(?:W(?P<week>\d{2})(?P=dash)(?P<weekday>\d)"
    r"|(?P<month>\d{2})(?P=dash)(?P<day>\d{2})|(?P<yday>\d{3}))"
    r"(?P<t>[Tt ])(?P<time>(?P<hour>\d{2})(?::?(?P<minute>\d{2})(?::?(?P<second>\d{2})"
    r"(?P<fraction>[.,]\d+)?)?)?)"
    r"(?P<offset>[Zz]|(?P<sign>[+\-\u2212])(?P<off_hours>\d{2})(?::?(?P<off_minutes>\d{2}))?)?"
)


def form_problem(text: str) -> str | None:
    """How an ISO 8601 date and time is written other than in the extended calendar form, with
    the text to write ("is written as a week date (2027-W05-3): write 2027-02-03T10:00:00Z");
    None when it is in that form, or is no ISO 8601 date and time at all.
    """
    match = _ANY_FORM.fullmatch(text.strip())
    if match is None:
        return None
    ways = []
    written = match.string[: match.start("t")]
    if match["week"] is not None:
        ways.append(f"as a week date ({written})")
    elif match["yday"] is not None:
        ways.append(f"as an ordinal date ({written}, day {int(match['yday'])} of {match['year']})")
    if (match["month"] is not None and not match["dash"]) or (
        match["minute"] is not None and ":" not in match["time"]
    ):
        ways.append("in ISO 8601's basic format (no dashes or colons)")
    ways += [
        f"with a lower-case {letter}" for letter in "tz" if letter in (match["t"], match["offset"])
    ]
    if (match["fraction"] or "").startswith(","):
        ways.append("with a comma as the decimal mark of its seconds, not a full stop")
    if match["sign"] == "\u2212":
        ways.append("with the minus sign U+2212 in its offset, not the ASCII '-'")
    if not ways:
        return None
    day = _calendar_day(match)
    shown = " and ".join([", ".join(ways[:-1]), ways[-1]] if len(ways) > 1 else ways)
    if day is None:
        return (
            f"is written {shown}, and that names no day of the calendar (no such week or day "
            "of that year): write the calendar date and time you mean, as YYYY-MM-DDTHH:MM:SS "
            "then Z or an offset"
        )
    time = ":".join(part or "00" for part in (match["hour"], match["minute"], match["second"]))
    time += (match["fraction"] or "").replace(",", ".")
    offset = match["offset"] or ""
    if offset in {"Z", "z"}:
        offset = "Z"
    elif offset:
        sign = "-" if match["sign"] in {"-", "\u2212"} else "+"
        offset = f"{sign}{match['off_hours']}:{match['off_minutes'] or '00'}"
    fixed = f"{day.isoformat()}T{time}{offset}"
    # Only a text that would itself be taken is offered: -15:00 or 25:00 written right is not.
    why = utc_offset_problem(fixed) or calendar_problem(fixed)
    if why is not None:
        if why.startswith("UTC offset"):
            why = f"its {why}"
        return (
            f"is written {shown}, and {why}; write the date and time you mean as "
            "YYYY-MM-DDTHH:MM:SS then Z or an offset from -14:00 to +14:00"
        )
    return f"is written {shown}: write {fixed}"


def _calendar_day(match: re.Match[str]) -> date | None:
    """The calendar day of an :data:`_ANY_FORM` match, or None if it names none."""
    year = int(match["year"])
    try:
        if match["week"] is not None:
            return date.fromisocalendar(year, int(match["week"]), int(match["weekday"]))
        if match["yday"] is not None:
            yday = int(match["yday"])
            if not 1 <= yday <= 365 + isleap(year):
                return None
            return date(year, 1, 1) + timedelta(days=yday - 1)
        return date(year, int(match["month"]), int(match["day"]))
    except ValueError:
        return None
