"""PATCH semantics as the API reference describes them, applied to one stored meeting.

The sandbox never trusts its client: every offline rule of :mod:`bulkpatch.model` runs again
here, then the rules only a server can check (the meeting's state, its type, the other end of
a half reschedule), then the change is merged the way the API merges it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bulkpatch.model import JobRow, Severity, check_row
from bulkpatch.model.timing import MAX_DURATION, MIN_DURATION, parse_iso8601
from bulkpatch.sandbox.accounts import ADMIN, Identity
from bulkpatch.sandbox.refusal import Refusal, not_found
from bulkpatch.sandbox.store import DELETED, MeetingStore

ADMIN_IDENTITY = Identity(ADMIN, admin=True)

MEETING_JOIN_MINUTES = frozenset({0, 5, 10, 15})
WEBINAR_JOIN_MINUTES = frozenset({0, 15, 30, 45, 60})
_SERIES_SCHEDULE = ("start", "end", "recurrence")


@dataclass(frozen=True, slots=True)
class PatchOutcome:
    """The whole meeting after the PATCH, and how many exceptional occurrences it cancelled."""

    meeting: dict[str, Any]
    cancelled: int = 0


def apply_patch(
    store: MeetingStore,
    meeting_id: str,
    body: Any,
    now: datetime,
    viewer: Identity = ADMIN_IDENTITY,
) -> PatchOutcome:
    """Check and apply one PATCH body as ``viewer``; the updated meeting, or raise Refusal."""
    meeting = store.get(meeting_id)
    if meeting is None or not viewer.may_see(store.host_of(meeting_id).email):
        raise not_found()
    if not isinstance(body, dict):
        raise Refusal(400, "The request body must be a JSON object.")
    _refuse_by_state(meeting)
    checked = _check_body(meeting_id, meeting, body, now)
    _refuse_by_type(meeting, checked)
    changes = _times_as_kept(meeting, checked, now)
    for name, value in checked.items():
        if name in changes:
            continue
        if value is None or (name == "integrationTags" and not value):
            changes[name] = DELETED
        elif isinstance(value, dict) and isinstance(meeting.get(name), dict):
            changes[name] = {**meeting[name], **value}
        else:
            changes[name] = value
    if meeting["meetingType"] == "scheduledMeeting":
        changes["isModified"] = True
    cancelled = 0
    if meeting["meetingType"] == "meetingSeries" and any(f in body for f in _SERIES_SCHEDULE):
        cancelled = store.cancel_exceptions(meeting_id)
    return PatchOutcome(store.update(meeting_id, changes), cancelled)


def _refuse_by_state(meeting: dict[str, Any]) -> None:
    if meeting.get("adhoc"):
        raise Refusal(400, "An ad-hoc meeting cannot be updated.")
    if meeting["meetingType"] == "meeting" or meeting["state"] in {
        "ended",
        "inProgress",
        "expired",
        "missed",
    }:
        raise Refusal(400, f"A meeting that is {meeting['state']} cannot be updated.")


def _check_body(
    meeting_id: str, meeting: dict[str, Any], body: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The offline rules, with times read in the meeting's own time zone when they have no offset."""
    evaluated = dict(body)
    if ("start" in body or "end" in body) and "timezone" not in body:
        evaluated["timezone"] = meeting["timezone"]
    checked = check_row(JobRow(0, meeting_id, evaluated), now)
    errors = [
        f"{f.field}: {f.message}" if f.field else f.message
        for f in checked.findings
        if f.severity is Severity.ERROR
    ]
    if errors or checked.body is None:
        raise Refusal(400, errors[0], errors)
    result = checked.body
    if "timezone" not in body:
        result.pop("timezone", None)
    return result


def _refuse_by_type(meeting: dict[str, Any], body: dict[str, Any]) -> None:
    webinar = meeting["scheduledType"] == "webinar"
    minutes = body.get("joinBeforeHostMinutes")
    allowed = WEBINAR_JOIN_MINUTES if webinar else MEETING_JOIN_MINUTES
    if minutes is not None and minutes not in allowed:
        kind = "a webinar" if webinar else "a meeting"
        raise Refusal(
            400,
            f"joinBeforeHostMinutes must be one of {', '.join(map(str, sorted(allowed)))} for {kind}.",
        )
    if webinar and "attendeePrivileges" in body:
        raise Refusal(400, "attendeePrivileges is not supported for a webinar.")
    # The reference says enabledAudienceCallBack too "can only be set true for a webinar", yet its
    # own example sets it on a meeting and gets it back: the example wins, only polling is refused.
    if not webinar and (body.get("meetingOptions") or {}).get("enabledPolling") is True:
        raise Refusal(400, "enabledPolling can only be set true for a webinar.")


def _times_as_kept(meeting: dict[str, Any], body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """start and end to the minute, in the meeting's time zone; duration checked with the other end."""
    if "start" not in body and "end" not in body:
        return {}
    zone = ZoneInfo(body.get("timezone", meeting["timezone"]))
    start = _kept(body.get("start") or meeting["start"], now, is_start="start" in body)
    end = _kept(body.get("end") or meeting["end"], now, is_start=False)
    if start >= end:
        raise Refusal(400, "start must be before end.")
    if not MIN_DURATION <= end - start <= MAX_DURATION:
        raise Refusal(400, "The duration must be between 10 minutes and 23 hours 59 minutes.")
    return {"start": start.astimezone(zone).isoformat(), "end": end.astimezone(zone).isoformat()}


def _kept(text: str, now: datetime, *, is_start: bool) -> datetime:
    moment = parse_iso8601(text)
    if (
        moment is None or moment.tzinfo is None
    ):  # the rules passed it, so only a stored value could be
        raise Refusal(400, f"{text!r} is not an ISO 8601 time with an offset.")
    truncated = moment.replace(second=0, microsecond=0)
    if is_start and truncated == now.replace(second=0, microsecond=0):
        return truncated + timedelta(minutes=1)
    return truncated
