"""When a meeting happens, as the API keeps it: start, end, time zone, recurrence, occurrences.

The reference: start and end are kept "accurate to minutes"; "if start is within the same
minute as the current time, start will be adjusted to the upcoming minute"; timezone is the
"Time zone of start and end"; a recurrence is bent to the API's limits; and when a series'
start, end or recurrence changes, "any exceptional scheduled meeting in this series is
cancelled" while the others follow the series.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from bulkpatch.model.recurrence import bend, expand, never_occurs, rule_parts
from bulkpatch.model.timing import MAX_DURATION, MIN_DURATION, parse_iso8601
from bulkpatch.sandbox.refusal import Refusal
from bulkpatch.sandbox.seeding import OCCURRENCES_PER_SERIES, occurrence_id
from bulkpatch.sandbox.store import DELETED, MeetingStore, Seed


@dataclass(frozen=True, slots=True)
class Schedule:
    """The times and rule a meeting will have after the PATCH, as the response shows them."""

    start: datetime
    end: datetime
    timezone: str
    recurrence: str | None

    def fields(self) -> dict[str, Any]:
        """start, end and timezone as response strings (in the meeting's zone)."""
        zone = ZoneInfo(self.timezone)
        return {
            "timezone": self.timezone,
            "start": self.start.astimezone(zone).isoformat(),
            "end": self.end.astimezone(zone).isoformat(),
        }


def current_schedule(meeting: dict[str, Any]) -> Schedule:
    """The meeting's schedule as it is."""
    start = _stored(meeting["start"])
    end = _stored(meeting.get("end", meeting["start"]))
    rule = meeting.get("recurrence")
    zone = meeting.get("timezone", "UTC")
    return Schedule(start, end, zone, rule if isinstance(rule, str) else None)


def new_schedule(meeting: dict[str, Any], body: dict[str, Any], now: datetime) -> Schedule:
    """The schedule after the PATCH: the other end kept, times to the minute, rule bent."""
    before = current_schedule(meeting)
    zone = body.get("timezone", before.timezone)
    start = _kept(body["start"], now, is_start=True) if "start" in body else before.start
    end = _kept(body["end"], now, is_start=False) if "end" in body else before.end
    if "start" in body or "end" in body:
        if start >= end:
            raise Refusal(400, "start cannot be after end.")
        if not MIN_DURATION <= end - start <= MAX_DURATION:
            raise Refusal(
                400,
                "Duration between start and end cannot be shorter than 10 minutes or longer "
                "than 23 hours 59 minutes.",
            )
    rule = before.recurrence
    if "recurrence" in body:
        given = body["recurrence"]
        first = start.astimezone(ZoneInfo(zone))
        # validate knows a series' start only from its row; here the meeting's own start counts.
        parts = None if given is None else rule_parts(given)
        never = None if parts is None else never_occurs(parts, first)
        if never is not None:
            raise Refusal(400, never)
        rule = None if given is None else bend(given, now, first).text
    return Schedule(start, end, zone, rule)


def schedule_changes(before: Schedule, after: Schedule, body: dict[str, Any]) -> dict[str, Any]:
    """The top-level changes a new schedule makes (timezone alone re-expresses start and end)."""
    changes: dict[str, Any] = {}
    if {"start", "end", "timezone"} & body.keys():
        changes |= after.fields()
    if "recurrence" in body:
        changes["recurrence"] = DELETED if after.recurrence is None else after.recurrence
    return changes


def moved(before: Schedule, after: Schedule) -> bool:
    """Whether start, end or recurrence really changed (re-sending the same values does not)."""
    return (before.start, before.end, before.recurrence) != (
        after.start,
        after.end,
        after.recurrence,
    )


def follow_series(store: MeetingStore, series_id: str, after: Schedule) -> int:
    """A series moved: cancel its edited occurrences, move the others; return how many cancelled.

    Occurrence ids name their slot in the series (``<seriesId>_<start in UTC>``), so the moved
    occurrences get the ids of their new slots; a series without a rule keeps one occurrence.
    """
    cancelled = store.cancel_exceptions(series_id)
    kept = [
        occ for occ in store.occurrences_of(series_id) if store.seed(occ).kind == "scheduledMeeting"
    ]
    if not kept and not cancelled:
        return 0  # a series whose occurrences the store never held keeps holding none
    zone = ZoneInfo(after.timezone)
    first = after.start.astimezone(zone)
    if after.recurrence is None:
        starts = [first]
    else:
        wanted = max(len(kept) + cancelled, OCCURRENCES_PER_SERIES)
        starts = list(islice(expand(after.recurrence, first), wanted))
    minutes = int((after.end - after.start).total_seconds() // 60)
    series = store.seed(series_id)
    fresh = [
        (
            occurrence_id(series_id, when),
            Seed(
                "scheduledMeeting",
                "scheduled",
                when.astimezone(UTC),
                minutes,
                after.timezone,
                series.scheduled_type,
                series_id,
            ),
        )
        for when in starts
    ]
    store.replace_occurrences(series_id, fresh)
    return cancelled


def _stored(text: str) -> datetime:
    moment = parse_iso8601(text)
    if moment is None or moment.tzinfo is None:  # only a stored value could be; say so plainly
        raise Refusal(500, f"The stored meeting time {text!r} cannot be read.")
    return moment


def _kept(text: str, now: datetime, *, is_start: bool) -> datetime:
    """A time as the API keeps it: to the minute, a start in the current minute on the next one."""
    moment = parse_iso8601(text)
    if moment is None or moment.tzinfo is None:  # the offline rules passed it, so never
        raise Refusal(400, f"{text!r} is not an ISO 8601 time with an offset.")
    truncated = moment.replace(second=0, microsecond=0)
    if is_start and truncated == now.replace(second=0, microsecond=0):
        return truncated + timedelta(minutes=1)
    return truncated
