"""Relative reschedules: offsets parse, and resolve on a meeting, across DST in its own zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bulkpatch.model.relative import Offset, offset_problem, parse_offset, resolve

BERLIN = ZoneInfo("Europe/Berlin")


def next_spring_forward(after: datetime) -> datetime:
    """The first day after ``after`` whose midnight-to-midnight in Berlin is 23 hours long."""
    day = after.astimezone(BERLIN).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    for _ in range(400):
        day += timedelta(days=1)
        start = day.replace(tzinfo=BERLIN).astimezone(UTC)
        end = (day + timedelta(days=1)).replace(tzinfo=BERLIN).astimezone(UTC)
        if end - start == timedelta(hours=23):
            return day
    raise AssertionError("no DST change in Berlin within 400 days")


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("+1h", Offset(1, "h")),
        ("-30m", Offset(-30, "m")),
        ("+1d", Offset(1, "d")),
        ("+2W", Offset(2, "w")),
        (" + 90 m ", Offset(90, "m")),
        ("1h", None),
        ("+1.5h", None),
        ("2027-01-01T10:00:00Z", None),
        (5, None),
    ],
)
def test_offsets_parse(text: object, offset: Offset | None) -> None:
    """A sign, a whole number and m/h/d/w is an offset; anything else is not."""
    assert parse_offset(text) == offset


def test_an_offset_beyond_ten_years_is_refused() -> None:
    """No offset may reach further than the API lets a meeting start."""
    assert offset_problem(Offset(530, "w"))
    assert not offset_problem(Offset(52, "w"))


def meeting_at(local: datetime, minutes: int = 60) -> dict[str, object]:
    start = local.replace(tzinfo=BERLIN)
    return {
        "timezone": "Europe/Berlin",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=minutes)).isoformat(),
    }


def test_days_keep_the_wall_clock_time_across_dst() -> None:
    """+1d from 09:00 the day before the clocks go forward is 09:00 again; +24h is 10:00."""
    day = next_spring_forward(datetime.now(UTC)) - timedelta(days=1)
    meeting = meeting_at(day.replace(hour=9))
    by_day = datetime.fromisoformat(resolve({"start": "+1d"}, meeting)["start"])
    by_hours = datetime.fromisoformat(resolve({"start": "+24h"}, meeting)["start"])
    assert (by_day.astimezone(BERLIN).hour, by_hours.astimezone(BERLIN).hour) == (9, 10)
    assert by_day - datetime.fromisoformat(str(meeting["start"])) == timedelta(hours=23)


def test_a_day_offset_onto_a_skipped_wall_clock_time_is_refused() -> None:
    """02:30 does not exist on the day the clocks go forward: +1d from 02:30 says so, as
    validate does for such a local time; +24h moves the moment and is fine."""
    day = next_spring_forward(datetime.now(UTC)) - timedelta(days=1)
    meeting = meeting_at(day.replace(hour=2, minute=30))
    with pytest.raises(ValueError, match="02:30 does not exist in Europe/Berlin"):
        resolve({"start": "+1d"}, meeting)
    moved = resolve({"start": "+24h"}, meeting)["start"]
    assert datetime.fromisoformat(moved).astimezone(BERLIN).strftime("%H:%M") == "03:30"


def test_shift_moves_both_ends_and_keeps_the_duration() -> None:
    """shift +1w moves start and end a week, wall-clock, the duration unchanged."""
    meeting = meeting_at(datetime(2031, 3, 20, 9, 0), minutes=45)
    resolved = resolve({"shift": "+1w"}, meeting)
    start, end = (datetime.fromisoformat(resolved[k]) for k in ("start", "end"))
    assert (start.astimezone(BERLIN).hour, end - start) == (9, timedelta(minutes=45))
    assert start.date().isoformat() == "2031-03-27"


def test_a_meeting_without_times_cannot_be_moved() -> None:
    """No start to move from is an error, not a guess."""
    with pytest.raises(ValueError, match="no start"):
        resolve({"start": "+1h"}, {"timezone": "UTC"})
