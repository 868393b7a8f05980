"""Start and end in ISO 8601 forms other than the extended calendar one the API's examples use."""

from __future__ import annotations

from datetime import datetime

import pytest

from bulkpatch.model import JobRow, check_row

OCCURRENCE = "1d824a4a205042eba9574e00b711b226_20261201T120000Z"
END = "2027-02-03T11:00:00Z"
EXTENDED = "(ISO 8601's extended form, which the API's examples use)"
BASIC = "in ISO 8601's basic format (no dashes or colons)"
DECIMAL_MARK = "as the decimal mark of its seconds, not a full stop"


def _start_findings(start: str, now: datetime, **more: str) -> list[tuple[str, str]]:
    """The (rule, message) of each finding about ``start`` in an occurrence row."""
    checked = check_row(JobRow(2, OCCURRENCE, {"start": start, "end": END, **more}), now)
    return [(f.rule, f.message) for f in checked.findings if f.field == "start"]


@pytest.mark.parametrize(
    ("start", "how", "write"),
    [
        ("2027-W05-3T10:00:00Z", "as a week date (2027-W05-3)", "2027-02-03T10:00:00Z"),
        (
            "2027W053T100000Z",
            f"as a week date (2027W053) and {BASIC}",
            "2027-02-03T10:00:00Z",
        ),
        (
            "2027-034T10:00:00Z",
            "as an ordinal date (2027-034, day 34 of 2027)",
            "2027-02-03T10:00:00Z",
        ),
        ("20270203T100000Z", BASIC, "2027-02-03T10:00:00Z"),
        ("20270203T1000+0100", BASIC, "2027-02-03T10:00:00+01:00"),
        ("2027-02-03T100000Z", BASIC, "2027-02-03T10:00:00Z"),
        ("2027-02-03t10:00:00Z", "with a lower-case t", "2027-02-03T10:00:00Z"),
        ("2027-02-03T10:00:00z", "with a lower-case z", "2027-02-03T10:00:00Z"),
        ("2027-02-03t10:00:00.5z", "with a lower-case t and with a lower-case z", None),
        (
            "2027-02-03T05:00:00\u221205:00",
            "with the minus sign U+2212 in its offset, not the ASCII '-'",
            "2027-02-03T05:00:00-05:00",
        ),
        (
            "20270203T100000",
            BASIC,
            "2027-02-03T10:00:00",
        ),
        ("2027-02-03T10:00:00,5Z", f"with a comma {DECIMAL_MARK}", None),
        (
            "2027-02-03T10:00:00,25+01:00",
            f"with a comma {DECIMAL_MARK}",
            "2027-02-03T10:00:00.25+01:00",
        ),
        ("20270203T100000,5Z", f"{BASIC} and with a comma {DECIMAL_MARK}", None),
    ],
)
def test_a_form_other_than_the_extended_one_is_refused_naming_what_to_write(
    start: str, how: str, write: str | None, now: datetime
) -> None:
    """A week date, an ordinal date, the basic format or a comma before the seconds' fraction
    (which Python reads, and were sent as written), a lower-case t or z, and the minus sign
    U+2212 (which got the generic format error) are refused, naming the form and the extended
    text to write."""
    write = write or "2027-02-03T10:00:00.5Z"
    assert _start_findings(start, now, timezone="UTC") == [
        ("iso8601_form", f"start is written {how}: write {write} {EXTENDED}")
    ]


NO_DAY = (
    "day of the calendar (no such week or day of that year): write the calendar date and time "
    "you mean, as YYYY-MM-DDTHH:MM:SS then Z or an offset"
)


@pytest.mark.parametrize(
    ("start", "says"),
    [
        (
            "2027-400T10:00:00Z",
            "start is written as an ordinal date (2027-400, day 400 of 2027), and that names no "
            f"{NO_DAY} {EXTENDED}",
        ),
        (
            "2027-W54-1T10:00Z",
            f"start is written as a week date (2027-W54-1), and that names no {NO_DAY} {EXTENDED}",
        ),
    ],
)
def test_a_week_or_ordinal_date_that_names_no_day_still_names_its_form(
    start: str, says: str, now: datetime
) -> None:
    """A week or day of the year past the year's end has no calendar day to offer: the finding
    names the form, says it names no day, and gives no example day to copy by mistake."""
    assert _start_findings(start, now) == [("iso8601_form", says)]


#: What to write when the form's fix would itself be refused: no text to copy is offered.
MEANT = (
    "write the date and time you mean as YYYY-MM-DDTHH:MM:SS then Z or an offset from -14:00 "
    "to +14:00"
)
MINUS = "with the minus sign U+2212 in its offset, not the ASCII '-'"


@pytest.mark.parametrize(
    ("start", "says"),
    [
        (
            "2027-02-03T10:00:00\u221215:00",
            f"{MINUS}, and its UTC offset -15:00 is out of range: offsets run from -14:00 to "
            f"+14:00; {MEANT}",
        ),
        (
            "2027-02-03T10:00:00\u22121500",
            f"{MINUS}, and its UTC offset -15:00 is out of range: offsets run from -14:00 to "
            f"+14:00; {MEANT}",
        ),
        (
            "2027-02-03T10:00:00\u221205:60",
            f"{MINUS}, and its UTC offset -05:60 does not exist: its minutes run 00 to 59; {MEANT}",
        ),
        (
            "2027-W05-3T25:00:00Z",
            "as a week date (2027-W05-3), and 25:00:00 is not a time of day (hours run 00 to "
            f"23); {MEANT}",
        ),
        (
            "20270203T100000+1500",
            f"{BASIC}, and its UTC offset +15:00 is out of range: offsets "
            f"run from -14:00 to +14:00; {MEANT}",
        ),
    ],
    ids=[
        "minus, past -14:00",
        "minus, no colon",
        "minus, minute 60",
        "week date, hour 25",
        "basic, +15:00",
    ],
)
def test_a_fix_that_would_itself_be_refused_is_not_offered(
    start: str, says: str, now: datetime
) -> None:
    """Where the text the form's fix gives would be refused too (the minus sign U+2212 before
    15:00, a week date at 25:00), the finding names both faults and offers no text to copy."""
    assert _start_findings(start, now) == [("iso8601_form", f"start is written {says} {EXTENDED}")]


@pytest.mark.parametrize(
    "start",
    [
        "2027-02-03T10:00:00Z",
        "2027-02-03T10:00Z",
        "2027-02-03T10Z",
        "2027-02-03T10:00:00.123456+01:00",
        "2027-02-03 10:00:00Z",
        "2027-02-03T10:00:00+0100",
        "2027-02-03T10:00:00-05",
    ],
)
def test_the_extended_form_is_taken(start: str, now: datetime) -> None:
    """The extended calendar form is taken with any precision, a space for the T (as before),
    and an offset with or without its colon."""
    assert _start_findings(start, now) == []


def test_hours_with_a_fraction_are_a_format_error(now: datetime) -> None:
    """10,5 (half past ten in ISO 8601) is refused: Python read it as ten o'clock and half a
    second, so it was sent meaning one time and checked as another."""
    assert [rule for rule, _ in _start_findings("2027-02-03T10,5Z", now)] == ["datetime_format"]


@pytest.mark.parametrize("padding", [" ", "\t", "\n", "\u00a0", "  \r\n"])
def test_a_time_is_sent_without_the_spaces_around_it(padding: str, now: datetime) -> None:
    """A time is a typed value: spaces, tabs, line breaks or a no-break space around it (a
    spreadsheet cell, a JSON string) are not sent as part of it."""
    start, end = "2027-02-03T10:00:00Z", "2027-02-03T11:00:00Z"
    changes = {"start": padding + start, "end": end + padding}
    checked = check_row(JobRow(2, OCCURRENCE, changes), now)
    assert checked.findings == ()
    assert checked.body is not None
    assert (checked.body["start"], checked.body["end"]) == (start, end)
