"""A generated meeting drawn as the API returns it: the reference's example response, field by field.

Everything here is a pure function of the meeting's id and its :class:`~bulkpatch.sandbox.store.Seed`,
so a store of a million meetings keeps only the seeds and draws each meeting again on demand.
"""

from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from bulkpatch.sandbox.store import Seed

SITE = "sandbox-example.webex.com"
ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Asia/Shanghai",
    "Australia/Sydney",
    "UTC",
    "America/Sao_Paulo",
)


@dataclass(frozen=True, slots=True)
class Person:
    """A user of the sandbox's site: a host, the admin, or a user token's owner."""

    email: str
    display_name: str
    person_id: str = ""

    def __post_init__(self) -> None:
        if not self.person_id:
            object.__setattr__(self, "person_id", person_id(self.email))


def person_id(email: str) -> str:
    """An id shaped like the API's (base64 of a ``ciscospark://`` URI), stable per email."""
    uuid = hashlib.sha256(email.lower().encode()).hexdigest()
    text = (
        f"ciscospark://us/PEOPLE/{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:32]}"
    )
    return base64.b64encode(text.encode()).decode().rstrip("=")


#: The default hosts of a generated site (``--hosts N`` draws others).
HOSTS = (
    Person("ana.silva@example.com", "Ana Silva"),
    Person("ben.okafor@example.com", "Ben Okafor"),
    Person("chen.wei@example.com", "Chen Wei"),
    Person("dara.murphy@example.com", "Dara Murphy"),
)


def numbered_hosts(count: int) -> tuple[Person, ...]:
    """``count`` hosts named Host 001, Host 002, ... (the default four when ``count`` is 4 or less)."""
    if count <= len(HOSTS):
        return HOSTS[: max(count, 1)]
    return tuple(Person(f"host{n:03d}@example.com", f"Host {n:03d}") for n in range(1, count + 1))


def host_index(meeting_id: str, hosts: int) -> int:
    """Which host a generated meeting belongs to: a cheap, stable hash of its id."""
    return hashlib.sha256(meeting_id.encode()).digest()[8] % hosts if hosts > 1 else 0


def stable_rng(meeting_id: str) -> random.Random:
    """A random generator seeded by the meeting id: the same id always draws the same values."""
    digest = hashlib.sha256(meeting_id.encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def draw_meeting(meeting_id: str, seed: Seed, host: Person, site: str = SITE) -> dict[str, Any]:
    """The meeting's response object as it was before any PATCH, in the reference's field order."""
    rng = stable_rng(meeting_id)
    number = f"{rng.randint(100_000_000, 2_999_999_999)}"
    zone = ZoneInfo(seed.timezone)
    start = seed.start.astimezone(zone)
    webinar = seed.scheduled_type == "webinar"
    personal = seed.scheduled_type == "personalRoomMeeting"
    title = f"{host.display_name}'s Personal Room" if personal else "Team sync"
    meeting: dict[str, Any] = {"id": meeting_id}
    if seed.series_id is not None:
        meeting["meetingSeriesId"] = seed.series_id
    meeting |= {
        "meetingNumber": number,
        "title": f"Webinar {number[-4:]}" if webinar else f"{title} {number[-4:]}",
        "agenda": "Status, risks, next steps",
        "password": f"Sbx{rng.randint(10_000, 99_999)}!",
        "phoneAndVideoSystemPassword": f"{rng.randint(10_000_000, 99_999_999)}",
        "meetingType": seed.kind,
        "state": seed.state,
    }
    if seed.kind == "scheduledMeeting":
        meeting["isModified"] = False
    meeting |= {
        "timezone": seed.timezone,
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=seed.minutes)).isoformat(),
    }
    if seed.recurrence is not None:
        meeting["recurrence"] = seed.recurrence
    meeting |= {
        "hostUserId": host.person_id,
        "hostDisplayName": host.display_name,
        "hostEmail": host.email,
        "hostKey": f"{rng.randint(100_000, 999_999)}",
        "siteUrl": site,
        "webLink": f"https://{site}/{site.split('.')[0]}/j.php?MTID=m{rng.getrandbits(128):032x}",
        "sipAddress": f"{number}@{site}",
        "dialInIpAddress": "192.0.2.10",
        "enabledAutoRecordMeeting": False,
        "allowAnyUserToBeCoHost": False,
        "enabledJoinBeforeHost": False,
        "enableConnectAudioBeforeHost": False,
        "joinBeforeHostMinutes": 0,
        "excludePassword": False,
        "publicMeeting": False,
        "reminderTime": 10,
        "unlockedMeetingJoinSecurity": "allowJoin",
        "sessionTypeId": 9 if webinar else 3,
        "scheduledType": seed.scheduled_type,
        "enabledWebcastView": False,
        "enableAutomaticLock": False,
        "automaticLockMinutes": 0,
        "allowFirstUserToBeCoHost": False,
        "allowAuthenticatedDevices": True,
        "telephony": {
            "accessCode": number,
            "callInNumbers": [
                {"label": "US Toll", "callInNumber": "+1-555-0100", "tollType": "toll"}
            ],
            "links": telephony_links(meeting_id),
        },
        "meetingOptions": {
            "enabledChat": True,
            "enabledVideo": True,
            "enabledPolling": webinar,
            "enabledNote": True,
            "noteType": "allowAll",
            "enabledFileTransfer": True,
            "enabledUCFRichMedia": True,
        },
    }
    if not webinar:
        meeting["attendeePrivileges"] = {
            "enabledShareContent": True,
            "enabledViewParticipantList": True,
            "enabledChatHost": True,
            "enabledChatPresenter": True,
            "enabledChatOtherParticipants": True,
        }
    if webinar:
        meeting["registration"] = dict(REGISTRATION)
    meeting |= {
        "simultaneousInterpretation": {"enabled": False},
        "enabledBreakoutSessions": False,
        "links": meeting_links(seed.series_id or meeting_id),
        "enabledAudioWatermark": False,
        "enabledVisualWatermark": False,
        "audioConnectionOptions": {
            "audioConnectionType": "webexAudio",
            "enabledTollFreeCallIn": False,
            "enabledGlobalCallIn": True,
            "enabledAudienceCallBack": False,
            "entryAndExitTone": "beep",
            "allowHostToUnmuteParticipants": False,
            "allowAttendeeToUnmuteSelf": True,
            "muteAttendeeUponEntry": True,
        },
    }
    if webinar:
        meeting |= {"requireAttendeeLogin": False, "restrictToInvitees": False}
    meeting["enabledLiveStream"] = False
    if seed.adhoc:
        meeting["adhoc"] = True
        meeting["roomId"] = f"Y2lzY29zcGFyazovL3VzL1JPT00v{rng.getrandbits(64):016x}"
    return meeting


#: The registration form of a webinar, as the reference's example response shows one.
REGISTRATION = {
    "autoAcceptRequest": False,
    "requireFirstName": True,
    "requireLastName": True,
    "requireEmail": True,
    "requireJobTitle": False,
    "requireCompanyName": True,
    "requireAddress1": False,
    "requireAddress2": False,
    "requireCity": False,
    "requireState": False,
    "requireZipCode": False,
    "requireCountryRegion": True,
    "requireWorkPhone": True,
    "requireFax": False,
    "enabledRegistrationId": False,
}


def telephony_links(meeting_id: str) -> list[dict[str, str]]:
    """``telephony.links``: where the global call-in numbers are (HATEOAS, as the reference shows)."""
    return [
        {
            "rel": "globalCallinNumbers",
            "href": f"/api/v1/meetings/{meeting_id}/globalCallinNumbers",
            "method": "GET",
        }
    ]


def meeting_links(series_id: str) -> list[dict[str, str]]:
    """``links``: the series' breakout sessions (HATEOAS, as the reference shows)."""
    return [
        {
            "rel": "breakoutSessions",
            "href": f"/v1/meetings/{series_id}/breakoutSessions",
            "method": "GET",
        }
    ]
