"""Rules that need the meeting as the server holds it: what a PATCH of it would be refused for.

Pure: the meeting object (as ``GET`` returns it), the patch and the clock come in; the reason
the API would give comes out, or None. ``plan`` uses them to class a row ``refused`` before
anything is sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dateutil.relativedelta import relativedelta

from bulkpatch.model.timing import MAX_YEARS_AHEAD, parse_iso8601

MEETING_JOIN_MINUTES = frozenset({0, 5, 10, 15})
WEBINAR_JOIN_MINUTES = frozenset({0, 15, 30, 45, 60})
_OVER = frozenset({"ended", "missed", "expired"})


def refusal(meeting: dict[str, Any], body: dict[str, Any], now: datetime) -> str | None:
    """Why the API would refuse to patch ``meeting`` with ``body``; None if it would not."""
    return _by_kind(meeting, now) or _by_type(meeting, body)


def _by_kind(meeting: dict[str, Any], now: datetime) -> str | None:
    if meeting.get("adhoc"):
        return "an ad-hoc meeting cannot be updated"
    if meeting.get("scheduledType") == "personalRoomMeeting":
        return "a personal room meeting cannot be updated"
    if meeting.get("meetingType") == "meeting":
        return "a meeting instance (one that is happening or has happened) cannot be updated"
    if meeting.get("state") in _OVER:
        return f"a meeting that is {meeting.get('state')} cannot be updated"
    start = parse_iso8601(str(meeting.get("start", "")))
    far = now + relativedelta(years=MAX_YEARS_AHEAD)
    if start is not None and start.tzinfo is not None and start >= far:
        return f"a meeting starting {MAX_YEARS_AHEAD} years or more ahead cannot be updated"
    return None


def _by_type(meeting: dict[str, Any], body: dict[str, Any]) -> str | None:
    webinar = meeting.get("scheduledType") == "webinar"
    minutes = body.get("joinBeforeHostMinutes")
    allowed = WEBINAR_JOIN_MINUTES if webinar else MEETING_JOIN_MINUTES
    if minutes is not None and minutes not in allowed:
        kind = "a webinar" if webinar else "a meeting"
        return f"joinBeforeHostMinutes must be one of {', '.join(map(str, sorted(allowed)))} for {kind}"
    if webinar and "attendeePrivileges" in body:
        return "attendeePrivileges is not supported for a webinar"
    if not webinar and (body.get("meetingOptions") or {}).get("enabledPolling") is True:
        return "enabledPolling can only be set true for a webinar"
    return None
