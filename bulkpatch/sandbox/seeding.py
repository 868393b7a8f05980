"""Fill a store: the meetings a job names, or a generated site with every kind of meeting."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from dateutil.relativedelta import relativedelta

from bulkpatch.model import is_occurrence_id, meeting_id_problem
from bulkpatch.sandbox.drawing import ZONES, numbered_hosts, stable_rng
from bulkpatch.sandbox.store import MeetingStore, ScheduledType, Seed

OCCURRENCES_PER_SERIES = 4


def occurrence_id(series_id: str, start: datetime) -> str:
    """``<seriesId>_<YYYYMMDDTHHMMSSZ>`` for an occurrence starting at ``start``."""
    return f"{series_id}_{start.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def seed_from_ids(meeting_ids: Iterable[str], now: datetime) -> MeetingStore:
    """A store in which every id exists and can be patched: series, or occurrences of one.

    Ids the API could never have (empty, ``.``, ``..``, an occurrence on a day the calendar does
    not have) are left out, so no such id ever names a meeting of the sandbox. Their hosts are
    invented, so a ``hostEmail`` naming the real host is not refused as another host's.
    """
    store = MeetingStore(hosts_known=False)
    for meeting_id in meeting_ids:
        if meeting_id in store.seeds or meeting_id_problem(meeting_id):
            continue
        rng = stable_rng(meeting_id)
        zone = rng.choice(ZONES)
        if is_occurrence_id(meeting_id):
            series_id, stamp = meeting_id.rsplit("_", 1)
            try:
                start = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            except ValueError:
                continue  # 20270230T100000Z: no occurrence starts at a moment that does not exist
            if start <= now:
                start = _future_slot(rng, now)
            if series_id not in store.seeds:
                store.add(series_id, weekly_series(start, zone, "meeting"))
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


def generate(
    count: int, random_seed: int, now: datetime, *, hosts: int | None = None, extras: bool = False
) -> MeetingStore:
    """``count`` meeting series, drawn deterministically, with their scheduled occurrences.

    Most can be patched; of every 20 one has ended, one is in progress (with its in-progress
    instance) and one is ad hoc (with the instance that ended in its space yesterday), so that
    refusals can be tried too. Every 5th is a webinar, every 3rd recurs weekly, every 10th
    webinar has registrants. ``hosts`` spreads the meetings over that many hosts (default
    four). ``extras`` adds, after the series (so the ids above do not change), a personal room
    for each host (its series and one scheduled meeting) and a meeting 11 years ahead.
    """
    rng = random.Random(random_seed)
    store = _empty_store(hosts)
    for index in range(count):
        _add_series(store, index, _draw_series(index, rng, now))
    if extras:
        _add_extras(store, random_seed, now)
    return store


def generate_meetings(
    total: int, random_seed: int, now: datetime, *, hosts: int | None = None
) -> MeetingStore:
    """Exactly ``total`` meetings, occurrences included: :func:`generate`'s series in its order.

    The last series is cut to fit (a weekly one keeps the occurrences there is room for, any
    other becomes a plain series). From :func:`every_kind_from` meetings on, the rare kinds are
    there too: ended, in progress and ad hoc among the series, then :func:`generate`'s extras.
    Below that, the series alone, as many as fit.
    """
    rng = random.Random(random_seed)
    store = _empty_store(hosts)
    with_extras = total >= every_kind_from(len(store.hosts))
    room = total - _extras_size(len(store.hosts)) if with_extras else total
    index = 0
    while len(store) < room:
        _add_series(store, index, _draw_series(index, rng, now, room - len(store)))
        index += 1
    if with_extras:
        _add_extras(store, random_seed, now)
    return store


#: The series after which every kind has been drawn: the 18th to 20th are ended, in progress, ad hoc.
_EVERY_KIND_SERIES = 20


def every_kind_from(hosts: int) -> int:
    """The fewest meetings :func:`generate_meetings` holds every kind of meeting in, for ``hosts``."""
    drawn = sum(_series_size(index) for index in range(_EVERY_KIND_SERIES))
    return drawn + _extras_size(hosts)


def _empty_store(hosts: int | None) -> MeetingStore:
    return MeetingStore(hosts=numbered_hosts(hosts) if hosts else MeetingStore().hosts)


def _extras_size(hosts: int) -> int:
    """A personal room per host (its series and a scheduled meeting) and the meeting 11 years ahead."""
    return 2 * hosts + 1


def _kind(index: int) -> str:
    """What the ``index``-th generated series is (its meetings are drawn in :func:`_draw_series`)."""
    special = index % 20
    if 17 <= special <= 19:
        return ("ended", "in_progress", "adhoc")[special - 17]
    return "weekly" if index % 3 == 0 else "plain"


def _series_size(index: int) -> int:
    """How many meetings the ``index``-th series brings: itself and its occurrences or instance."""
    return {"weekly": 1 + OCCURRENCES_PER_SERIES, "in_progress": 2, "adhoc": 2}.get(_kind(index), 1)


def _draw_series(
    index: int, rng: random.Random, now: datetime, room: int | None = None
) -> list[tuple[str, Seed]]:
    """The ``index``-th series, first, then its occurrences or its in-progress instance.

    With ``room``, at most that many meetings: a weekly series keeps the occurrences that fit,
    a series that does not fit otherwise is drawn plain (the same id, start and zone).
    """
    series_id = f"{rng.getrandbits(128):032x}"
    start = _future_slot(rng, now)
    zone = ZONES[index % len(ZONES)]
    kind_of_type: ScheduledType = "webinar" if index % 5 == 4 else "meeting"
    kind = _kind(index)
    this_minute = now.replace(second=0, microsecond=0)  # the API keeps times to the minute
    occurrences = OCCURRENCES_PER_SERIES if room is None else min(OCCURRENCES_PER_SERIES, room - 1)
    if room is not None and _series_size(index) > room and (kind != "weekly" or occurrences < 1):
        kind = "plain"
    if kind == "ended":
        return [
            (
                series_id,
                Seed("meeting", "ended", this_minute - timedelta(days=1), 60, zone, kind_of_type),
            )
        ]
    instance = f"{hashlib.sha256(series_id.encode()).hexdigest()[:32]}_I_{index}"
    if kind == "in_progress":
        began = this_minute - timedelta(minutes=20)
        return [
            (series_id, Seed("meetingSeries", "inProgress", began, 60, zone, kind_of_type)),
            (instance, Seed("meeting", "inProgress", began, 60, zone, kind_of_type, series_id)),
        ]
    if kind == "adhoc":
        # The API lists no ad hoc meeting by type, only by its space's roomId; the instance that
        # ended in that space is listed (meetingType=meeting), and shows the roomId.
        met = this_minute - timedelta(days=1)
        return [
            (series_id, Seed("meetingSeries", "active", start, 60, zone, adhoc=True)),
            (instance, Seed("meeting", "ended", met, 60, zone, series_id=series_id)),
        ]
    if kind == "weekly":
        weeks = (start + timedelta(weeks=week) for week in range(occurrences))
        return [(series_id, weekly_series(start, zone, kind_of_type))] + [
            (
                occurrence_id(series_id, when),
                Seed("scheduledMeeting", "scheduled", when, 60, zone, kind_of_type, series_id),
            )
            for when in weeks
        ]
    return [(series_id, Seed("meetingSeries", "active", start, 30, zone, kind_of_type))]


def _add_series(store: MeetingStore, index: int, group: list[tuple[str, Seed]]) -> None:
    for meeting_id, seed in group:
        store.add(meeting_id, seed)
    if index % 10 == 9:
        store.registrants[group[0][0]] = 3


def _add_extras(store: MeetingStore, random_seed: int, now: datetime) -> None:
    """Meetings only the API's rarer refusals apply to, drawn from a generator of their own."""
    rng = random.Random(f"extras-{random_seed}")
    for position, person in enumerate(store.hosts):
        room = hashlib.sha256(f"{person.email}:{random_seed}".encode()).hexdigest()[:32]
        when = _future_slot(rng, now)
        personal: ScheduledType = "personalRoomMeeting"
        store.add(room, Seed("meetingSeries", "active", when, 60, "UTC", personal, host=position))
        store.add(
            occurrence_id(room, when),
            Seed("scheduledMeeting", "scheduled", when, 60, "UTC", personal, room),
        )
    far = _future_slot(rng, now) + relativedelta(years=11)
    store.add(f"{rng.getrandbits(128):032x}", Seed("meetingSeries", "active", far, 60, "UTC"))


def weekly_series(start: datetime, zone: str, scheduled_type: ScheduledType) -> Seed:
    """A series that recurs every week, 60 minutes long."""
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
