"""The text of an RRULE, part by part: which part is wrong, and how RFC 2445 writes it.

dateutil reads a rule as a whole, and its errors name its own internals ("unsupported property:
FREQ=WEEKLY" for an UNTIL written with colons), or none at all (BYMONTHDAY=40 gives a rule that
never happens). So each part is read here first, against the RFC's grammar, and a wrong one is
named with the form it takes. Pure; the message is the finding's whole text.
"""

from __future__ import annotations

import difflib
import re

#: The parts of a recurrence rule (RFC 2445, 4.3.10), in the order the RFC lists them.
PARTS = (
    "FREQ",
    "UNTIL",
    "COUNT",
    "INTERVAL",
    "BYSECOND",
    "BYMINUTE",
    "BYHOUR",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
)
#: The frequencies of a meeting series: the reference counts occurrences for these four only
#: (RFC 2445 also has SECONDLY, MINUTELY and HOURLY, which no meeting recurs by).
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: Each BYDAY day's name, for messages.
DAY_NAMES = dict(
    zip(
        DAYS,
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
)
#: Lists of numbers: the range of each item, and whether it may count back from the end (-1).
_NUMBERS = {
    "BYSECOND": (0, 60, False),
    "BYMINUTE": (0, 59, False),
    "BYHOUR": (0, 23, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYMONTH": (1, 12, False),
    "BYSETPOS": (1, 366, True),
}
#: The forms RFC 2445 gives UNTIL: a date, or a date and time (20270228, 20270228T100000Z).
UNTIL_FORM = re.compile(r"\d{8}(?:T\d{6}Z?)?", re.ASCII)
_UNTIL_NEARLY = re.compile(r"(?P<date>\d{8})(?:T(?P<time>\d{4}|\d{6})(?P<z>Z?))?", re.ASCII)
_WEEKDAY = re.compile(r"(?P<nth>[+-]?\d{1,2})?(?P<day>[A-Z]+)", re.ASCII)
_EXAMPLE = "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO"


def rrule_problem(text: str) -> str | None:
    """What is wrong with an RRULE's text, naming the part and its right form; None if nothing.

    Only the text's form is read: an UNTIL on a day that does not exist passes here (it has
    the right form), and so does a rule dateutil then refuses as a whole.
    """
    rule = text.strip()
    block = _icalendar_block_problem(rule)
    if block is not None:
        return block
    if rule[:6].upper() == "RRULE:":
        # The text is sent as written, and the API's own examples have no prefix: refused, not cut.
        return (
            f"recurrence starts with {rule[:6]!r}, the name an iCalendar file gives the rule, "
            f"which is not part of it: drop the prefix and write {rule[6:].strip() or _EXAMPLE}"
        )
    rule = rule.removesuffix(";")
    if "=" not in rule:
        return f"recurrence must be an RFC 2445 RRULE such as {_EXAMPLE}"
    if re.search(r"\s", rule):
        return _spaces_problem(rule)
    seen: set[str] = set()
    for part in rule.split(";"):
        problem = _part_problem(part, seen)
        if problem is not None:
            return problem
    if "FREQ" not in seen:
        return f"recurrence has no FREQ; every RRULE needs one, such as {_EXAMPLE}"
    if {"COUNT", "UNTIL"} <= seen:
        return "recurrence takes COUNT or UNTIL, not both"
    return _numbered_day_problem(rule)


#: The properties of an iCalendar event that come with a rule when one is copied from a
#: calendar file (RFC 5545, 3.8.2 and 3.8.5): ``DTSTART:20270301T100000Z`` then ``RRULE:...``.
_ICALENDAR_LINE = re.compile(r"(?:DTSTART|DTEND|RRULE|EXRULE|RDATE|EXDATE)[;:]", re.IGNORECASE)


def _icalendar_block_problem(rule: str) -> str | None:
    """What to write instead of iCalendar lines (``DTSTART:...`` then ``RRULE:...``), or None.

    Such a block has a line break, or at least a space, between its lines; only the value of
    its RRULE line is a recurrence, and the series' start is the row's own ``start``.
    """
    lines = rule.split()
    if len(lines) < 2:
        return None
    found = [match for line in lines if (match := _ICALENDAR_LINE.match(line)) is not None]
    names = [match[0][:-1].upper() for match in found]
    # "RRULE: FREQ=..." is the prefix alone, said as such; a block has more than the rule.
    if set(names) <= {"RRULE"}:
        return None
    values = [line[6:] for line in lines if line[:6].upper() == "RRULE:"] or [
        line for line in lines if "=" in line and not _ICALENDAR_LINE.match(line)
    ]
    if values:
        give = f"the value of its RRULE line alone: {values[0]}"
    else:
        give = f"an RRULE's value, such as {_EXAMPLE}"
    return (
        f"recurrence is an iCalendar block ({', '.join(dict.fromkeys(names))} lines), not a "
        f"rule: give {give} (the series starts at the row's start, not at a DTSTART line)"
    )


def _numbered_day_problem(rule: str) -> str | None:
    """Why a numbered BYDAY (2MO) has nothing to count in, or None.

    RFC 5545 (3.3.10): BYDAY "MUST NOT be specified with a numeric value when the FREQ rule
    part is not set to MONTHLY or YEARLY", nor in a YEARLY rule with BYWEEKNO. dateutil reads
    2MO there as every Monday; what was meant is unknown, so it is refused, not guessed.
    """
    parts = dict(part.upper().split("=", 1) for part in rule.split(";"))
    days = parts.get("BYDAY", "")
    numbered = [item for item in days.split(",") if item and not item[0].isalpha()]
    freq = parts["FREQ"]
    counts_in = freq == "MONTHLY" or (freq == "YEARLY" and "BYWEEKNO" not in parts)
    if not numbered or counts_in:
        return None
    item = numbered[0]
    day = item.lstrip("+-0123456789")
    every = ",".join(dict.fromkeys(value.lstrip("+-0123456789") for value in days.split(",")))
    head = f"recurrence's BYDAY={days} numbers " + ("its day" if days == item else item)
    if freq == "YEARLY":
        return (
            f"{head} in a yearly rule with BYWEEKNO: RFC 5545 numbers a day only without "
            f"BYWEEKNO (a week has one {DAY_NAMES[day]}); write BYDAY={every}"
        )
    return (
        f"{head} in a {freq.lower()} rule: RFC 5545 numbers a day only in a MONTHLY or YEARLY "
        f"rule, which has a month or year to count in; write BYDAY={every} for every "
        f"{DAY_NAMES[day]}, or FREQ=MONTHLY;BYDAY={item} for the {nth_day(item)} of each month"
    )


def nth_day(item: str) -> str:
    """A numbered BYDAY item in words: 2MO is "2nd Monday", -1FR "last Friday"."""
    day = item.lstrip("+-0123456789")
    nth = int(item[: -len(day)])
    which = "last" if nth == -1 else ordinal(abs(nth)) + ("-to-last" if nth < 0 else "")
    return f"{which} {DAY_NAMES[day]}"


def ordinal(number: int) -> str:
    """6th, 21st, 22nd, 53rd: English ordinals."""
    suffix = (
        "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return f"{number}{suffix}"


def _spaces_problem(rule: str) -> str:
    """What to write instead of a rule with spaces: without them, if that is all it takes."""
    joined = re.sub(r"\s*([;,=])\s*", r"\1", rule)
    inner = re.search(r"[^;]*\s[^;]*", joined)
    if inner is None:
        return f"recurrence has spaces; an RRULE is written without any: {joined}"
    return (
        f"recurrence has a space in {inner[0]!r}; an RRULE has none: a part's values are "
        "separated by commas (BYDAY=MO,TU) and parts by ';'"
    )


def _part_problem(part: str, seen: set[str]) -> str | None:
    """What is wrong with one ``NAME=VALUE`` part; ``seen`` collects the names."""
    if "=" not in part:
        if not part:
            return "recurrence has an empty part (two ';' in a row)"
        return f"recurrence's part {part!r} is not NAME=VALUE; parts are separated by ';'"
    name, value = part.split("=", 1)
    upper = name.upper()
    if "=" in value:
        return (
            f"recurrence's part {part!r} holds two parts: separate them with ';', "
            f"not {_separator(value)!r}"
        )
    if upper not in PARTS:
        hint = _did_you_mean(upper, PARTS) or f"; the parts are {', '.join(PARTS)}"
        shown = name or "''"  # "=;" names no part at all
        return f"recurrence's {shown} is not a part of an RRULE{hint}"
    if upper in seen:
        return f"recurrence gives {upper} twice; each part is given once"
    seen.add(upper)
    if not value:
        return f"recurrence's {upper} has no value"
    why = _value_problem(upper, value.upper())
    return None if why is None else f"recurrence's {upper}={value} {why}"


def _separator(value: str) -> str:
    """The character before the second NAME= in a part: what was used instead of ';'."""
    match = re.search(r"[^A-Za-z0-9](?=[A-Za-z]+=)", value)
    return match[0] if match else ","


def _value_problem(name: str, value: str) -> str | None:
    """What is wrong with a part's value (upper case), as the end of a sentence."""
    if name == "FREQ":
        if value not in FREQUENCIES:
            hint = (
                "; every two weeks is FREQ=WEEKLY;INTERVAL=2"
                if value in {"BIWEEKLY", "FORTNIGHTLY"}
                else _did_you_mean(value, FREQUENCIES)
            )
            return f"is not a frequency of a meeting series' RRULE: FREQ takes DAILY, WEEKLY, MONTHLY or YEARLY{hint}"
    elif name == "UNTIL":
        return _until_problem(value)
    elif name in {"COUNT", "INTERVAL"}:
        # RFC 2445: "interval = 1*DIGIT" and "count = 1*DIGIT", a positive integer.
        if not (value.isascii() and value.isdigit() and int(value) > 0):
            return f"is refused: {name} takes a positive whole number, 1 or more (RFC 2445)"
    elif name in {"BYDAY", "WKST"}:
        return _days_problem(name, value)
    else:
        return _numbers_problem(name, value)
    return None


def _until_problem(value: str) -> str | None:
    if UNTIL_FORM.fullmatch(value):
        return None
    form = "a UTC date and time such as 20270228T100000Z, or a date such as 20270228"
    nearly = _UNTIL_NEARLY.fullmatch(value.replace("-", "").replace(":", ""))
    if nearly is None:
        return f"is not in RFC 2445's form: UNTIL is {form} (no dashes, colons or offset)"
    time = nearly["time"]
    fixed = nearly["date"] + ("" if time is None else f"T{time.ljust(6, '0')}{nearly['z']}")
    return f"is not in RFC 2445's form: write UNTIL={fixed} (no dashes or colons; UNTIL is {form})"


def _days_problem(name: str, value: str) -> str | None:
    for item in value.split(",") if name == "BYDAY" else [value]:
        if not item:
            return "has an empty item (two commas in a row, or one at an end)"
        match = _WEEKDAY.fullmatch(item)
        nth = None if match is None else match["nth"]
        if match is None or match["day"] not in DAYS or (nth is not None and name == "WKST"):
            hint = next(
                (
                    f"; did you mean {day}?"
                    for day, full in DAY_NAMES.items()
                    if match is not None
                    and len(match["day"]) > 2
                    and full.upper().startswith(match["day"])
                ),
                "",
            )
            takes = "MO, TU, WE, TH, FR, SA or SU"
            if name == "BYDAY":
                takes += " (1MO: the first Monday, -1FR: the last Friday), separated by commas"
            return f"has {item!r}, which is not a day: {name} takes {takes}{hint}"
        if nth is not None and not 1 <= abs(int(nth)) <= 53:
            return f"has {item!r}: the number before a day runs 1 to 53, or -53 to -1"
    return None


def _numbers_problem(name: str, value: str) -> str | None:
    low, high, back = _NUMBERS[name]
    takes = f"{name} takes {low} to {high}" + (f", or -{high} to -1 from the end" if back else "")
    for item in value.split(","):
        if not item:
            return "has an empty item (two commas in a row, or one at an end)"
        if not re.fullmatch(r"[+-]?[0-9]+", item):
            return f"has {item!r}, which is not a whole number: {takes}, separated by commas"
        number = int(item)
        if not (low <= number <= high or (back and -high <= number <= -1)):
            return f"has {item}, which is out of range: {takes}"
    return None


def _did_you_mean(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""
