"""A rule's first occurrence, asked of dateutil within a bounded span, and the sandbox's use of it."""

from __future__ import annotations

from datetime import MAXYEAR, UTC, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkpatch.model.first_occurrence import _twin_shift, first_occurrence
from bulkpatch.sandbox.refusal import Refusal
from bulkpatch.sandbox.schedule import new_schedule

#: Rules that meet now and then: each within a few years of any start, so dateutil's own search
#: (which stops only at 9999 for a rule that never meets) answers quickly for them.
RARE_RULES = (
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    "FREQ=YEARLY;BYWEEKNO=53",
    "FREQ=YEARLY;BYWEEKNO=53;BYDAY=SU",
    "FREQ=YEARLY;BYYEARDAY=366",
    "FREQ=YEARLY;BYDAY=53MO",
    "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
    "FREQ=MONTHLY;BYDAY=5MO",
    "FREQ=MONTHLY;BYMONTHDAY=31;BYSETPOS=1",
    "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
    "FREQ=WEEKLY;INTERVAL=3;BYMONTH=2;BYMONTHDAY=29",
    "FREQ=DAILY;INTERVAL=9;BYDAY=SU;BYMONTH=12",
)


@settings(max_examples=200, deadline=None)
@given(
    rule=st.sampled_from(RARE_RULES),
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2045, 12, 31)),
)
def test_the_bounded_search_finds_what_dateutil_finds(rule: str, start: datetime) -> None:
    """Asked on a twin of the span near 9999, the first occurrence within five years is the
    one dateutil's own search gives from the real start (None past those five years)."""
    start = start.replace(microsecond=0)
    plain = next(iter(rrulestr(rule, dtstart=start)), None)
    expected = plain if plain is not None and plain <= start + relativedelta(years=5) else None
    assert first_occurrence(rule, start, 5) == expected


@pytest.mark.parametrize("year", [1999, 2026, 2027, 2028, 2031, 2040, 2088])
def test_the_twin_of_a_span_ends_near_the_last_year_dateutil_searches(year: int) -> None:
    """The twin of six years of calendar lies within 40 years of 9999 (and has the same
    weekdays and leap years), so a rule that never meets is searched through a few decades,
    not eight thousand years."""
    shift = _twin_shift(year, 6)
    assert shift is not None
    assert MAXYEAR - 40 <= year + shift + 6 < MAXYEAR
    for offset in range(7):
        here, there = datetime(year + offset, 1, 1), datetime(year + shift + offset, 1, 1)
        assert here.weekday() == there.weekday()
        assert (datetime(year + offset, 12, 31) - here) == (
            datetime(year + shift + offset, 12, 31) - there
        )


def test_a_span_near_the_last_year_is_never_refused_on_a_guess() -> None:
    """A span without a twin (ending near 9999) gives its start: taken as meeting, not refused."""
    start = datetime(9997, 3, 1, 10)
    assert first_occurrence("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6", start, 5) == start


def _tuesday_meeting(now: datetime) -> dict[str, object]:
    """A sandbox meeting series that starts on a Tuesday a few weeks from ``now``."""
    start = now + timedelta(days=21)
    start += timedelta(days=(1 - start.weekday()) % 7)
    start = start.replace(hour=10, minute=0, second=0, microsecond=0)
    return {
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "timezone": "UTC",
        "recurrence": "FREQ=WEEKLY;BYDAY=TU",
    }


def test_the_sandbox_refuses_a_rule_that_never_meets_from_the_meetings_own_start() -> None:
    """A recurrence alone (validate cannot know the start, and takes every 7th day on Mondays)
    is refused by the sandbox from the meeting's own Tuesday start, by the same function."""
    now = datetime.now(UTC)
    with pytest.raises(Refusal) as refused:
        new_schedule(_tuesday_meeting(now), {"recurrence": "FREQ=DAILY;INTERVAL=7;BYDAY=MO"}, now)
    assert "INTERVAL=7 and BYDAY=MO choose no day in the 5 years" in str(refused.value)


def test_the_sandbox_keeps_a_rule_that_meets_from_the_meetings_own_start() -> None:
    """The same rule on the meeting's own weekday meets, and the sandbox keeps it."""
    now = datetime.now(UTC)
    after = new_schedule(
        _tuesday_meeting(now), {"recurrence": "FREQ=DAILY;INTERVAL=7;BYDAY=TU"}, now
    )
    assert after.recurrence == "FREQ=DAILY;INTERVAL=7;BYDAY=TU"
