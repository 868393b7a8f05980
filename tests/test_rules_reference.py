"""Offline rules added for the fidelity audit (issue 15), each with the reference sentence it follows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bulkpatch.model import JobRow, Severity, check_row
from bulkpatch.model.recurrence import bend

SERIES = "1d824a4a205042eba9574e00b711b226"
OCCURRENCE = f"{SERIES}_20261201T120000Z"
#: A clock in the middle of a minute, so the minute rule can be seen.
NOW = datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC)
E, W = Severity.ERROR, Severity.WARNING


def at(**delta: float) -> str:
    return (NOW + timedelta(**delta)).isoformat()


# (case id, the reference's sentence, meetingId, changes, severity, field, rule)
CASES: list[tuple[str, str, str, dict[str, Any], Severity, str, str]] = [
    (
        "start earlier in this minute",
        "if start is within the same minute as the current time, start will be adjusted to the "
        "upcoming minute ... Duration between start and end cannot be shorter than 10 minutes",
        OCCURRENCE,
        {"start": at(seconds=-20), "end": at(minutes=10, seconds=-20)},
        E,
        "end",
        "duration",
    ),
    (
        "start later in this minute",
        "if start is within the same minute as the current time, start will be adjusted to the "
        "upcoming minute",
        OCCURRENCE,
        {"start": at(seconds=20), "end": at(minutes=10, seconds=20)},
        E,
        "end",
        "duration",
    ),
    (
        "interval zero",
        "Meeting series recurrence rule (conforming with RFC 2445)",  # INTERVAL is 1*DIGIT, > 0
        SERIES,
        {"recurrence": "FREQ=DAILY;INTERVAL=0"},
        E,
        "recurrence",
        "rrule",
    ),
    (
        "interval negative",
        "Meeting series recurrence rule (conforming with RFC 2445)",
        SERIES,
        {"recurrence": "FREQ=DAILY;INTERVAL=-1"},
        E,
        "recurrence",
        "rrule",
    ),
    (
        "count zero",
        "Meeting series recurrence rule (conforming with RFC 2445)",  # COUNT is 1*DIGIT, > 0
        SERIES,
        {"recurrence": "FREQ=DAILY;COUNT=0"},
        E,
        "recurrence",
        "rrule",
    ),
    (
        "until beyond five years",
        "the actual furthest date accepted for the recurring meeting is five years from now",
        SERIES,
        {"recurrence": "FREQ=WEEKLY;INTERVAL=1;UNTIL=20400101T000000Z"},
        W,
        "recurrence",
        "capped",
    ),
    (
        "daily count over the limit",
        "if it has an ending date, there can be up to ... 1826 occurrences for a daily meeting",
        SERIES,
        {"recurrence": "FREQ=DAILY;COUNT=2000"},
        W,
        "recurrence",
        "capped",
    ),
    (
        "yearly count over the limit",
        "there can be up to 5 occurrences for a yearly meeting",
        SERIES,
        {"recurrence": "FREQ=YEARLY;COUNT=6"},
        W,
        "recurrence",
        "capped",
    ),
    (
        "weekdays until four years on",
        "there can be up to ... 261 occurrences for a weekly meeting",
        SERIES,
        {"recurrence": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;UNTIL=20301101T000000Z"},
        W,
        "recurrence",
        "capped",
    ),
    (
        "several month days",
        "Multiple days or dates for monthly or yearly recurrence rule are not supported, only the "
        "first day or date specified is taken.",
        SERIES,
        {"recurrence": "FREQ=MONTHLY;INTERVAL=1;COUNT=10;BYMONTHDAY=10,11,12"},
        W,
        "recurrence",
        "first_only",
    ),
    (
        "live stream on without settings",
        "Whether or not live streaming is enabled. If enabled, the liveStream must be specified.",
        SERIES,
        {"enabledLiveStream": True},
        W,
        "enabledLiveStream",
        "needs_live_stream",
    ),
    (
        "dot dot meeting id",
        "meetingId: Unique identifier for the meeting to be updated.",  # ".." names a path
        "..",
        {"title": "x"},
        E,
        "meetingId",
        "meeting_id",
    ),
]


@pytest.mark.parametrize(
    ("meeting_id", "changes", "severity", "field", "rule"),
    [case[2:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_reference_rule_offline(
    meeting_id: str, changes: dict[str, Any], severity: Severity, field: str, rule: str
) -> None:
    """Each rule of the reference the audit found missing is found offline, at its field."""
    found = {
        (f.severity, f.field, f.rule)
        for f in check_row(JobRow(2, meeting_id, changes), NOW).findings
    }
    assert (severity, field, rule) in found


def test_a_start_within_the_minute_that_still_fits_is_valid() -> None:
    """ "start will be adjusted to the upcoming minute": 11 minutes from a start 20 s ago is 10."""
    changes = {"start": at(seconds=-20), "end": at(minutes=11, seconds=-20)}
    assert check_row(JobRow(2, OCCURRENCE, changes), NOW).is_valid


def test_a_start_in_an_earlier_minute_is_in_the_past() -> None:
    """ "start cannot be before current date and time": a start in the previous minute is refused."""
    changes = {"start": at(seconds=-40), "end": at(minutes=30)}
    rules = {f.rule for f in check_row(JobRow(2, OCCURRENCE, changes), NOW).findings}
    assert "in_past" in rules


@pytest.mark.parametrize(
    ("rule", "kept"),
    [
        (
            "FREQ=MONTHLY;INTERVAL=1;COUNT=10;BYMONTHDAY=10,11,12",
            "FREQ=MONTHLY;INTERVAL=1;COUNT=10;BYMONTHDAY=10",
        ),
        ("FREQ=YEARLY;BYMONTH=3;BYDAY=MO,TU", "FREQ=YEARLY;BYMONTH=3;BYDAY=MO"),
        ("FREQ=WEEKLY;BYDAY=MO,TU", "FREQ=WEEKLY;BYDAY=MO,TU"),
        (
            "FREQ=DAILY;INTERVAL=1;UNTIL=21241001T000000Z",
            "FREQ=DAILY;INTERVAL=1;UNTIL=20311125T120030Z",
        ),
        ("FREQ=DAILY;COUNT=2000", "FREQ=DAILY;COUNT=1826"),
        ("FREQ=MONTHLY;COUNT=61", "FREQ=MONTHLY;COUNT=60"),
        ("FREQ=WEEKLY;COUNT=261", "FREQ=WEEKLY;COUNT=261"),
        ("FREQ=DAILY;INTERVAL=1", "FREQ=DAILY;INTERVAL=1"),
    ],
)
def test_the_api_keeps_a_bent_rule(rule: str, kept: str) -> None:
    """ "only the first day or date specified is taken"; "five years from now"; "up to 5 ... 60 ...
    261 ... 1826 occurrences"; a rule that never ends is "unlimited"."""
    assert bend(rule, NOW).text == kept


def test_a_weekday_rule_is_cut_at_its_261st_occurrence() -> None:
    """ "there can be up to ... 261 occurrences for a weekly meeting", whatever its UNTIL."""
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday
    bent = bend("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;UNTIL=20301101T000000Z", NOW, start)
    assert bent.count_capped == 261
    assert bent.text.endswith("UNTIL=20271129T090000Z")  # 52 weeks of 5, then one Monday
