"""The site's Control Hub data as the API lists it: tracking codes and session types.

Read-only, filled from the site profile (``--site``), or from a default profile with the two
session types generated meetings use (3, a meeting; 9, a webinar) and no tracking codes. Shapes
follow Webex's OpenAPI spec (``webex/webex-openapi-specs``, ``public-spec/webex-meeting.json``):

- ``GET /v1/meetings/trackingCodes`` (List Meeting Tracking Codes; ``service`` required,
  ``siteUrl``, ``hostEmail``): items ``id, name, siteUrl, options[{value, defaultValue}],
  inputMode, service, type``.
- ``GET /v1/admin/meeting/config/trackingCodes`` (List Tracking Codes, admin; ``siteUrl``):
  items ``id, name, siteUrl, options, inputMode, hostProfileCode, scheduleStartCodes[{service,
  type}]``.
- ``GET /v1/meetings/sessionTypes`` (List Meeting Session Types; ``hostEmail``, ``siteUrl``):
  items ``id, name, type, attendeesCapacity`` enabled for the user.
- ``GET /v1/admin/meeting/config/sessionTypes`` (List Site Session Types, admin; ``siteUrl``):
  items ``id, shortName, siteUrl, name, type``.
- ``GET /v1/admin/meeting/userconfig/sessionTypes`` (List User Session Type, admin; ``siteUrl``,
  ``personId``, header ``email``): items ``personId, email, siteUrl, sessionTypes[{id,
  shortName, name, type}]``. With neither ``personId`` nor ``email`` the sandbox lists every
  user it knows (the spec does not say; a ``site pull`` can then read all hosts at once).

The real endpoints are not documented as paged; the sandbox pages them like List Meetings
(``max`` up to 100, default 100, ``Link: <...>; rel="next"``) so a client that follows links
works against both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulkpatch.model.site import SessionType, SiteProfile, TrackingCodeRule
from bulkpatch.sandbox.accounts import Identity
from bulkpatch.sandbox.drawing import SITE, Person
from bulkpatch.sandbox.refusal import Refusal

DEFAULT_SITE = SiteProfile(
    site_url=SITE,
    session_types=(
        SessionType(id=3, name="Pro Meeting", short_name="PRO", type="meeting"),
        SessionType(id=9, name="Webinar", short_name="WBN", type="webinar"),
    ),
)
SERVICES = ("All", "MeetingCenter", "EventCenter", "TrainingCenter", "SupportCenter")
_CAPACITY = {"meeting": 1000, "webinar": 10000, "privateMeeting": 1000}


def meeting_tracking_codes(
    profile: SiteProfile, query: Mapping[str, str], viewer: Identity
) -> list[dict[str, Any]]:
    """List Meeting Tracking Codes: the site's codes as a host sees them for one ``service``."""
    service = query.get("service")
    if not service:
        raise Refusal(400, "service is required.")
    if service not in SERVICES:
        raise Refusal(400, f"service must be one of {', '.join(SERVICES)}.")
    _same_site(profile, query)
    return [
        {
            "id": str(index),
            "name": code.name,
            "siteUrl": _site(profile),
            "options": _options(code),
            "inputMode": code.input_mode,
            "service": service,
            "type": code.type if service in {"MeetingCenter", "All"} else "notUsed",
        }
        for index, code in enumerate(profile.tracking_codes, start=1)
    ]


def site_tracking_codes(
    profile: SiteProfile, query: Mapping[str, str], viewer: Identity
) -> list[dict[str, Any]]:
    """List Tracking Codes (admin): each code with its host-profile and scheduler types."""
    _admin_only(viewer)
    _same_site(profile, query)
    return [
        {
            "id": str(index),
            "name": code.name,
            "siteUrl": _site(profile),
            "options": _options(code),
            "inputMode": code.input_mode,
            "hostProfileCode": "optional",
            "scheduleStartCodes": [
                {"service": "All", "type": "notApplicable"},
                {"service": "MeetingCenter", "type": code.type},
                {"service": "EventCenter", "type": "notUsed"},
                {"service": "TrainingCenter", "type": "notUsed"},
                {"service": "SupportCenter", "type": "notUsed"},
            ],
        }
        for index, code in enumerate(profile.tracking_codes, start=1)
    ]


def meeting_session_types(
    profile: SiteProfile, query: Mapping[str, str], viewer: Identity
) -> list[dict[str, Any]]:
    """List Meeting Session Types: those enabled for the caller (an admin may name a host)."""
    _same_site(profile, query)
    host = (
        query.get("hostEmail") if viewer.admin and query.get("hostEmail") else viewer.person.email
    )
    return [
        {
            "id": str(kind.id),
            "name": kind.name,
            "type": kind.type,
            "attendeesCapacity": _CAPACITY[kind.type],
        }
        for kind in profile.session_types_of(host)
        if kind.type in _CAPACITY
    ]


def site_session_types(
    profile: SiteProfile, query: Mapping[str, str], viewer: Identity
) -> list[dict[str, Any]]:
    """List Site Session Types (admin)."""
    _admin_only(viewer)
    _same_site(profile, query)
    return [
        {
            "id": str(kind.id),
            "shortName": kind.short_name,
            "siteUrl": _site(profile),
            "name": kind.name,
            "type": kind.type,
        }
        for kind in profile.session_types
    ]


def user_session_types(
    profile: SiteProfile,
    query: Mapping[str, str],
    email: str | None,
    viewer: Identity,
    people: Mapping[str, Person],
) -> list[dict[str, Any]]:
    """List User Session Type (admin): each user's session types, by personId or email."""
    _admin_only(viewer)
    _same_site(profile, query)
    everyone = dict(people)
    for host in profile.hosts:
        everyone.setdefault(host.lower(), Person(host, host))
    person_id = query.get("personId")
    chosen = [
        person
        for key, person in sorted(everyone.items())
        if (email is None or key == email.lower())
        and (person_id is None or person.person_id == person_id)
    ]
    return [
        {
            "personId": person.person_id,
            "email": person.email,
            "siteUrl": _site(profile),
            "sessionTypes": [
                {
                    "id": str(kind.id),
                    "shortName": kind.short_name,
                    "name": kind.name,
                    "type": kind.type,
                }
                for kind in profile.session_types_of(person.email)
            ],
        }
        for person in chosen
    ]


def _options(code: TrackingCodeRule) -> list[dict[str, Any]]:
    return [{"value": value, "defaultValue": value == code.default} for value in code.options]


def _site(profile: SiteProfile) -> str:
    return profile.site_url or SITE


def _same_site(profile: SiteProfile, query: Mapping[str, str]) -> None:
    asked = query.get("siteUrl")
    if asked and asked.lower() != _site(profile).lower():
        raise Refusal(404, f"The site {asked} is not one of the user's sites.")


def _admin_only(viewer: Identity) -> None:
    if not viewer.admin:
        raise Refusal(403)
