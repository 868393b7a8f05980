"""The sandbox's meetings: generated, seeded from a job, or loaded from a pull snapshot.

A generated meeting is a :class:`Seed` (a few fields, enough to draw the whole meeting again the
same way) plus an overlay of what PATCHes changed; the full response object is built on demand,
so the store holds a million meetings in well under a gigabyte. A meeting loaded from a snapshot
keeps the object it was given (one dict each) under the same overlay.

A scheduled occurrence is drawn from its series: what the series changes, its unedited
occurrences show too, while an occurrence's own changes win over the series'.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bulkpatch.model import meeting_id_problem
from bulkpatch.sandbox.drawing import HOSTS, SITE, Person, draw_meeting, host_index, telephony_links

MeetingKind = Literal["meetingSeries", "scheduledMeeting", "meeting"]
ScheduledType = Literal["meeting", "webinar", "personalRoomMeeting"]

#: Marks a field a PATCH removed (set to null), so it disappears from the response.
DELETED: Any = object()

#: What an occurrence has of its own and never takes from its series.
_OWN = frozenset(
    {"id", "meetingSeriesId", "meetingType", "state", "isModified", "start", "end", "recurrence"}
)


@dataclass(frozen=True, slots=True)
class Seed:
    """What a meeting is, before any PATCH: enough to draw all its fields again."""

    kind: MeetingKind
    state: str
    start: datetime
    minutes: int
    timezone: str
    scheduled_type: ScheduledType = "meeting"
    series_id: str | None = None
    recurrence: str | None = None
    adhoc: bool = False
    #: The host, by position in the store's hosts, of a meeting drawn for one (a personal room);
    #: None: a hash of its id picks one (an occurrence's is its series' host).
    host: int | None = None


@dataclass
class MeetingStore:
    """All meetings of one sandbox, with what PATCHes changed."""

    seeds: dict[str, Seed] = field(default_factory=dict)
    overlays: dict[str, dict[str, Any]] = field(default_factory=dict)
    occurrences: dict[str, list[str]] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    registrants: dict[str, int] = field(default_factory=dict)
    hosts: tuple[Person, ...] = HOSTS
    site: str = SITE
    order: list[str] = field(default_factory=list)
    #: False when the hosts were invented (seeded from bare ids): a hostEmail cannot be judged.
    hosts_known: bool = True
    _by_host: dict[str, list[str]] | None = field(default=None, repr=False)
    _people: dict[str, Person] | None = field(default=None, repr=False)

    def __contains__(self, meeting_id: str) -> bool:
        return meeting_id in self.seeds and meeting_id not in self.cancelled

    def __len__(self) -> int:
        return len(self.seeds) - len(self.cancelled)

    def get(self, meeting_id: str) -> dict[str, Any] | None:
        """The meeting as the API returns it, or None if it does not exist."""
        if meeting_id not in self:
            return None
        meeting = self._base(meeting_id, self.seeds[meeting_id])
        _apply(meeting, self.overlays.get(meeting_id, {}))
        return meeting

    def seed(self, meeting_id: str) -> Seed:
        """The seed of an existing meeting."""
        return self.seeds[meeting_id]

    def update(
        self, meeting_id: str, changes: dict[str, Any], current: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Record changed top-level fields (``DELETED`` for removed ones); return the meeting.

        ``current`` (the meeting as ``get`` just gave it) spares drawing it a second time.
        """
        self.overlays.setdefault(meeting_id, {}).update(changes)
        meeting = self.get(meeting_id) if current is None else current
        if meeting is None:
            raise KeyError(meeting_id)
        if current is not None:
            _apply(meeting, changes)
        return meeting

    def add(self, meeting_id: str, seed: Seed, snapshot: dict[str, Any] | None = None) -> None:
        """Add one meeting (an occurrence is filed under its series), drawn or as given."""
        problem = meeting_id_problem(meeting_id)
        if problem is not None:  # no id may ever name another path of the emulator
            raise ValueError(problem)
        new = meeting_id not in self.seeds
        self.seeds[meeting_id] = seed
        self.cancelled.discard(meeting_id)
        if snapshot is not None:
            self.snapshots[meeting_id] = snapshot
        if not new:
            return  # a meeting added again (an occurrence back in its old slot) keeps its place
        self.order.append(meeting_id)
        if seed.series_id is not None:
            self.occurrences.setdefault(seed.series_id, []).append(meeting_id)
        if self._by_host is not None:
            self._by_host.setdefault(self.host_of(meeting_id).email.lower(), []).append(meeting_id)
        if self._people is not None and snapshot is not None:
            self._remember(self.host_of(meeting_id))

    # --- series and occurrences ----------------------------------------------------------------

    def occurrences_of(self, series_id: str) -> Iterator[str]:
        """The ids of a series' occurrences and instances that still exist."""
        return (occ for occ in self.occurrences.get(series_id, ()) if occ not in self.cancelled)

    def is_exception(self, occurrence_id: str) -> bool:
        """Whether an occurrence was changed on its own (the API's ``isModified``)."""
        if occurrence_id in self.overlays:
            return True
        return bool(self.snapshots.get(occurrence_id, {}).get("isModified"))

    def cancel_exceptions(self, series_id: str) -> int:
        """Cancel the occurrences of a series that were changed one by one; return how many."""
        exceptional = [
            occ
            for occ in self.occurrences_of(series_id)
            if self.seeds[occ].kind == "scheduledMeeting" and self.is_exception(occ)
        ]
        self.cancelled.update(exceptional)
        return len(exceptional)

    def replace_occurrences(self, series_id: str, fresh: list[tuple[str, Seed]]) -> None:
        """Retire a series' scheduled occurrences and add ``fresh`` ones (after a reschedule)."""
        self.cancelled.update(
            occ
            for occ in self.occurrences_of(series_id)
            if self.seeds[occ].kind == "scheduledMeeting"
        )
        for occurrence_id, seed in fresh:
            self.overlays.pop(occurrence_id, None)
            self.snapshots.pop(occurrence_id, None)
            self.add(occurrence_id, seed)

    # --- hosts -----------------------------------------------------------------------------------

    def host_of(self, meeting_id: str) -> Person:
        """The meeting's host (an occurrence's is its series' host)."""
        snapshot = self.snapshots.get(meeting_id)
        if snapshot is not None:
            email = str(snapshot.get("hostEmail", ""))
            name = str(snapshot.get("hostDisplayName", email))
            return Person(email, name, str(snapshot.get("hostUserId", "")))
        seed = self.seeds[meeting_id]
        if seed.host is not None:
            return self.hosts[seed.host]
        if seed.series_id is not None and seed.series_id in self.seeds:
            return self.host_of(seed.series_id)
        return self.hosts[host_index(meeting_id, len(self.hosts))]

    def meetings_of(self, email: str) -> list[str]:
        """Every meeting id hosted by ``email``, in the store's order (built once, then kept)."""
        if self._by_host is None:
            by_host: dict[str, list[str]] = {}
            for meeting_id in self.order:
                by_host.setdefault(self.host_of(meeting_id).email.lower(), []).append(meeting_id)
            self._by_host = by_host
        return self._by_host.get(email.lower(), [])

    def people(self) -> dict[str, Person]:
        """Every host of the store by lower-case email: the generated ones and the snapshot's."""
        if self._people is None:
            self._people = {person.email.lower(): person for person in self.hosts}
            for meeting_id in self.snapshots:
                self._remember(self.host_of(meeting_id))
        return self._people

    def _remember(self, person: Person) -> None:
        if person.email and self._people is not None:
            self._people.setdefault(person.email.lower(), person)

    # --- drawing ---------------------------------------------------------------------------------

    def _base(self, meeting_id: str, seed: Seed) -> dict[str, Any]:
        """The meeting before its own overlay: as given, drawn, or drawn from its series."""
        series_id = seed.series_id
        has_series = series_id is not None and series_id in self
        snapshot = self.snapshots.get(meeting_id)
        if snapshot is not None:
            meeting: dict[str, Any] = _json_copy(snapshot)
            if has_series and seed.kind == "scheduledMeeting" and not snapshot.get("isModified"):
                self._inherit(meeting, series_id)  # type: ignore[arg-type]  # has_series checked it
            return meeting
        if has_series:
            series = self.get(series_id)  # type: ignore[arg-type]  # has_series checked it
            if series is not None:
                return _occurrence_of(series, meeting_id, seed)
        return draw_meeting(meeting_id, seed, self.host_of(meeting_id), self.site)

    def _inherit(self, meeting: dict[str, Any], series_id: str) -> None:
        """What PATCHes changed on the series, shown on a snapshot occurrence."""
        changed = self.overlays.get(series_id, {})
        _apply(meeting, {name: value for name, value in changed.items() if name not in _OWN})
        zone = changed.get("timezone")
        if isinstance(zone, str):
            for name in ("start", "end"):
                if isinstance(meeting.get(name), str):
                    moment = datetime.fromisoformat(meeting[name])
                    meeting[name] = moment.astimezone(ZoneInfo(zone)).isoformat()


def _occurrence_of(series: dict[str, Any], meeting_id: str, seed: Seed) -> dict[str, Any]:
    """An occurrence or instance of ``series``: the series' fields, its own id, state and times."""
    meeting: dict[str, Any] = {"id": meeting_id, "meetingSeriesId": series["id"]}
    zone = ZoneInfo(series["timezone"])
    start = seed.start.astimezone(zone)
    for name, value in series.items():
        if name in {"id", "recurrence"}:
            continue
        meeting[name] = value
        if name == "state":
            meeting["state"] = seed.state
            if seed.kind == "scheduledMeeting":
                meeting["isModified"] = False
    meeting["meetingType"] = seed.kind
    meeting["start"] = start.isoformat()
    meeting["end"] = (start + timedelta(minutes=seed.minutes)).isoformat()
    if isinstance(series.get("telephony"), dict):
        meeting["telephony"] = {**series["telephony"], "links": telephony_links(meeting_id)}
    return meeting


def _apply(meeting: dict[str, Any], changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        if value is DELETED:
            meeting.pop(name, None)
        else:
            meeting[name] = value


def _json_copy(value: Any) -> Any:
    """A deep copy of a JSON value (dicts and lists only): faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {key: _json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_copy(item) for item in value]
    return value
