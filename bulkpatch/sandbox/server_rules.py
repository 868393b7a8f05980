"""The rules only a server can apply: what the meeting is, who asks, and what it already holds.

Each refusal answers in the reference's own words, taken from the rule catalogue
(:mod:`bulkpatch.model.catalogue`), so the docs' table and the sandbox say the same thing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bulkpatch.model.catalogue import rule
from bulkpatch.model.site import SiteProfile, site_findings, site_rule
from bulkpatch.model.timing import MAX_YEARS_AHEAD, parse_iso8601
from bulkpatch.sandbox.accounts import Identity
from bulkpatch.sandbox.refusal import Refusal

MEETING_JOIN_MINUTES = frozenset({0, 5, 10, 15})
WEBINAR_JOIN_MINUTES = frozenset({0, 15, 30, 45, 60})
_OVER = {"ended", "missed", "expired"}


def refuse(rule_id: str, status: int = 400) -> Refusal:
    """A refusal in the words the catalogue gives the rule."""
    return Refusal(status, rule(rule_id).api_words)


def refuse_by_kind(meeting: dict[str, Any], now: datetime) -> None:
    """Meetings no PATCH may change: instances, past ones, ad hoc, personal room, 10+ years ahead."""
    if meeting.get("adhoc"):
        raise refuse("adhoc")
    if meeting.get("scheduledType") == "personalRoomMeeting":
        raise refuse("personal_room")
    if meeting["meetingType"] == "meeting":
        raise refuse("instance")  # only instances: a series in progress may change (item 10)
    if meeting["state"] in _OVER:
        raise refuse("meeting_over")
    start = parse_iso8601(str(meeting.get("start", "")))
    far = _years_after(now, MAX_YEARS_AHEAD)
    if start is not None and start.tzinfo is not None and start >= far:
        raise refuse("too_far_ahead")


def _years_after(now: datetime, years: int) -> datetime:
    """``now`` moved ``years`` ahead on the calendar (29 February becomes the 28th)."""
    try:
        return now.replace(year=now.year + years)
    except ValueError:
        return now.replace(year=now.year + years, day=28)


def check_host_email(
    body: dict[str, Any], host_email: str, viewer: Identity, hosts_known: bool = True
) -> None:
    """``hostEmail`` is for admins only, and names the meeting's real host; it changes nothing.

    Without ``hosts_known`` (a store seeded from bare ids, whose hosts are invented), any host
    an admin names is taken as the real one.
    """
    given = body.get("hostEmail")
    if given is None:
        return
    if not viewer.admin:
        raise Refusal(
            403,
            "hostEmail should only be set if the user or application calling the API has the "
            "admin-level scopes.",
        )
    if hosts_known and str(given).lower() != host_email.lower():
        raise refuse("host_email")


def refuse_by_type(meeting: dict[str, Any], body: dict[str, Any]) -> None:
    """What a meeting takes and a webinar does not, and the other way round."""
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
        raise refuse("attendee_privileges_webinar")
    # The reference says enabledAudienceCallBack too "can only be set true for a webinar", yet its
    # own example sets it on a meeting and gets it back: the example wins, only polling is refused.
    if not webinar and (body.get("meetingOptions") or {}).get("enabledPolling") is True:
        raise Refusal(400, "enabledPolling can only be set true for a webinar.")


def refuse_by_dependencies(meeting: dict[str, Any], body: dict[str, Any], registrants: int) -> None:
    """Settings that depend on others, in the request or already on the meeting."""
    options = body.get("meetingOptions") or {}
    notes_on = options.get(
        "enabledNote", (meeting.get("meetingOptions") or {}).get("enabledNote", True)
    )
    if "noteType" in options and notes_on is False:
        raise refuse("note_type_without_notes")
    login = body.get("requireAttendeeLogin", meeting.get("requireAttendeeLogin", False))
    if (
        body.get("restrictToInvitees") is True
        and meeting["scheduledType"] == "webinar"
        and login is False
    ):
        raise refuse("needs_attendee_login")
    if "requireAttendeeLogin" in body and registrants > 0:
        raise refuse("registrants_exist")
    stream = body.get("liveStream", meeting.get("liveStream"))
    if body.get("enabledLiveStream") is True and not stream:
        raise refuse("needs_live_stream")


def refuse_by_site(
    meeting_id: str, meeting: dict[str, Any], body: dict[str, Any], host: str, site: SiteProfile
) -> None:
    """The site profile's rules (``--site``): passwords, tracking codes, session types."""
    found = site_findings(0, meeting_id, body, site, host_email=host)
    kind = body.get("sessionTypeId")
    if kind is not None and not found:
        wanted = "webinar" if meeting["scheduledType"] == "webinar" else "meeting"
        types = {session.id: session.type for session in site.session_types}
        if types.get(kind, wanted).replace("privateMeeting", "meeting") != wanted:
            raise Refusal(400, f"sessionTypeId {kind} is not a session type for a {wanted}.")
    if found:
        reasons = [site_rule(f.rule).answer(f.field, f.message) for f in found]
        raise Refusal(400, reasons[0], reasons)
