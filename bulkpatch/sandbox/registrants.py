"""Webinar registrants: enough of Register a Meeting Registrant that registrant rules can be tried.

The reference: "requireAttendeeLogin cannot be set if someone has already registered for the
webinar". ``POST /v1/meetings/{meetingId}/registrants`` with ``firstName``, ``lastName`` and
``email`` registers someone on a meeting that has a registration form; the store counts them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bulkpatch.sandbox.accounts import Identity
from bulkpatch.sandbox.refusal import Refusal, not_found
from bulkpatch.sandbox.store import MeetingStore


def register(
    store: MeetingStore, meeting_id: str, body: Any, viewer: Identity, now: datetime
) -> dict[str, Any]:
    """Register one person; the registrant as the API answers it, or raise Refusal."""
    meeting = store.get(meeting_id)
    if meeting is None or not viewer.may_see(store.host_of(meeting_id).email):
        raise not_found()
    if not isinstance(body, dict):
        raise Refusal(400, "The request body must be a JSON object.")
    for name in ("firstName", "lastName", "email"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise Refusal(400, f"{name} is required.")
    if "registration" not in meeting:
        raise Refusal(400, "Registration is not enabled for this meeting.")
    count = store.registrants.get(meeting_id, 0) + 1
    store.registrants[meeting_id] = count
    return {
        "id": f"{meeting_id}-r{count}",
        "status": "approved",
        "firstName": body["firstName"],
        "lastName": body["lastName"],
        "email": body["email"],
        "registrationTime": now.isoformat(),
    }
