"""The sandbox's meetings: generated or seeded, kept small enough for a million of them.

Each meeting is a :class:`Seed` (a few fields, enough to draw the whole meeting again the same
way) plus an overlay of what PATCHes changed. The full response object is built on demand, so
the store holds a million meetings in well under a gigabyte.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bulkpatch.model import is_occurrence_id

MeetingKind = Literal["meetingSeries", "scheduledMeeting", "meeting"]
ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Asia/Shanghai",
    "Australia/Sydney",
    "UTC",
    "America/Sao_Paulo",
)
HOSTS = (
    ("Ana Silva", "ana.silva"),
    ("Ben Okafor", "ben.okafor"),
    ("Chen Wei", "chen.wei"),
    ("Dara Murphy", "dara.murphy"),
)
SITE = "sandbox-example.webex.com"
OCCURRENCES_PER_SERIES = 4

#: Marks a field a PATCH removed (set to null), so it disappears from the response.
DELETED: Any = object()


@dataclass(frozen=True, slots=True)
class Seed:
    """What a meeting is, before any PATCH: enough to draw all its fields again."""

    kind: MeetingKind
    state: str
    start: datetime
    minutes: int
    timezone: str
    scheduled_type: Literal["meeting", "webinar"] = "meeting"
    series_id: str | None = None
    recurrence: str | None = None
    adhoc: bool = False


@dataclass
class MeetingStore:
    """All meetings of one sandbox, with what PATCHes changed."""

    seeds: dict[str, Seed] = field(default_factory=dict)
    overlays: dict[str, dict[str, Any]] = field(default_factory=dict)
    occurrences: dict[str, list[str]] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)

    def __contains__(self, meeting_id: str) -> bool:
        return meeting_id in self.seeds and meeting_id not in self.cancelled

    def __len__(self) -> int:
        return len(self.seeds) - len(self.cancelled)

    def get(self, meeting_id: str) -> dict[str, Any] | None:
        """The meeting as the API returns it, or None if it does not exist."""
        if meeting_id not in self:
            return None
        meeting = draw_meeting(meeting_id, self.seeds[meeting_id])
        for name, value in self.overlays.get(meeting_id, {}).items():
            if value is DELETED:
                meeting.pop(name, None)
            else:
                meeting[name] = value
        return meeting

    def seed(self, meeting_id: str) -> Seed:
        """The seed of an existing meeting."""
        return self.seeds[meeting_id]

    def update(self, meeting_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Record changed top-level fields (``DELETED`` for removed ones); return the meeting."""
        self.overlays.setdefault(meeting_id, {}).update(changes)
        meeting = self.get(meeting_id)
        if meeting is None:
            raise KeyError(meeting_id)
        return meeting

    def occurrences_of(self, series_id: str) -> Iterator[str]:
        """The ids of a series' scheduled occurrences that still exist."""
        return (occ for occ in self.occurrences.get(series_id, ()) if occ not in self.cancelled)

    def cancel_exceptions(self, series_id: str) -> int:
        """Cancel the occurrences of a series that were changed one by one; return how many."""
        exceptional = [occ for occ in self.occurrences_of(series_id) if occ in self.overlays]
        self.cancelled.update(exceptional)
        return len(exceptional)

    def add(self, meeting_id: str, seed: Seed) -> None:
        """Add one meeting (an occurrence is filed under its series)."""
        self.seeds[meeting_id] = seed
        if seed.series_id is not None:
            self.occurrences.setdefault(seed.series_id, []).append(meeting_id)


def occurrence_id(series_id: str, start: datetime) -> str:
    """``<seriesId>_<YYYYMMDDTHHMMSSZ>`` for an occurrence starting at ``start``."""
    return f"{series_id}_{start.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def _stable(meeting_id: str) -> random.Random:
    digest = hashlib.sha256(meeting_id.encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def seed_from_ids(meeting_ids: Iterable[str], now: datetime) -> MeetingStore:
    """A store in which every id exists and can be patched: series, or occurrences of one."""
    store = MeetingStore()
    for meeting_id in meeting_ids:
        if meeting_id in store.seeds or not meeting_id:
            continue
        rng = _stable(meeting_id)
        zone = rng.choice(ZONES)
        if is_occurrence_id(meeting_id):
            series_id, stamp = meeting_id.rsplit("_", 1)
            start = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            if start <= now:
                start = _future_slot(rng, now)
            if series_id not in store.seeds:
                store.add(series_id, _weekly_series(start, zone, "meeting"))
            store.add(
                meeting_id,
                Seed("scheduledMeeting", "scheduled", start, 60, zone, series_id=series_id),
            )
        else:
            store.add(
                meeting_id,
                Seed(
                    "meetingSeries",
                    "active",
                    _future_slot(rng, now),
                    rng.choice((30, 45, 60)),
                    zone,
                ),
            )
    return store


def generate(count: int, random_seed: int, now: datetime) -> MeetingStore:
    """``count`` meeting series, drawn deterministically, with their scheduled occurrences.

    Most can be patched; every 20th is an ended meeting, one in progress, one ad hoc, so that
    refusals can be tried too. Every 5th is a webinar, every 3rd recurs weekly.
    """
    rng = random.Random(random_seed)
    store = MeetingStore()
    for index in range(count):
        series_id = f"{rng.getrandbits(128):032x}"
        start = _future_slot(rng, now)
        zone = ZONES[index % len(ZONES)]
        kind_of_type: Literal["meeting", "webinar"] = "webinar" if index % 5 == 4 else "meeting"
        special = index % 20
        if special == 17:
            store.add(
                series_id, Seed("meeting", "ended", now - timedelta(days=1), 60, zone, kind_of_type)
            )
        elif special == 18:
            store.add(
                series_id,
                Seed(
                    "meetingSeries",
                    "inProgress",
                    now - timedelta(minutes=20),
                    60,
                    zone,
                    kind_of_type,
                ),
            )
        elif special == 19:
            store.add(series_id, Seed("meetingSeries", "active", start, 60, zone, adhoc=True))
        elif index % 3 == 0:
            store.add(series_id, _weekly_series(start, zone, kind_of_type))
            for week in range(OCCURRENCES_PER_SERIES):
                when = start + timedelta(weeks=week)
                store.add(
                    occurrence_id(series_id, when),
                    Seed("scheduledMeeting", "scheduled", when, 60, zone, kind_of_type, series_id),
                )
        else:
            store.add(series_id, Seed("meetingSeries", "active", start, 30, zone, kind_of_type))
    return store


def _weekly_series(
    start: datetime, zone: str, scheduled_type: Literal["meeting", "webinar"]
) -> Seed:
    return Seed(
        "meetingSeries",
        "active",
        start,
        60,
        zone,
        scheduled_type,
        recurrence="FREQ=WEEKLY;INTERVAL=1",
    )


def _future_slot(rng: random.Random, now: datetime) -> datetime:
    day = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=rng.randint(2, 60))
    return day.replace(hour=rng.randint(7, 17))


def draw_meeting(meeting_id: str, seed: Seed) -> dict[str, Any]:
    """The meeting's response object as it was before any PATCH, with realistic values."""
    rng = _stable(meeting_id)
    number = f"{rng.randint(100_000_000, 2_999_999_999)}"
    host_name, host_user = HOSTS[rng.randrange(len(HOSTS))]
    zone = ZoneInfo(seed.timezone)
    start = seed.start.astimezone(zone)
    meeting: dict[str, Any] = {"id": meeting_id}
    if seed.series_id is not None:
        meeting["meetingSeriesId"] = seed.series_id
    meeting |= {
        "meetingNumber": number,
        "title": f"{'Webinar' if seed.scheduled_type == 'webinar' else 'Team sync'} {number[-4:]}",
        "agenda": "Status, risks, next steps",
        "password": f"Sbx{rng.randint(10_000, 99_999)}!",
        "phoneAndVideoSystemPassword": f"{rng.randint(10_000_000, 99_999_999)}",
        "meetingType": seed.kind,
        "state": seed.state,
        "timezone": seed.timezone,
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=seed.minutes)).isoformat(),
        "hostUserId": hashlib.sha256(host_user.encode()).hexdigest()[:40],
        "hostDisplayName": host_name,
        "hostEmail": f"{host_user}@example.com",
        "hostKey": f"{rng.randint(100_000, 999_999)}",
        "siteUrl": SITE,
        "webLink": f"https://{SITE}/{SITE.split('.')[0]}/j.php?MTID=m{rng.getrandbits(128):032x}",
        "sipAddress": f"{number}@{SITE}",
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
        "sessionTypeId": 9 if seed.scheduled_type == "webinar" else 3,
        "scheduledType": seed.scheduled_type,
        "enabledWebcastView": False,
        "enableAutomaticLock": False,
        "automaticLockMinutes": 0,
        "allowFirstUserToBeCoHost": False,
        "allowAuthenticatedDevices": True,
        "enabledBreakoutSessions": False,
        "enabledAudioWatermark": False,
        "enabledVisualWatermark": False,
        "meetingOptions": {
            "enabledChat": True,
            "enabledVideo": True,
            "enabledPolling": seed.scheduled_type == "webinar",
            "enabledNote": True,
            "noteType": "allowAll",
            "enabledFileTransfer": True,
            "enabledUCFRichMedia": True,
        },
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
        "telephony": {
            "accessCode": number,
            "callInNumbers": [
                {"label": "US Toll", "callInNumber": "+1-555-0100", "tollType": "toll"}
            ],
        },
    }
    if seed.scheduled_type == "meeting":
        meeting["attendeePrivileges"] = {
            "enabledShareContent": True,
            "enabledViewParticipantList": True,
            "enabledChatHost": True,
            "enabledChatPresenter": True,
            "enabledChatOtherParticipants": True,
        }
    if seed.recurrence is not None:
        meeting["recurrence"] = seed.recurrence
    if seed.kind == "scheduledMeeting":
        meeting["isModified"] = False
    if seed.adhoc:
        meeting["adhoc"] = True
        meeting["roomId"] = f"Y2lzY29zcGFyazovL3VzL1JPT00v{rng.getrandbits(64):016x}"
    return meeting
