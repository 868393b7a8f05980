"""List Meetings (``GET /v1/meetings``) and List People (``GET /v1/people``) as the API documents them.

Facts followed (Webex OpenAPI spec, ``webex/webex-openapi-specs`` ``public-spec/webex-meeting.json``,
operation ``listMeetings``; https://developer.webex.com/docs/api/v1/meetings/list-meetings):

- ``meetingType`` defaults to ``meetingSeries``; a series is listed when any of its occurrences
  overlaps ``[from, to)``. ``from`` defaults to ``to`` minus 7 days, else now (7 days before now
  for ``meetingType=meeting``); ``to`` defaults to ``from`` plus 7 days, else 7 days after now
  (now for ``meeting``). ``from`` after ``to`` is refused.
- ``current`` (default true) shows a series with the start and end of its occurrence in progress
  or next; ``current=false`` with the series' own first start and end.
- ``meetingNumber``, ``webLink`` and ``roomId`` are mutually exclusive and make ``from``, ``to``,
  ``meetingType``, ``state`` and ``isModified`` ignored; ``meetingSeriesId`` lists the series'
  occurrences and instances (``meetingType`` narrows them) and ignores ``scheduledType``,
  ``siteUrl``, ``integrationTag`` and ``current``.
- ``scheduledType`` with ``meetingSeries`` is ``meeting`` or ``webinar`` (both by default);
  personal room meetings are listed as scheduled meetings only.
- ``hostEmail`` is "only used if the user or application calling the API has the admin-level
  scopes": an admin gets that host's meetings, a user token always its own.
- ``max`` up to 100, default 10; longer results are split into pages linked by
  ``Link: <...>; rel="next"``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bulkpatch.model.recurrence import overlaps, upcoming
from bulkpatch.sandbox.accounts import Identity
from bulkpatch.sandbox.drawing import Person
from bulkpatch.sandbox.refusal import Refusal, not_found
from bulkpatch.sandbox.store import MeetingStore, Seed

MEETINGS_PAGE = (10, 100)  # (default, most) of max
PEOPLE_PAGE = (100, 1000)
WEEK = timedelta(days=7)
_TYPES = ("meetingSeries", "scheduledMeeting", "meeting")
_STATES = ("active", "scheduled", "ready", "lobby", "inProgress", "ended", "missed", "expired")
_SCHEDULED = ("meeting", "webinar", "personalRoomMeeting")

Keep = Callable[[Any], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing, and where the next one starts (None on the last page)."""

    items: list[dict[str, Any]]
    next_cursor: str | None


def list_meetings(
    store: MeetingStore, query: Mapping[str, str], viewer: Identity, now: datetime
) -> Page:
    """One page of ``GET /v1/meetings`` for ``viewer``."""
    size = page_size(query, *MEETINGS_PAGE)
    position = _cursor(query)
    keys = [name for name in ("meetingNumber", "webLink", "roomId") if query.get(name)]
    if len(keys) > 1:
        raise Refusal(400, "meetingNumber, webLink and roomId are mutually exclusive.")
    series_id = query.get("meetingSeriesId")
    kind = _choice(query, "meetingType", _TYPES, None)
    state = _choice(query, "state", _STATES, None)
    if series_id:
        candidates = _series_members(store, series_id, viewer)
        low, high = _range(query, kind or "scheduledMeeting", now)
        keep = _member_filter(store, query, kind, state, low, high)
    elif keys:
        candidates = _visible(store, query, viewer, kind=None)
        keep = _key_filter(store, query, keys[0], now)
    else:
        kind = kind or "meetingSeries"
        candidates = _visible(store, query, viewer, kind)
        low, high = _range(query, kind, now)
        keep = _type_filter(store, query, kind, state, low, high, now)
    return _page(candidates, position, size, keep)


def list_people(
    store: MeetingStore,
    query: Mapping[str, str],
    viewer: Identity,
    extra: Iterable[Person],
    org: str,
) -> Page:
    """One page of ``GET /v1/people``: the site's hosts and the sandbox's own accounts."""
    size = page_size(query, *PEOPLE_PAGE)
    email, name, ids = query.get("email"), query.get("displayName"), query.get("id")
    if not viewer.admin and not (email or name or ids):
        raise Refusal(400, "email or displayName is required: only admins may list everyone.")
    everyone = store.people() | {person.email.lower(): person for person in extra}
    wanted = set(ids.split(",")) if ids else None
    chosen = [
        person
        for _, person in sorted(everyone.items())
        if (email is None or person.email.lower() == email.lower())
        and (name is None or person.display_name.lower().startswith(name.lower()))
        and (wanted is None or person.person_id in wanted)
    ]
    people = [person_json(person, org) for person in chosen]
    return _page(list(range(len(people))), _cursor(query), size, lambda i: people[i])


def page_of(items: list[dict[str, Any]], query: Mapping[str, str], most: int = 100) -> Page:
    """A page of a short list (``max`` up to ``most``, all of them by default)."""
    size = page_size(query, most, most)
    return _page(list(range(len(items))), _cursor(query), size, lambda i: items[i])


def in_zone(meeting: dict[str, Any], asked: str) -> dict[str, Any]:
    """start and end shown in the zone ``asked`` (the ``timezone`` request header).

    The real API answers GET and List Meetings in UTC without that header; the sandbox keeps
    each meeting's own zone then (the same moments), which existing clients rely on.
    """
    try:
        zone = ZoneInfo(asked)
    except (ZoneInfoNotFoundError, ValueError):
        raise Refusal(400, f"timezone {asked!r} is not an IANA time zone.") from None
    for name in ("start", "end"):
        if isinstance(meeting.get(name), str):
            meeting[name] = datetime.fromisoformat(meeting[name]).astimezone(zone).isoformat()
    return meeting


def person_json(person: Person, org: str) -> dict[str, Any]:
    """A person of organisation ``org`` as List People (and Get My Own Details) shows one."""
    first, _, last = person.display_name.partition(" ")
    return {
        "id": person.person_id,
        "emails": [person.email],
        "displayName": person.display_name,
        "firstName": first,
        "lastName": last,
        "orgId": org,
        "type": "person",
    }


def page_size(query: Mapping[str, str], default: int, most: int) -> int:
    """The ``max`` query parameter: a positive whole number, at most ``most``."""
    text = query.get("max")
    if text is None:
        return default
    try:
        size = int(text)
    except ValueError:
        raise Refusal(400, f"max must be a whole number, not {text!r}.") from None
    if size < 1:
        raise Refusal(400, "max must be at least 1.")
    return min(size, most)


# --- which meetings a viewer may list ------------------------------------------------------------


def _visible(
    store: MeetingStore, query: Mapping[str, str], viewer: Identity, kind: str | None
) -> Sequence[str]:
    host = query.get("hostEmail")
    if viewer.admin and host:
        return store.meetings_of(host)
    if viewer.admin and kind == "meeting":
        return store.order  # admins list every ended and ongoing instance of their site
    return store.meetings_of(viewer.person.email)


def _series_members(store: MeetingStore, series_id: str, viewer: Identity) -> Sequence[str]:
    if series_id not in store or not viewer.may_see(store.host_of(series_id).email):
        raise not_found()
    if store.seed(series_id).scheduled_type == "personalRoomMeeting":
        raise Refusal(400, "The meeting ID of a scheduled personal room meeting is not supported.")
    return store.occurrences.get(series_id, [])


# --- filters: each returns the meeting as listed, or None to leave it out --------------------------


def _type_filter(
    store: MeetingStore,
    query: Mapping[str, str],
    kind: str,
    state: str | None,
    low: datetime,
    high: datetime,
    now: datetime,
) -> Keep:
    allowed = _scheduled_types(query, kind)
    current = query.get("current", "true").lower() != "false"

    def keep(meeting_id: str) -> dict[str, Any] | None:
        seed = store.seeds[meeting_id]
        if meeting_id not in store or seed.kind != kind or seed.adhoc:
            return None
        if seed.scheduled_type not in allowed:
            return None
        meeting = store.get(meeting_id)
        if meeting is None or not _common(meeting, query, state):
            return None
        start, duration, rule = _schedule(meeting, seed)
        if not overlaps(rule if kind == "meetingSeries" else None, start, duration, low, high):
            return None
        if kind == "meetingSeries" and current:
            return current_of(store, meeting_id, meeting, now)
        return meeting

    return keep


def current_of(
    store: MeetingStore, meeting_id: str, meeting: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """A series shown with the start and end of its occurrence in progress or next (``current``)."""
    seed = store.seeds[meeting_id]
    start, duration, rule = _schedule(meeting, seed)
    if seed.kind == "meetingSeries" and rule:
        moment = upcoming(rule, start, duration, now)
        meeting["start"], meeting["end"] = moment.isoformat(), (moment + duration).isoformat()
    return meeting


def _member_filter(
    store: MeetingStore,
    query: Mapping[str, str],
    kind: str | None,
    state: str | None,
    low: datetime,
    high: datetime,
) -> Keep:
    modified = query.get("isModified")

    def keep(meeting_id: str) -> dict[str, Any] | None:
        seed = store.seeds[meeting_id]
        if meeting_id not in store or (kind is not None and seed.kind != kind):
            return None
        meeting = store.get(meeting_id)
        if meeting is None or (state is not None and meeting.get("state") != state):
            return None
        if (
            modified is not None
            and str(meeting.get("isModified", False)).lower() != modified.lower()
        ):
            return None
        start, duration, _ = _schedule(meeting, seed)
        return meeting if overlaps(None, start, duration, low, high) else None

    return keep


def _key_filter(store: MeetingStore, query: Mapping[str, str], key: str, now: datetime) -> Keep:
    wanted = query[key]
    current = query.get("current", "true").lower() != "false"

    def keep(meeting_id: str) -> dict[str, Any] | None:
        seed = store.seeds[meeting_id]
        if meeting_id not in store or seed.kind == "scheduledMeeting":
            return None
        meeting = store.get(meeting_id)
        if meeting is None or meeting.get(key) != wanted:
            return None
        return current_of(store, meeting_id, meeting, now) if current else meeting

    return keep


def _common(meeting: dict[str, Any], query: Mapping[str, str], state: str | None) -> bool:
    """The filters every listing shares: state, site and integration tag."""
    if state is not None and meeting.get("state") != state:
        return False
    site = query.get("siteUrl")
    if site and str(meeting.get("siteUrl", "")).lower() != site.lower():
        return False
    tag = query.get("integrationTag")
    return not tag or tag in (meeting.get("integrationTags") or ())


def _scheduled_types(query: Mapping[str, str], kind: str) -> tuple[str, ...]:
    given = _choice(query, "scheduledType", _SCHEDULED, None)
    if kind != "scheduledMeeting" and given == "personalRoomMeeting":
        raise Refusal(
            400, f"scheduledType personalRoomMeeting does not apply to meetingType {kind}."
        )
    if given is not None:
        return (given,)
    return _SCHEDULED if kind == "scheduledMeeting" else ("meeting", "webinar")


def _schedule(meeting: dict[str, Any], seed: Seed) -> tuple[datetime, timedelta, str | None]:
    """Start (in the meeting's zone), duration and rule of the meeting as it is now."""
    zone = ZoneInfo(str(meeting.get("timezone") or seed.timezone))
    try:
        start = datetime.fromisoformat(meeting["start"]).astimezone(zone)
        end = datetime.fromisoformat(meeting.get("end", meeting["start"])).astimezone(zone)
    except (KeyError, TypeError, ValueError):
        start, end = seed.start.astimezone(zone), seed.start + timedelta(minutes=seed.minutes)
    rule = meeting.get("recurrence")
    return start, end - start, rule if isinstance(rule, str) else None


# --- query values ---------------------------------------------------------------------------------


def _choice(
    query: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str | None
) -> str | None:
    value = query.get(name)
    if value is None or value == "":
        return default
    if value not in allowed:
        raise Refusal(400, f"{name} must be one of {', '.join(allowed)}.")
    return value


def _range(query: Mapping[str, str], kind: str, now: datetime) -> tuple[datetime, datetime]:
    low, high = _moment(query, "from"), _moment(query, "to")
    if low is None:
        low = high - WEEK if high is not None else (now - WEEK if kind == "meeting" else now)
    if high is None:
        high = low + WEEK if "from" in query else (now if kind == "meeting" else now + WEEK)
    if low > high:
        raise Refusal(400, "from cannot be after to.")
    return low, high


def _moment(query: Mapping[str, str], name: str) -> datetime | None:
    text = query.get(name)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        raise Refusal(400, f"{name} must be an ISO 8601 date and time, not {text!r}.") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- pages ----------------------------------------------------------------------------------------


def _page(candidates: Sequence[Any], position: int, size: int, keep: Keep) -> Page:
    """Up to ``size`` kept items from ``position`` on; the cursor of the next kept one, if any."""
    items: list[dict[str, Any]] = []
    index = position
    while index < len(candidates) and len(items) < size:
        shown = keep(candidates[index])
        index += 1
        if shown is not None:
            items.append(shown)
    while index < len(candidates):  # is there a next page? it starts at the next kept item
        if keep(candidates[index]) is not None:
            return Page(items, _encode(index))
        index += 1
    return Page(items, None)


def _encode(position: int) -> str:
    return base64.urlsafe_b64encode(f"at:{position}".encode()).decode().rstrip("=")


def _cursor(query: Mapping[str, str]) -> int:
    text = query.get("cursor")
    if text is None:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        decoded = ""
    prefix, _, number = decoded.partition(":")
    if prefix != "at" or not number.isdigit():
        raise Refusal(400, "The cursor is not one this server gave.")
    return int(number)
