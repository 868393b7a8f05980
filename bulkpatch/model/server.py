"""Rules that need the meeting as the server holds it: what a PATCH of it would be refused for.

Pure: the meeting object (as ``GET`` returns it), the patch, the clock and the count of
registrants come in; the reason the API would give comes out (in the reference's own words,
from the rule catalogue), or None. The sandbox refuses by them, and ``plan`` classes a row
``refused`` by them before anything is sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bulkpatch.model.catalogue import rule
from bulkpatch.model.timing import MAX_YEARS_AHEAD, parse_iso8601

MEETING_JOIN_MINUTES = frozenset({0, 5, 10, 15})
WEBINAR_JOIN_MINUTES = frozenset({0, 15, 30, 45, 60})
_OVER = frozenset({"ended", "missed", "expired"})


def refusal(
    meeting: dict[str, Any], body: dict[str, Any], now: datetime, registrants: int = 0
) -> str | None:
    """Why the API would refuse to patch ``meeting`` with ``body``; None if it would not."""
    return (
        refused_by_kind(meeting, now)
        or refused_by_type(meeting, body)
        or refused_by_dependencies(meeting, body, registrants)
    )


def refused_by_kind(meeting: dict[str, Any], now: datetime) -> str | None:
    """Meetings no PATCH may change: instances, past ones, ad hoc, personal room, 10+ years ahead."""
    if meeting.get("adhoc"):
        return rule("adhoc").api_words
    if meeting.get("scheduledType") == "personalRoomMeeting":
        return rule("personal_room").api_words
    if meeting.get("meetingType") == "meeting":
        return rule("instance").api_words  # only instances: a series in progress may change
    if meeting.get("state") in _OVER:
        return rule("meeting_over").api_words
    start = parse_iso8601(str(meeting.get("start", "")))
    far = _years_after(now, MAX_YEARS_AHEAD)
    if start is not None and start.tzinfo is not None and start >= far:
        return rule("too_far_ahead").api_words
    return None


def _years_after(now: datetime, years: int) -> datetime:
    """``now`` moved ``years`` ahead on the calendar (29 February becomes the 28th)."""
    try:
        return now.replace(year=now.year + years)
    except ValueError:
        return now.replace(year=now.year + years, day=28)


def refused_by_type(meeting: dict[str, Any], body: dict[str, Any]) -> str | None:
    """What a meeting takes and a webinar does not, and the other way round."""
    webinar = meeting.get("scheduledType") == "webinar"
    minutes = body.get("joinBeforeHostMinutes")
    allowed = WEBINAR_JOIN_MINUTES if webinar else MEETING_JOIN_MINUTES
    if minutes is not None and minutes not in allowed:
        kind = "a webinar" if webinar else "a meeting"
        return f"joinBeforeHostMinutes must be one of {', '.join(map(str, sorted(allowed)))} for {kind}."
    if webinar and "attendeePrivileges" in body:
        return rule("attendee_privileges_webinar").api_words
    # The reference says enabledAudienceCallBack too "can only be set true for a webinar", yet its
    # own example sets it on a meeting and gets it back: the example wins, only polling is refused.
    if not webinar and (body.get("meetingOptions") or {}).get("enabledPolling") is True:
        return "enabledPolling can only be set true for a webinar."
    return None


def refused_by_dependencies(
    meeting: dict[str, Any], body: dict[str, Any], registrants: int
) -> str | None:
    """Settings that depend on others, in the request or already on the meeting."""
    options = body.get("meetingOptions") or {}
    notes_on = options.get(
        "enabledNote", (meeting.get("meetingOptions") or {}).get("enabledNote", True)
    )
    if "noteType" in options and notes_on is False:
        return rule("note_type_without_notes").api_words
    login = body.get("requireAttendeeLogin", meeting.get("requireAttendeeLogin", False))
    webinar = meeting.get("scheduledType") == "webinar"
    if body.get("restrictToInvitees") is True and webinar and login is False:
        return rule("needs_attendee_login").api_words
    if "requireAttendeeLogin" in body and registrants > 0:
        return rule("registrants_exist").api_words
    stream = body.get("liveStream", meeting.get("liveStream"))
    if body.get("enabledLiveStream") is True and not stream:
        return rule("needs_live_stream").api_words
    return None
