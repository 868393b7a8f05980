"""The recurrence rules past the RRULE's form: the iCalendar prefix, and rules that never occur."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from bulkpatch.model import JobRow, Severity, check_row
from bulkpatch.sandbox.schedule import new_schedule

SERIES = "1d824a4a205042eba9574e00b711b226"
#: A series moved to February 2027 (after the tests' fixed NOW, 2026-11-25), an hour long.
FEBRUARY = {"start": "2027-02-03T10:00:00Z", "end": "2027-02-03T11:00:00Z"}
#: 20:00 in Los Angeles is 04:00 UTC the next day: an UNTIL without Z is read on this clock.
LOS_ANGELES_EVENING = {
    "start": "2027-02-03T20:00:00",
    "end": "2027-02-03T21:00:00",
    "timezone": "America/Los_Angeles",
}


def _errors(changes: dict[str, Any], now: datetime) -> list[tuple[str, str, str]]:
    """The (field, rule, message) of each error of a series row with these changes."""
    checked = check_row(JobRow(2, SERIES, changes), now)
    return [(f.field, f.rule, f.message) for f in checked.findings if f.severity is Severity.ERROR]


@pytest.mark.parametrize(
    ("rule", "rest"),
    [
        ("RRULE:FREQ=WEEKLY;BYDAY=MO", "FREQ=WEEKLY;BYDAY=MO"),
        ("rrule:FREQ=DAILY;COUNT=5;", "FREQ=DAILY;COUNT=5;"),
        ("  RRULE: FREQ=MONTHLY", "FREQ=MONTHLY"),
    ],
)
def test_an_icalendar_prefix_is_refused_saying_to_drop_it(
    rule: str, rest: str, now: datetime
) -> None:
    """A rule copied with iCalendar's RRULE: prefix is refused, not cut: the text is sent as
    written, and the API takes the rule alone."""
    assert _errors({"recurrence": rule}, now) == [
        (
            "recurrence",
            "rrule",
            f"recurrence starts with {rule.strip()[:6]!r}, the name an iCalendar file gives the "
            f"rule, which is not part of it: drop the prefix and write {rest}",
        )
    ]


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        (
            "DTSTART:20270301T100000Z\nRRULE:FREQ=WEEKLY;BYDAY=MO",
            "recurrence is an iCalendar block (DTSTART, RRULE lines), not a rule: give the value "
            "of its RRULE line alone: FREQ=WEEKLY;BYDAY=MO (the series starts at the row's start, "
            "not at a DTSTART line)",
        ),
        (
            "DTSTART;TZID=Europe/Berlin:20270301T100000\r\nrrule:FREQ=DAILY;COUNT=3\r\n",
            "recurrence is an iCalendar block (DTSTART, RRULE lines), not a rule: give the value "
            "of its RRULE line alone: FREQ=DAILY;COUNT=3 (the series starts at the row's start, "
            "not at a DTSTART line)",
        ),
        (
            "DTSTART:20270301T100000Z\nEXDATE:20270308T100000Z",
            "recurrence is an iCalendar block (DTSTART, EXDATE lines), not a rule: give an RRULE's "
            "value, such as FREQ=WEEKLY;INTERVAL=1;BYDAY=MO (the series starts at the row's "
            "start, not at a DTSTART line)",
        ),
    ],
    ids=["dtstart then rrule", "with a zone, crlf", "no rrule line"],
)
def test_an_icalendar_block_is_named_as_one(rule: str, says: str, now: datetime) -> None:
    """Lines copied from a calendar file (DTSTART, then RRULE) are named as an iCalendar block,
    saying to give the rule's value alone, not "has a space"."""
    assert _errors({"recurrence": rule}, now) == [("recurrence", "rrule", says)]


#: RFC 5545's reason, which every numbered-day refusal gives.
COUNTS_IN = (
    "RFC 5545 numbers a day only in a MONTHLY or YEARLY rule, which has a month or year to count in"
)


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        (
            "FREQ=WEEKLY;BYDAY=2MO",
            f"recurrence's BYDAY=2MO numbers its day in a weekly rule: {COUNTS_IN}; write BYDAY=MO "
            "for every Monday, or FREQ=MONTHLY;BYDAY=2MO for the 2nd Monday of each month",
        ),
        (
            "FREQ=DAILY;BYDAY=MO,-1FR",
            f"recurrence's BYDAY=MO,-1FR numbers -1FR in a daily rule: {COUNTS_IN}; write "
            "BYDAY=MO,FR for every Friday, or FREQ=MONTHLY;BYDAY=-1FR for the last Friday of each "
            "month",
        ),
        (
            "FREQ=WEEKLY;BYDAY=6MO",
            f"recurrence's BYDAY=6MO numbers its day in a weekly rule: {COUNTS_IN}; write BYDAY=MO "
            "for every Monday, or FREQ=MONTHLY;BYDAY=6MO for the 6th Monday of each month",
        ),
        (
            "FREQ=YEARLY;BYWEEKNO=20;BYDAY=1MO",
            "recurrence's BYDAY=1MO numbers its day in a yearly rule with BYWEEKNO: RFC 5545 "
            "numbers a day only without BYWEEKNO (a week has one Monday); write BYDAY=MO",
        ),
    ],
    ids=["weekly", "daily, second day", "weekly past a month", "yearly with byweekno"],
)
def test_a_numbered_day_with_nothing_to_count_in_is_refused(
    rule: str, says: str, now: datetime
) -> None:
    """A numbered BYDAY in a daily or weekly rule (or a yearly one with BYWEEKNO) is refused, as
    RFC 5545 forbids it: dateutil reads it as every such day, which may not be what was meant."""
    assert _errors({"recurrence": rule}, now) == [("recurrence", "rrule", says)]


NEVER = "the series would have no occurrence"
IN_FIVE_YEARS = (
    "in the 5 years from the series' start (2027-02-03T10:00:00+00:00), and the API keeps no "
    "occurrence past 5 years from now"
)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        (
            {**FEBRUARY, "recurrence": "FREQ=WEEKLY;UNTIL=20270101T000000Z"},
            "recurrence's UNTIL=20270101T000000Z is before the series' start "
            f"(2027-02-03T10:00:00+00:00): {NEVER}; give an UNTIL after the start",
        ),
        (
            {**FEBRUARY, "recurrence": "FREQ=DAILY;UNTIL=20270202"},
            "recurrence's UNTIL=20270202 is before the series' start "
            f"(2027-02-03T10:00:00+00:00): {NEVER}; give an UNTIL after the start",
        ),
        (
            {**LOS_ANGELES_EVENING, "recurrence": "FREQ=DAILY;UNTIL=20270203T195900"},
            "recurrence's UNTIL=20270203T195900 is before the series' start "
            f"(2027-02-03T20:00:00-08:00): {NEVER}; give an UNTIL after the start",
        ),
        (
            {"recurrence": "FREQ=MONTHLY;BYDAY=+6MO"},
            "recurrence's BYDAY=+6MO never falls: no month has a 6th Monday (a month has 4 or 5 "
            f"of each day: 1MO to 5MO, or -1 to -5 from its end); {NEVER}",
        ),
        (
            {"recurrence": "FREQ=MONTHLY;BYDAY=-6FR"},
            "recurrence's BYDAY=-6FR never falls: no month has a 6th-to-last Friday (a month has "
            f"4 or 5 of each day: 1FR to 5FR, or -1 to -5 from its end); {NEVER}",
        ),
        (
            {"recurrence": "FREQ=MONTHLY;BYDAY=10TU,1WE"},
            "recurrence's BYDAY=10TU never falls: no month has a 10th Tuesday (the API keeps only "
            "the first of BYDAY's values) (a month has 4 or 5 of each day: 1TU to 5TU, or -1 to "
            f"-5 from its end); {NEVER}",
        ),
        (
            {"recurrence": "FREQ=YEARLY;BYMONTH=3;BYDAY=7SU"},
            "recurrence's BYDAY=7SU never falls: no month has a 7th Sunday (a month has 4 or 5 of "
            f"each day: 1SU to 5SU, or -1 to -5 from its end); {NEVER}",
        ),
        (
            {"recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"},
            "recurrence's BYMONTHDAY=30 falls in none of the months the rule meets in: February "
            f"has at most 29 days; {NEVER}",
        ),
        (
            {"recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-31,1"},
            "recurrence's BYMONTHDAY=-31 (the API keeps only the first of BYMONTHDAY's values) "
            "falls in none of the months the rule meets in: February has at most 29 days; "
            f"{NEVER}",
        ),
        (
            {"recurrence": "FREQ=YEARLY;BYMONTH=4,6,9,11;BYMONTHDAY=31"},
            "recurrence's BYMONTHDAY=31 falls in none of the months the rule meets in: April, "
            f"June, September and November have at most 30 days; {NEVER}",
        ),
        (
            {"recurrence": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30,31"},
            "recurrence's BYMONTHDAY=30,31 falls in none of the months the rule meets in: "
            f"February has at most 29 days; {NEVER}",
        ),
        (
            {**FEBRUARY, "recurrence": "FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=30"},
            "recurrence's BYMONTHDAY=30 falls in none of the months the rule meets in: February "
            f"has at most 29 days; {NEVER}",
        ),
        (
            {
                **FEBRUARY,
                "recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;UNTIL=20280201T000000Z",
            },
            "recurrence's UNTIL=20280201T000000Z ends the series before its first occurrence, "
            f"2028-02-29T10:00:00+00:00: {NEVER}; give an UNTIL on or after it",
        ),
        (
            {**FEBRUARY, "recurrence": "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6"},
            f"recurrence's BYDAY=MO and BYSETPOS=6 choose no day {IN_FIVE_YEARS}: {NEVER}",
        ),
        (
            {**FEBRUARY, "recurrence": "FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=6"},
            "recurrence's BYDAY=MO and BYSETPOS=6 choose no day in the 5 years from the series' "
            "start (2027-02-03T10:00:00+00:00) (the API keeps only the first of BYDAY's values), "
            f"and the API keeps no occurrence past 5 years from now: {NEVER}",
        ),
        (
            {**FEBRUARY, "recurrence": "FREQ=YEARLY;BYMONTH=3;BYWEEKNO=1"},
            f"recurrence's BYMONTH=3 and BYWEEKNO=1 choose no day {IN_FIVE_YEARS}: {NEVER}",
        ),
        (
            {**FEBRUARY, "recurrence": "FREQ=DAILY;INTERVAL=7;BYDAY=MO"},
            f"recurrence's INTERVAL=7 and BYDAY=MO choose no day {IN_FIVE_YEARS}: {NEVER}",
        ),
        (
            {"recurrence": "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6"},
            f"recurrence's BYDAY=MO and BYSETPOS=6 choose no day at all: {NEVER}",
        ),
        (
            {"recurrence": "FREQ=YEARLY;BYMONTH=1;BYYEARDAY=200"},
            f"recurrence's BYMONTH=1 and BYYEARDAY=200 choose no day at all: {NEVER}",
        ),
    ],
    ids=[
        "until before start",
        "until date before start",
        "local until before a local start",
        "sixth monday",
        "sixth-to-last friday",
        "first of several days",
        "yearly within a month",
        "february 30",
        "february -31, first only",
        "31 in 30-day months",
        "daily in february",
        "every 12 months from february",
        "29 february, until before the next",
        "sixth monday by bysetpos",
        "sixth by bysetpos, first day only",
        "week 1 in march",
        "every 7th day from a wednesday, mondays",
        "sixth by bysetpos, no start",
        "day 200 in january, no start",
    ],
)
def test_a_rule_that_never_occurs_is_refused(
    changes: dict[str, Any], says: str, now: datetime
) -> None:
    """A rule of the right form with no occurrence at all is refused, saying why, instead of
    making a series that never meets: from its parts where they tell, else by asking dateutil
    for its first occurrence within the five years the API keeps (never a search that runs
    through every year to 9999)."""
    assert _errors(changes, now) == [("recurrence", "never_occurs", says)]


@pytest.mark.parametrize(
    "changes",
    [
        {**FEBRUARY, "recurrence": "FREQ=WEEKLY;UNTIL=20270203T100000Z"},
        {**FEBRUARY, "recurrence": "FREQ=WEEKLY;UNTIL=20270203"},
        {**LOS_ANGELES_EVENING, "recurrence": "FREQ=WEEKLY;UNTIL=20270203"},
        {**LOS_ANGELES_EVENING, "recurrence": "FREQ=WEEKLY;UNTIL=20270203T200000"},
        {"recurrence": "FREQ=WEEKLY;UNTIL=20270101T000000Z"},
        {"recurrence": "FREQ=MONTHLY;BYDAY=5MO"},
        {"recurrence": "FREQ=MONTHLY;BYDAY=-5SU"},
        {"recurrence": "FREQ=YEARLY;BYDAY=53MO"},
        {"recurrence": "FREQ=YEARLY;BYMONTH=1;BYDAY=5MO"},
        {"recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"},
        {"recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-29"},
        {"recurrence": "FREQ=YEARLY;BYMONTH=2,3;BYMONTHDAY=31"},
        {"recurrence": "FREQ=YEARLY;BYMONTHDAY=31"},
        {"recurrence": "FREQ=MONTHLY;BYMONTHDAY=31"},
        {"recurrence": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=1,30"},
        {**FEBRUARY, "recurrence": "FREQ=MONTHLY;INTERVAL=6;BYMONTHDAY=31"},
        {"recurrence": "FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=30"},
        {**FEBRUARY, "recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;UNTIL=20280229T100000Z"},
        {**FEBRUARY, "recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"},
        {**FEBRUARY, "recurrence": "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"},
        {**FEBRUARY, "recurrence": "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13;UNTIL=20280101"},
        {**FEBRUARY, "recurrence": "FREQ=DAILY;INTERVAL=7;BYDAY=WE"},
        {"recurrence": "FREQ=DAILY;INTERVAL=7;BYDAY=MO"},
        {"recurrence": "FREQ=YEARLY;BYWEEKNO=53"},
        {"recurrence": "FREQ=YEARLY;BYYEARDAY=366"},
    ],
)
def test_a_rule_that_occurs_now_and_then_is_taken(changes: dict[str, Any], now: datetime) -> None:
    """A rule that meets only in some months or years (the 5th Monday, 29 February, the 31st
    of a rule that also meets in August, Friday the 13th, week 53) is taken, and so is an UNTIL
    on the start itself or on its first occurrence (a date or a time without Z on the start's
    own clock, west of UTC too) or a rule whose start is not in the row and may meet."""
    assert _errors(changes, now) == []


@pytest.mark.parametrize(
    ("byday", "words"), [("21MO", "21st"), ("-22TU", "22nd-to-last"), ("53SU", "53rd")]
)
def test_a_numbered_day_past_a_month_is_named_in_english(
    byday: str, words: str, now: datetime
) -> None:
    """The message counts in English ordinals: a 21st Monday, not a 21th."""
    [(_, rule, says)] = _errors({"recurrence": f"FREQ=YEARLY;BYMONTH=1;BYDAY={byday}"}, now)
    assert rule == "never_occurs"
    assert f"no month has a {words} " in says


@pytest.mark.parametrize("start", ["2027-08-14T01:00:00Z", "2027-08-13T21:00:00-04:00"])
def test_a_rule_is_read_on_the_clock_of_the_rows_timezone(start: str, now: datetime) -> None:
    """A start written in UTC falls on the meeting's own day, as the API and the sandbox read
    it: Friday the 13th at 21:00 in New York (01:00 UTC on the 14th) meets a Friday-the-13th
    rule ending on the 25th; read on UTC's clock it was refused as meeting first in 2028."""
    moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    changes = {
        "start": start,
        "end": (moment + timedelta(hours=1)).isoformat(),
        "timezone": "America/New_York",
        "recurrence": "FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR;UNTIL=20270825",
    }
    assert _errors(dict(changes), now) == []
    meeting = {**changes, "recurrence": None, "timezone": "UTC"}
    kept = new_schedule(
        meeting, {"timezone": changes["timezone"], "recurrence": changes["recurrence"]}, now
    )
    assert kept.recurrence == changes["recurrence"]
