"""PATCH semantics as the API reference describes them, applied to one stored meeting.

The sandbox never trusts its client: every offline rule of :mod:`bulkpatch.model` runs again
here (answering in the API's words, not the job file's), then the rules only a server can check
(:mod:`~bulkpatch.sandbox.server_rules`), then the change is merged the way the API merges it,
with the schedule kept as the API keeps it (:mod:`~bulkpatch.sandbox.schedule`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bulkpatch.model import JobRow, Severity, check_row
from bulkpatch.model.catalogue import BY_ID
from bulkpatch.model.server import refused_by_dependencies, refused_by_kind, refused_by_type
from bulkpatch.model.site import SiteProfile, with_defaults
from bulkpatch.sandbox.accounts import ADMIN, Identity
from bulkpatch.sandbox.refusal import Refusal, not_found
from bulkpatch.sandbox.schedule import (
    current_schedule,
    follow_series,
    moved,
    new_schedule,
    schedule_changes,
)
from bulkpatch.sandbox.server_rules import check_host_email, refuse_by_site, refuse_if
from bulkpatch.sandbox.store import DELETED, MeetingStore

ADMIN_IDENTITY = Identity(ADMIN, admin=True)
#: Request options, not meeting properties: accepted, acted on, never stored.
_REQUEST_OPTIONS = frozenset({"sendEmail", "hostEmail"})
_SCHEDULE = frozenset({"start", "end", "timezone", "recurrence"})


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
    site: SiteProfile | None = None,
) -> PatchOutcome:
    """Check and apply one PATCH body as ``viewer``; the updated meeting, or raise Refusal."""
    meeting = store.get(meeting_id)
    host = store.host_of(meeting_id).email if meeting is not None else ""
    if meeting is None or not viewer.may_see(host):
        raise not_found()
    if not isinstance(body, dict):
        raise Refusal(400, "The request body must be a JSON object.")
    refuse_if(refused_by_kind(meeting, now))
    if not body:
        return PatchOutcome(meeting)  # nothing to update: the meeting as it is
    check_host_email(body, host, viewer, store.hosts_known)
    checked = _check_body(meeting_id, meeting, body, now)
    registrants = store.registrants.get(meeting_id, 0)
    refuse_if(
        refused_by_type(meeting, checked) or refused_by_dependencies(meeting, checked, registrants)
    )
    if site is not None:
        refuse_by_site(meeting_id, meeting, checked, host, site)
    changes = _merged(meeting, checked, site)
    series = meeting["meetingType"] == "meetingSeries"
    before = current_schedule(meeting)
    after = before
    if _SCHEDULE & checked.keys():
        after = new_schedule(meeting, checked, now)
        changes |= schedule_changes(before, after, checked)
    if not changes:
        return PatchOutcome(meeting)
    if meeting["meetingType"] == "scheduledMeeting":
        changes["isModified"] = True
    updated = store.update(meeting_id, changes, current=meeting)
    cancelled = follow_series(store, meeting_id, after) if series and moved(before, after) else 0
    return PatchOutcome(updated, cancelled)


def _check_body(
    meeting_id: str, meeting: dict[str, Any], body: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The offline rules, with times read in the meeting's own time zone when they have no offset."""
    evaluated = dict(body)
    if ("start" in body or "end" in body) and "timezone" not in body:
        evaluated["timezone"] = meeting.get("timezone", "UTC")
    checked = check_row(JobRow(0, meeting_id, evaluated), now)
    errors = [
        BY_ID[f.rule].answer(f.field, f.message) if f.rule in BY_ID else f.message
        for f in checked.findings
        if f.severity is Severity.ERROR
    ]
    if errors or checked.body is None:
        raise Refusal(400, errors[0], errors)
    result = checked.body
    if "timezone" not in body:
        result.pop("timezone", None)
    return result


def _merged(
    meeting: dict[str, Any], body: dict[str, Any], site: SiteProfile | None
) -> dict[str, Any]:
    """The top-level changes the body makes, merged the API's way (schedule fields apart)."""
    changes: dict[str, Any] = {}
    for name, value in body.items():
        if name in _REQUEST_OPTIONS or name in _SCHEDULE:
            continue
        if value is None or (name == "integrationTags" and not value):
            changes[name] = DELETED
        elif isinstance(value, dict) and isinstance(meeting.get(name), dict):
            changes[name] = {**meeting[name], **value}
        else:
            changes[name] = value
    codes = changes.get("trackingCodes")
    if site is not None and isinstance(codes, list):
        changes["trackingCodes"] = with_defaults(codes, site)
    options = changes.get("meetingOptions")
    if isinstance(options, dict) and options.get("enabledNote") is False:
        # "If the value of enabledNote is false, users ... get the default value allowAll."
        changes["meetingOptions"] = {**options, "noteType": "allowAll"}
    return changes
