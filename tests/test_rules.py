"""The offline rules, one case per rule, from one table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from conftest import NOW, later

from bulkpatch.model import Finding, JobRow, Severity, check_row

SERIES = "1d824a4a205042eba9574e00b711b226"
OCCURRENCE = f"{SERIES}_20261201T120000Z"
TOMORROW = later(NOW, days=1)
TOMORROW_HOUR = later(NOW, days=1, hours=1)

E, W = Severity.ERROR, Severity.WARNING

# (case id, meetingId, changes, severity, field, rule)
CASES: list[tuple[str, str, dict[str, Any], Severity, str, str]] = [
    ("empty id", "", {"title": "x"}, E, "meetingId", "required"),
    ("dot id", ".", {"title": "x"}, E, "meetingId", "meeting_id"),
    ("dot dot id", "..", {"title": "x"}, E, "meetingId", "meeting_id"),
    ("header repeated", "meetingId", {"title": "title"}, E, "meetingId", "meeting_id"),
    ("header with a BOM", "\ufeffmeetingId", {"title": "title"}, E, "meetingId", "meeting_id"),
    ("byte order mark", "\ufeff" + SERIES, {"title": "x"}, E, "meetingId", "meeting_id"),
    (
        "zero-width space",
        SERIES[:4] + "\u200b" + SERIES[4:],
        {"title": "x"},
        E,
        "meetingId",
        "meeting_id",
    ),
    ("no changes", SERIES, {}, E, "", "no_changes"),
    ("unknown field", SERIES, {"titel": "x"}, E, "titel", "unknown_field"),
    (
        "unknown nested",
        SERIES,
        {"meetingOptions": {"enabledChta": True}},
        E,
        "meetingOptions.enabledChta",
        "unknown_field",
    ),
    ("read-only field", SERIES, {"webLink": "https://x"}, E, "webLink", "read_only"),
    ("read-only state", SERIES, {"state": "active"}, E, "state", "read_only"),
    ("null title", SERIES, {"title": None}, E, "title", "null_not_allowed"),
    (
        "null nested",
        SERIES,
        {"meetingOptions": {"enabledChat": None}},
        E,
        "meetingOptions.enabledChat",
        "null_not_allowed",
    ),
    ("title too long", SERIES, {"title": "t" * 129}, E, "title", "max_length"),
    ("agenda too long", SERIES, {"agenda": "a" * 1301}, E, "agenda", "max_length"),
    ("boolean type", SERIES, {"sendEmail": "yes"}, E, "sendEmail", "type"),
    ("integer type", SERIES, {"reminderTime": "15"}, E, "reminderTime", "type"),
    ("negative minutes", SERIES, {"reminderTime": -5}, E, "reminderTime", "range"),
    (
        "enum value",
        SERIES,
        {"unlockedMeetingJoinSecurity": "allowjoin"},
        E,
        "unlockedMeetingJoinSecurity",
        "enum",
    ),
    (
        "nested enum",
        SERIES,
        {"audioConnectionOptions": {"entryAndExitTone": "ding"}},
        E,
        "audioConnectionOptions.entryAndExitTone",
        "enum",
    ),
    ("join minutes set", SERIES, {"joinBeforeHostMinutes": 20}, E, "joinBeforeHostMinutes", "enum"),
    (
        "join minutes bool",
        SERIES,
        {"joinBeforeHostMinutes": False},
        E,
        "joinBeforeHostMinutes",
        "type",
    ),
    (
        "join minutes webinar",
        SERIES,
        {"joinBeforeHostMinutes": 45},
        W,
        "joinBeforeHostMinutes",
        "webinar_only",
    ),
    ("opacity low", SERIES, {"visualWatermarkOpacity": 4}, E, "visualWatermarkOpacity", "range"),
    ("opacity high", SERIES, {"visualWatermarkOpacity": 81}, E, "visualWatermarkOpacity", "range"),
    (
        "four tags",
        SERIES,
        {"integrationTags": ["a", "b", "c", "d"]},
        E,
        "integrationTags",
        "max_length",
    ),
    ("long tag", SERIES, {"integrationTags": ["x" * 65]}, E, "integrationTags[0]", "max_length"),
    ("empty tags", SERIES, {"integrationTags": []}, W, "integrationTags", "deletes_tags"),
    ("null tags", SERIES, {"integrationTags": None}, W, "integrationTags", "deletes_tags"),
    (
        "tags on occurrence",
        OCCURRENCE,
        {"integrationTags": ["a"]},
        E,
        "integrationTags",
        "occurrence",
    ),
    (
        "null tags on occurrence",
        OCCURRENCE,
        {"integrationTags": None},
        E,
        "integrationTags",
        "occurrence",
    ),
    (
        "recurrence on occurrence",
        OCCURRENCE,
        {"recurrence": "FREQ=DAILY;INTERVAL=1"},
        E,
        "recurrence",
        "occurrence",
    ),
    (
        "tracking name empty",
        SERIES,
        {"trackingCodes": [{"name": "", "value": "v"}]},
        E,
        "trackingCodes[0].name",
        "required",
    ),
    (
        "tracking value missing",
        SERIES,
        {"trackingCodes": [{"name": "Dept"}]},
        E,
        "trackingCodes[0].value",
        "required",
    ),
    (
        "tracking value long",
        SERIES,
        {"trackingCodes": [{"name": "Dept", "value": "v" * 121}]},
        E,
        "trackingCodes[0].value",
        "max_length",
    ),
    (
        "tracking name twice",
        SERIES,
        {"trackingCodes": [{"name": "D", "value": "a"}, {"name": "D", "value": "b"}]},
        W,
        "trackingCodes",
        "duplicate_name",
    ),
    (
        "live stream incomplete",
        SERIES,
        {"liveStream": {"destination": "YouTube", "rtmpUrl": "rtmps://x"}},
        E,
        "liveStream.streamUrl",
        "required",
    ),
    (
        "live stream missing",
        SERIES,
        {"enabledLiveStream": True},
        W,
        "enabledLiveStream",
        "needs_live_stream",
    ),
    ("host email", SERIES, {"hostEmail": "not-an-email"}, E, "hostEmail", "format"),
    (
        "note type without notes",
        SERIES,
        {"meetingOptions": {"enabledNote": False, "noteType": "allowOne"}},
        E,
        "meetingOptions.noteType",
        "note_type_without_notes",
    ),
    (
        "invitees need login",
        SERIES,
        {"restrictToInvitees": True, "requireAttendeeLogin": False},
        E,
        "restrictToInvitees",
        "needs_attendee_login",
    ),
    (
        "polling webinar only",
        SERIES,
        {"meetingOptions": {"enabledPolling": True}},
        W,
        "meetingOptions.enabledPolling",
        "webinar_only",
    ),
    (
        "no effect",
        SERIES,
        {"enabledVisualWatermark": False, "visualWatermarkOpacity": 40},
        W,
        "visualWatermarkOpacity",
        "no_effect",
    ),
    (
        "start not iso",
        OCCURRENCE,
        {"start": "next tuesday", "end": TOMORROW_HOUR},
        E,
        "start",
        "datetime_format",
    ),
    (
        "date only",
        OCCURRENCE,
        {"start": "2027-01-05", "end": TOMORROW_HOUR},
        E,
        "start",
        "datetime_format",
    ),
    (
        "no such day",
        OCCURRENCE,
        {"start": "2027-02-30T10:00:00Z", "end": TOMORROW_HOUR},
        E,
        "start",
        "impossible_datetime",
    ),
    (
        "no such month",
        OCCURRENCE,
        {"start": TOMORROW, "end": "2027-13-01T10:00:00Z"},
        E,
        "end",
        "impossible_datetime",
    ),
    (
        "no such hour",
        OCCURRENCE,
        {"start": "2027-01-05T25:00:00", "end": "2027-01-05T11:00:00", "timezone": "UTC"},
        E,
        "start",
        "impossible_datetime",
    ),
    (
        "rrule no such until",
        SERIES,
        {"recurrence": "FREQ=DAILY;INTERVAL=1;UNTIL=20270230T000000Z"},
        E,
        "recurrence",
        "impossible_datetime",
    ),
    (
        "no offset",
        OCCURRENCE,
        {"start": "2027-01-05T10:00:00", "end": "2027-01-05T11:00:00"},
        E,
        "start",
        "needs_offset",
    ),
    (
        "bad timezone",
        OCCURRENCE,
        {"start": "2027-01-05T10:00:00", "end": "2027-01-05T11:00:00", "timezone": "Mars/Olympus"},
        E,
        "timezone",
        "timezone",
    ),
    (
        "dst gap",
        OCCURRENCE,
        {"start": "2027-03-28T02:30:00", "end": "2027-03-28T04:00:00", "timezone": "Europe/Berlin"},
        E,
        "start",
        "nonexistent_time",
    ),
    (
        "dst fold",
        OCCURRENCE,
        {"start": "2027-10-31T02:30:00", "end": "2027-10-31T04:00:00", "timezone": "Europe/Berlin"},
        W,
        "start",
        "ambiguous_time",
    ),
    (
        "start in past",
        OCCURRENCE,
        {"start": later(NOW, days=-1), "end": TOMORROW},
        E,
        "start",
        "in_past",
    ),
    ("end in past", OCCURRENCE, {"end": later(NOW, minutes=-5)}, E, "end", "in_past"),
    (
        "start after end",
        OCCURRENCE,
        {"start": TOMORROW_HOUR, "end": TOMORROW},
        E,
        "end",
        "start_after_end",
    ),
    (
        "too short",
        OCCURRENCE,
        {"start": TOMORROW, "end": later(NOW, days=1, minutes=9)},
        E,
        "end",
        "duration",
    ),
    ("too long", OCCURRENCE, {"start": TOMORROW, "end": later(NOW, days=2)}, E, "end", "duration"),
    (
        "ten years ahead",
        OCCURRENCE,
        {"start": later(NOW, days=3653), "end": later(NOW, days=3653, hours=1)},
        E,
        "start",
        "too_far_ahead",
    ),
    (
        "starts soon",
        OCCURRENCE,
        {"start": later(NOW, minutes=3), "end": later(NOW, minutes=63)},
        W,
        "start",
        "starts_soon",
    ),
    ("half reschedule", OCCURRENCE, {"start": TOMORROW}, W, "start", "half_reschedule"),
    (
        "series reschedule",
        SERIES,
        {"start": TOMORROW, "end": TOMORROW_HOUR},
        W,
        "start",
        "cancels_exceptions",
    ),
    ("rrule garbage", SERIES, {"recurrence": "every monday"}, E, "recurrence", "rrule"),
    ("rrule no freq", SERIES, {"recurrence": "INTERVAL=1"}, E, "recurrence", "rrule"),
    ("rrule bad freq", SERIES, {"recurrence": "FREQ=DAYLY"}, E, "recurrence", "rrule"),
    (
        "rrule count and until",
        SERIES,
        {"recurrence": "FREQ=DAILY;COUNT=3;UNTIL=20270101T000000Z"},
        E,
        "recurrence",
        "rrule",
    ),
    (
        "rrule several days",
        SERIES,
        {"recurrence": "FREQ=MONTHLY;INTERVAL=1;COUNT=10;BYMONTHDAY=10,11,12"},
        W,
        "recurrence",
        "first_only",
    ),
    (
        "rrule capped",
        SERIES,
        {"recurrence": "FREQ=DAILY;INTERVAL=1;UNTIL=21241001T000000Z"},
        W,
        "recurrence",
        "capped",
    ),
]


@pytest.mark.parametrize(
    ("meeting_id", "changes", "severity", "field", "rule"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_rule(
    meeting_id: str,
    changes: dict[str, Any],
    severity: Severity,
    field: str,
    rule: str,
    now: datetime,
) -> None:
    """Each offline rule reports its own finding at its own field."""
    checked = check_row(JobRow(7, meeting_id, changes), now)
    found = {(f.severity, f.field, f.rule) for f in checked.findings}
    assert (severity, field, rule) in found, checked.findings
    assert all(f.line == 7 for f in checked.findings)
    assert checked.is_valid is (not any(f.severity is E for f in checked.findings))


VALID: list[tuple[str, str, dict[str, Any]]] = [
    ("lobby", SERIES, {"unlockedMeetingJoinSecurity": "allowJoinWithLobby"}),
    ("reschedule occurrence", OCCURRENCE, {"start": TOMORROW, "end": TOMORROW_HOUR}),
    ("minimum duration", OCCURRENCE, {"start": TOMORROW, "end": later(NOW, days=1, minutes=10)}),
    (
        "maximum duration",
        OCCURRENCE,
        {"start": TOMORROW, "end": later(NOW, days=1, hours=23, minutes=59)},
    ),
    ("nullable fields", SERIES, {"agenda": None, "recurrence": None, "trackingCodes": None}),
    ("three tags", SERIES, {"integrationTags": ["a", "b", "x" * 64]}),
    ("opacity bounds", SERIES, {"visualWatermarkOpacity": 5, "enabledVisualWatermark": True}),
    ("rrule weekly", SERIES, {"recurrence": "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE"}),
    (
        "live stream",
        SERIES,
        {
            "enabledLiveStream": True,
            "liveStream": {"destination": "Y", "rtmpUrl": "rtmps://a", "streamUrl": "https://b"},
        },
    ),
]


@pytest.mark.parametrize(
    ("meeting_id", "changes"), [case[1:] for case in VALID], ids=[case[0] for case in VALID]
)
def test_valid_rows_have_no_errors(meeting_id: str, changes: dict[str, Any], now: datetime) -> None:
    """Rows on the right side of every limit are valid."""
    checked = check_row(JobRow(2, meeting_id, changes), now)
    assert checked.is_valid, checked.findings
    assert checked.body is not None


def test_local_time_is_sent_with_its_offset(now: datetime) -> None:
    """A start without offset is read in the row's timezone and sent with that zone's offset."""
    row = JobRow(
        2,
        OCCURRENCE,
        {"start": "2027-01-05T10:00:00", "end": "2027-01-05T11:00:00", "timezone": "Europe/Berlin"},
    )
    body = check_row(row, now).body
    assert body == {
        "start": "2027-01-05T10:00:00+01:00",
        "end": "2027-01-05T11:00:00+01:00",
        "timezone": "Europe/Berlin",
    }


def test_rows_sharing_a_time_each_get_their_own_reading(now: datetime) -> None:
    """A time is read once per zone and kept for the rows after it: each row still gets its
    own zone's offset and its own findings (the warning, the line it is on)."""
    times = {"start": "2027-10-31T02:30:00", "end": "2027-10-31T04:00:00"}
    rows = [
        JobRow(line, OCCURRENCE, {**times, "timezone": zone})
        for line, zone in [(2, "Europe/Berlin"), (3, "America/New_York"), (4, "Europe/Berlin")]
    ]
    berlin, new_york, berlin_again = (check_row(row, now) for row in rows)
    assert berlin.body is not None
    assert new_york.body is not None
    assert berlin.body["start"] == "2027-10-31T02:30:00+02:00"  # the first of the two
    assert new_york.body["start"] == "2027-10-31T02:30:00-04:00"
    for checked, line in [(berlin, 2), (berlin_again, 4)]:
        warnings = [(f.line, f.rule) for f in checked.findings if f.field == "start"]
        assert (line, "ambiguous_time") in warnings
    assert all(f.rule != "ambiguous_time" for f in new_york.findings)


def test_unknown_field_suggests_the_right_one(now: datetime) -> None:
    """A misspelt or misplaced field gets a "did you mean" with the real path."""
    checked = check_row(JobRow(2, SERIES, {"titel": "x", "enabledChat": True}), now)
    messages = {f.field: f.message for f in checked.findings}
    assert "did you mean title?" in messages["titel"]
    assert "did you mean meetingOptions.enabledChat?" in messages["enabledChat"]


def test_enum_suggests_the_right_case(now: datetime) -> None:
    """An enum value in the wrong case is pointed at the right spelling."""
    checked = check_row(
        JobRow(2, SERIES, {"audioConnectionOptions": {"audioConnectionType": "voip"}}), now
    )
    assert "did you mean 'VoIP'?" in checked.findings[0].message


def test_secret_values_are_masked(now: datetime) -> None:
    """A password never appears in a finding, whatever rule it breaks."""
    checked = check_row(
        JobRow(2, SERIES, {"password": 12345678, "panelistPassword": ["S3cret!"]}), now
    )
    assert len(checked.findings) == 2
    for finding in checked.findings:
        assert finding.value == "********"
        assert "S3cret" not in finding.message
        assert "12345678" not in finding.message


def test_every_error_of_a_row_is_reported(now: datetime) -> None:
    """One row with several mistakes gets one finding for each."""
    row = JobRow(
        2, SERIES, {"title": "t" * 200, "visualWatermarkOpacity": 99, "joinBeforeHostMinutes": 7}
    )
    rules = sorted(f.rule for f in check_row(row, now).findings)
    assert rules == ["enum", "max_length", "range"]


def test_a_huge_time_cell_is_read_but_not_kept(now: datetime) -> None:
    """Readings of times are cached for the rows after; a cell far longer than any time is
    read on its own, so a file of megabyte cells cannot fill memory with them."""
    from bulkpatch.model import timing

    size = timing._cached_reading.cache_info().currsize
    huge = "2027-01-05T10:00:00." + "0" * 100_000  # spaces would be trimmed away: digits
    checked = check_row(JobRow(2, OCCURRENCE, {"start": huge}), now)
    assert "needs_offset" in [f.rule for f in checked.findings if f.field == "start"]
    assert timing._cached_reading.cache_info().currsize == size


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "2027-02-30T10:00:00Z",
            "2027-02-30 is not a day of the calendar (February 2027 has 28 days)",
        ),
        (
            "2028-02-30T10:00:00Z",
            "2028-02-30 is not a day of the calendar (February 2028 has 29 days)",
        ),
        (
            "2027-04-31 10:00+02:00",
            "2027-04-31 is not a day of the calendar (April 2027 has 30 days)",
        ),
        ("20270230T100000Z", "2027-02-30 is not a day of the calendar (February 2027 has 28 days)"),
        ("2027-13-01T10:00:00Z", "2027-13-01 is not a day of the calendar (months run 01 to 12)"),
        ("2027-00-10T10:00:00Z", "2027-00-10 is not a day of the calendar (months run 01 to 12)"),
        ("2027-01-05T25:00:00Z", "25:00:00 is not a time of day (hours run 00 to 23)"),
        (
            "2027-01-05T24:00Z",
            "24:00 is not a time of day (hours run 00 to 23: write 00:00 of the next day)",
        ),
        ("2027-01-05T10:60Z", "10:60 is not a time of day (minutes run 00 to 59)"),
        ("2027-01-05T10:00:60.5Z", "10:00:60 is not a time of day (seconds run 00 to 59)"),
    ],
)
def test_an_impossible_date_is_named_not_called_a_format_error(
    text: str, says: str, now: datetime
) -> None:
    """A start written in the right format on a day or at a time that does not exist says which
    part does not exist and why, not that the format is wrong."""
    row = JobRow(2, OCCURRENCE, {"start": text, "end": TOMORROW_HOUR})
    found = [f for f in check_row(row, now).findings if f.field == "start"]
    assert [(f.rule, f.value) for f in found] == [("impossible_datetime", repr(text))]
    assert found[0].message == f"start has the right format, but {says}"


@pytest.mark.parametrize(
    "text",
    ["2027-02-30", "2027-02-30T10:00:00Q", "2027-0230T10:00", "+2027-02-30T10:00Z", "2027-02-30T1"],
)
def test_a_wrong_format_stays_a_format_error(text: str, now: datetime) -> None:
    """A text that is not an ISO 8601 date and time is a format error even when its day is
    impossible too: the format is what to fix first."""
    row = JobRow(2, OCCURRENCE, {"start": text, "end": TOMORROW_HOUR})
    rules = [f.rule for f in check_row(row, now).findings if f.field == "start"]
    assert rules == ["datetime_format"]


def _reader_error(field: str) -> Finding:
    """A cell the reader could not read (left out of the row's changes)."""
    return Finding(E, 2, field, "type", f"{field}: expected a JSON array or object")


@pytest.mark.parametrize(
    ("meeting_id", "changes", "problems", "expected"),
    [
        (
            SERIES,
            {"start": "2027-02-30T10:00:00Z", "end": "2027-02-28T11:00:00Z"},
            (),
            [(E, "start", "impossible_datetime")],
        ),
        (SERIES, {"start": "2027-02-30T10:00:00Z"}, (), [(E, "start", "impossible_datetime")]),
        (SERIES, {"start": later(NOW, days=-1)}, (), [(E, "start", "in_past")]),
        (
            SERIES,
            {"start": TOMORROW, "end": later(NOW, days=-1)},
            (),
            [(E, "end", "in_past"), (E, "end", "start_after_end")],
        ),
        (
            SERIES,
            {"recurrence": "FREQ=DAILY;INTERVAL=0"},
            (),
            [(E, "recurrence", "rrule")],
        ),
        (SERIES, {"start": "+1h", "end": "+99999w"}, (), [(E, "end", "offset")]),
        (
            OCCURRENCE,
            {"recurrence": "FREQ=DAILY;INTERVAL=1;UNTIL=21241001T000000Z"},
            (),
            [(E, "recurrence", "occurrence")],
        ),
        (
            OCCURRENCE,
            {"start": "2025-10-26T02:30:00", "end": TOMORROW, "timezone": "Europe/Berlin"},
            (),
            [(E, "start", "in_past"), (E, "end", "duration")],
        ),
        (
            OCCURRENCE,
            {"start": TOMORROW},
            (_reader_error("end"),),
            [(E, "end", "type")],
        ),
        (
            SERIES,
            {"enabledLiveStream": True},
            (_reader_error("liveStream"),),
            [(E, "liveStream", "type")],
        ),
        (".", {"start": TOMORROW, "integrationTags": []}, (), [(E, "meetingId", "meeting_id")]),
    ],
    ids=[
        "impossible start of a series",
        "impossible start alone",
        "start alone in the past",
        "end in the past",
        "bad interval",
        "offset too far",
        "capped rule on an occurrence",
        "ambiguous start in the past",
        "start beside an unreadable end",
        "live stream unreadable",
        "no meeting",
    ],
)
def test_no_warning_about_what_a_refused_value_would_do(
    meeting_id: str,
    changes: dict[str, Any],
    problems: tuple[Finding, ...],
    expected: list[tuple[Severity, str, str]],
    now: datetime,
) -> None:
    """A warning about what a change would do (cancel a series' edited occurrences, keep the
    other end, bend a rule) is left out when that value is refused in the same row: only the
    error names the real problem."""
    checked = check_row(JobRow(2, meeting_id, changes, problems), now)
    assert [(f.severity, f.field, f.rule) for f in checked.findings] == expected


def test_a_warning_stays_beside_an_error_on_another_field(now: datetime) -> None:
    """An error on an unrelated field does not hide what a valid move would do."""
    row = JobRow(2, SERIES, {"start": TOMORROW, "end": TOMORROW_HOUR}, (_reader_error("title"),))
    found = [(f.severity, f.field, f.rule) for f in check_row(row, now).findings]
    assert found == [(E, "title", "type"), (W, "start", "cancels_exceptions")]


def test_a_refused_timezone_is_the_problem_of_its_local_times(now: datetime) -> None:
    """Local times in a row whose timezone is not a zone are not said to lack an offset: the
    row gives a timezone, and the timezone is what to fix."""
    row = JobRow(
        2,
        OCCURRENCE,
        {"start": "2027-01-05T10:00:00", "end": "2027-01-05T11:00:00", "timezone": "Mars/Olympus"},
    )
    found = [(f.field, f.rule) for f in check_row(row, now).findings]
    assert found == [("timezone", "timezone")]


@pytest.mark.parametrize("offset", ["+14:00", "-14:00", "+13:59", "+05:45", "-0930", "+05", "Z"])
def test_utc_offsets_up_to_fourteen_hours_are_taken(offset: str, now: datetime) -> None:
    """Every offset a clock shows, -14:00 to +14:00 (the widest taken), in every ISO form."""
    row = JobRow(
        2, OCCURRENCE, {"start": f"2027-01-05T10:00:00{offset}", "end": f"2027-01-05T11:00{offset}"}
    )
    checked = check_row(row, now)
    assert checked.findings == ()
    assert checked.body is not None


@pytest.mark.parametrize(
    ("offset", "says"),
    [
        ("+14:01", "UTC offset +14:01 is out of range: offsets run from -14:00 to +14:00"),
        ("-14:01", "UTC offset -14:01 is out of range: offsets run from -14:00 to +14:00"),
        ("+23:59", "UTC offset +23:59 is out of range: offsets run from -14:00 to +14:00"),
        ("-23:59", "UTC offset -23:59 is out of range: offsets run from -14:00 to +14:00"),
        ("+24:00", "UTC offset +24:00 is out of range: offsets run from -14:00 to +14:00"),
        ("+25:00", "UTC offset +25:00 is out of range: offsets run from -14:00 to +14:00"),
        ("+2500", "UTC offset +2500 is out of range: offsets run from -14:00 to +14:00"),
        ("+05:60", "UTC offset +05:60 does not exist: its minutes run 00 to 59"),
        (
            "+05:30:15",
            "UTC offset +05:30:15 has seconds: an offset is hours and minutes, such as +05:30",
        ),
    ],
)
def test_an_offset_no_clock_shows_is_named(offset: str, says: str, now: datetime) -> None:
    """An offset past +-14:00 (Python reads up to +-23:59 and refuses +24:00), with minutes past
    59 or with seconds is named as the problem, not called a format error."""
    text = f"2027-01-05T10:00:00{offset}"
    checked = check_row(JobRow(2, OCCURRENCE, {"start": text, "end": "2027-01-05T11:00Z"}), now)
    assert [(f.field, f.rule, f.value) for f in checked.findings] == [
        ("start", "utc_offset", repr(text))
    ]
    assert checked.findings[0].message == f"start's {says}"


def test_an_impossible_day_with_an_impossible_offset_names_both(now: datetime) -> None:
    """A start wrong in its day and its offset says both, so one correction is enough."""
    text = "2027-02-30T10:00:00+25:00"
    checked = check_row(JobRow(2, OCCURRENCE, {"start": text, "end": "2027-03-01T11:00Z"}), now)
    assert [(f.rule, f.message) for f in checked.findings] == [
        (
            "impossible_datetime",
            "start has the right format, but 2027-02-30 is not a day of the calendar (February "
            "2027 has 28 days), and its UTC offset +25:00 is out of range: offsets run from "
            "-14:00 to +14:00",
        )
    ]


@pytest.mark.parametrize(
    ("stamp", "says"),
    [
        ("20270230T100000Z", "2027-02-30 is not a day of the calendar (February 2027 has 28 days)"),
        ("20271301T100000Z", "2027-13-01 is not a day of the calendar (months run 01 to 12)"),
        ("20270105T250000Z", "25:00:00 is not a time of day (hours run 00 to 23)"),
    ],
)
def test_an_occurrence_id_stamped_on_an_impossible_day_is_refused(
    stamp: str, says: str, now: datetime
) -> None:
    """An occurrence id's stamp is when it starts: on a day or at a time that does not exist it
    names no occurrence (the API answers 404), and the finding names that day or time."""
    meeting_id = f"{SERIES}_{stamp}"
    checked = check_row(JobRow(2, meeting_id, {"title": "x"}), now)
    assert [(f.field, f.rule, f.value) for f in checked.findings] == [
        ("meetingId", "meeting_id", repr(meeting_id))
    ]
    assert checked.findings[0].message == (
        f"meetingId is an occurrence id stamped {stamp}, but {says}: no occurrence starts then, "
        "so no meeting has this id (the API answers 404); copy the id as bulkpatch pull or List "
        "Meetings gives it"
    )
    assert not checked.is_valid


RRULE_FORMS = "a UTC date and time such as 20270228T100000Z, or a date such as 20270228"
BYDAY_TAKES = (
    "BYDAY takes MO, TU, WE, TH, FR, SA or SU (1MO: the first Monday, -1FR: the last Friday), "
    "separated by commas"
)


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        (
            "FREQ=WEEKLY;UNTIL=20270228T10:00:00Z",
            "recurrence's UNTIL=20270228T10:00:00Z is not in RFC 2445's form: write "
            f"UNTIL=20270228T100000Z (no dashes or colons; UNTIL is {RRULE_FORMS})",
        ),
        (
            "FREQ=WEEKLY;UNTIL=2027-02-28",
            "recurrence's UNTIL=2027-02-28 is not in RFC 2445's form: write UNTIL=20270228 "
            f"(no dashes or colons; UNTIL is {RRULE_FORMS})",
        ),
        (
            "FREQ=WEEKLY;UNTIL=2027-02-28T10:00+02:00",
            "recurrence's UNTIL=2027-02-28T10:00+02:00 is not in RFC 2445's form: UNTIL is "
            f"{RRULE_FORMS} (no dashes, colons or offset)",
        ),
        (
            "FREQ=WEEKLY;BYDAY=MON,TUE",
            f"recurrence's BYDAY=MON,TUE has 'MON', which is not a day: {BYDAY_TAKES}; "
            "did you mean MO?",
        ),
        (
            "FREQ=WEEKLY;BYDAY=XX",
            f"recurrence's BYDAY=XX has 'XX', which is not a day: {BYDAY_TAKES}",
        ),
        (
            "FREQ=MONTHLY;BYMONTHDAY=40",
            "recurrence's BYMONTHDAY=40 has 40, which is out of range: BYMONTHDAY takes 1 to 31, "
            "or -31 to -1 from the end",
        ),
        (
            "FREQ=YEARLY;BYMONTH=13",
            "recurrence's BYMONTH=13 has 13, which is out of range: BYMONTH takes 1 to 12",
        ),
        (
            "FREQ=WEKLY",
            "recurrence's FREQ=WEKLY is not a frequency of a meeting series' RRULE: FREQ takes DAILY, WEEKLY, "
            "MONTHLY or YEARLY; did you mean WEEKLY?",
        ),
        (
            "FREQ=BIWEEKLY",
            "recurrence's FREQ=BIWEEKLY is not a frequency of a meeting series' RRULE: FREQ takes DAILY, "
            "WEEKLY, MONTHLY or YEARLY; every two weeks is FREQ=WEEKLY;INTERVAL=2",
        ),
        (
            "FREQ=HOURLY",
            "recurrence's FREQ=HOURLY is not a frequency of a meeting series' RRULE: FREQ takes "
            "DAILY, WEEKLY, MONTHLY or YEARLY",
        ),
        (
            "FREQ=WEEKLY;INTERVAL=\u0661",
            "recurrence's INTERVAL=\u0661 is refused: INTERVAL takes a positive whole number, 1 or "
            "more (RFC 2445)",
        ),
        (
            "=;",
            "recurrence's '' is not a part of an RRULE; the parts are FREQ, UNTIL, COUNT, INTERVAL, BYSECOND, BYMINUTE, BYHOUR, BYDAY, BYMONTHDAY, BYYEARDAY, BYWEEKNO, BYMONTH, BYSETPOS, WKST",
        ),
        (
            "FREQ=DAILY;INTERVAL=0",
            "recurrence's INTERVAL=0 is refused: INTERVAL takes a positive whole number, 1 or more "
            "(RFC 2445)",
        ),
        (
            "FREQ=WEEKLY;BYDAYS=MO",
            "recurrence's BYDAYS is not a part of an RRULE; did you mean BYDAY?",
        ),
        ("FREQ=WEEKLY;FREQ=DAILY", "recurrence gives FREQ twice; each part is given once"),
        (
            "FREQ=WEEKLY;BYEASTER=0",
            "recurrence's BYEASTER is not a part of an RRULE; the parts are FREQ, UNTIL, COUNT, "
            "INTERVAL, BYSECOND, BYMINUTE, BYHOUR, BYDAY, BYMONTHDAY, BYYEARDAY, BYWEEKNO, "
            "BYMONTH, BYSETPOS, WKST",
        ),
        (
            "FREQ=WEEKLY,BYDAY=MO",
            "recurrence's part 'FREQ=WEEKLY,BYDAY=MO' holds two parts: separate them with ';', "
            "not ','",
        ),
        (
            "FREQ=WEEKLY; BYDAY=MO, TU",
            "recurrence has spaces; an RRULE is written without any: FREQ=WEEKLY;BYDAY=MO,TU",
        ),
        ("FREQ=WEEKLY;BYDAY=", "recurrence's BYDAY has no value"),
        (
            "BYDAY=MO",
            "recurrence has no FREQ; every RRULE needs one, such as FREQ=WEEKLY;INTERVAL=1;BYDAY=MO",
        ),
    ],
)
def test_a_malformed_rrule_part_is_named_with_its_form(rule: str, says: str, now: datetime) -> None:
    """A wrong part of an RRULE is named, with the form RFC 2445 gives it, instead of what the
    RRULE library says about its own insides ("unsupported property: FREQ=WEEKLY" for an UNTIL
    with colons) or nothing at all (BYMONTHDAY=40 made a series that never meets)."""
    checked = check_row(JobRow(2, SERIES, {"recurrence": rule}), now)
    assert [(f.field, f.rule, f.message) for f in checked.findings] == [
        ("recurrence", "rrule", says)
    ]


@pytest.mark.parametrize(
    "rule",
    [
        "freq=weekly;byday=mo,we",
        "FREQ=DAILY;COUNT=5;",
        "FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20270228",
        "FREQ=MONTHLY;BYSETPOS=-1;BYDAY=FR;WKST=SU",
        "FREQ=MONTHLY;BYMONTHDAY=-1;INTERVAL=2",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=28;UNTIL=20270228T100000Z",
    ],
)
def test_well_formed_rrules_stay_valid(rule: str, now: datetime) -> None:
    """Every part in its RFC 2445 form, in any case, is taken as before."""
    checked = check_row(JobRow(2, SERIES, {"recurrence": rule}), now)
    assert [f.rule for f in checked.findings] == ["cancels_exceptions"]


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        (
            {"start": "+2 hours", "end": "+2h"},
            "start",
            "'+2 hours' is not an offset; write +2h (an offset is a sign, a whole number and m, "
            "h, d or w)",
        ),
        (
            {"start": "+1x", "end": "+1h"},
            "start",
            "'+1x' is not an offset: an offset is a sign, a whole number and m, h, d or w (+1h, "
            "-30m, +1d, +1w)",
        ),
        (
            {"end": "-1day"},
            "end",
            "'-1day' is not an offset; write -1d (an offset is a sign, a whole number and m, h, d "
            "or w)",
        ),
        (
            {"shift": "+1.5h"},
            "shift",
            "'+1.5h' is not an offset; write +90m (an offset is a sign, a whole number and m, h, d "
            "or w)",
        ),
        (
            {"shift": "1h"},
            "shift",
            "'1h' is not an offset; write +1h or -1h (it starts with + or -)",
        ),
        (
            {"start": "+1234567h", "end": "+1h"},
            "start",
            "'+1234567h' reaches more than 10 years: the API refuses a start that far ahead",
        ),
        (
            {"shift": "+1234567m"},
            "shift",
            "'+1234567m' is not an offset: at most 6 digits; write it in hours, days or weeks "
            "(h, d, w)",
        ),
    ],
)
def test_a_mistyped_offset_is_named_as_an_offset(
    changes: dict[str, Any], field: str, says: str, now: datetime
) -> None:
    """A start, end or shift meant as an offset but mistyped (+2 hours, +1.5h, +1x) says what to
    write, instead of asking for an ISO 8601 date or saying start and end are not both offsets."""
    checked = check_row(JobRow(2, OCCURRENCE, changes), now)
    assert [(f.field, f.rule, f.message) for f in checked.findings] == [(field, "offset", says)]


@pytest.mark.parametrize(
    ("changes", "found"),
    [
        (
            {"start": "+2 hours", "end": "2031-05-01T10:00:00Z"},
            [("start", "offset"), ("end", "relative_mixed")],
        ),
        ({"shift": "+1 day", "start": "+1h"}, [("shift", "offset"), ("shift", "shift_alone")]),
    ],
)
def test_a_mistyped_offset_still_gets_the_rules_of_an_offset(
    changes: dict[str, Any], found: list[tuple[str, str]], now: datetime
) -> None:
    """A mistyped offset counts as meant for the rules about offsets: beside a time, the time
    is named for the mix (it named the typo twice); beside start, a shift is not alone."""
    checked = check_row(JobRow(2, OCCURRENCE, changes), now)
    assert sorted((f.field, f.rule) for f in checked.findings) == sorted(found)


@pytest.mark.parametrize("header", ["meetingId", "\ufeffmeetingId", " meetingid"])
def test_a_repeated_header_is_named_as_one(header: str, now: datetime) -> None:
    """A header row repeated by joining two files, the second saved with a byte order mark as
    Excel's CSV UTF-8 is, is named as a header (it was told to copy the id again)."""
    checked = check_row(JobRow(5, header, {"title": "title"}), now)
    assert [f.message for f in checked.findings] == [
        "this row repeats the header row (two files joined into one?)"
    ]
