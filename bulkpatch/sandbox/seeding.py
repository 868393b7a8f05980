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

    Ids the API could never have (empty, ``.``, ``..``) are left out, so no such id ever names a
    meeting of the sandbox. Their hosts are invented, so a ``hostEmail`` naming the real host is
    not refused as another host's.
    """
    store = MeetingStore(hosts_known=False)
    for meeting_id in meeting_ids:
        if meeting_id in store.seeds or meeting_id_problem(meeting_id):
            continue
        rng = stable_rng(meeting_id)
        zone = rng.choice(ZONES)
        if is_occurrence_id(meeting_id):
            series_id, stamp = meeting_id.rsplit("_", 1)
            start = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
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
    instance) and one is ad hoc, so that refusals can be tried too. Every 5th is a webinar, every
    3rd recurs weekly, every 10th webinar has registrants. ``hosts`` spreads the meetings over
    that many hosts (default four). ``extras`` adds, after the series (so the ids above do not
    change), a personal room meeting for each host and a meeting 11 years ahead.
    """
    rng = random.Random(random_seed)
    store = MeetingStore(hosts=numbered_hosts(hosts) if hosts else MeetingStore().hosts)
    for index in range(count):
        series_id = f"{rng.getrandbits(128):032x}"
        start = _future_slot(rng, now)
        zone = ZONES[index % len(ZONES)]
        kind_of_type: ScheduledType = "webinar" if index % 5 == 4 else "meeting"
        special = index % 20
        if special == 17:
            store.add(
                series_id, Seed("meeting", "ended", now - timedelta(days=1), 60, zone, kind_of_type)
            )
        elif special == 18:
            began = now - timedelta(minutes=20)
            store.add(series_id, Seed("meetingSeries", "inProgress", began, 60, zone, kind_of_type))
            instance = f"{hashlib.sha256(series_id.encode()).hexdigest()[:32]}_I_{index}"
            store.add(
                instance, Seed("meeting", "inProgress", began, 60, zone, kind_of_type, series_id)
            )
        elif special == 19:
            store.add(series_id, Seed("meetingSeries", "active", start, 60, zone, adhoc=True))
        elif index % 3 == 0:
            store.add(series_id, weekly_series(start, zone, kind_of_type))
            for week in range(OCCURRENCES_PER_SERIES):
                when = start + timedelta(weeks=week)
                store.add(
                    occurrence_id(series_id, when),
                    Seed("scheduledMeeting", "scheduled", when, 60, zone, kind_of_type, series_id),
                )
        else:
            store.add(series_id, Seed("meetingSeries", "active", start, 30, zone, kind_of_type))
        if index % 10 == 9:
            store.registrants[series_id] = 3
    if extras:
        _add_extras(store, random_seed, now)
    return store


def _add_extras(store: MeetingStore, random_seed: int, now: datetime) -> None:
    """Meetings only the API's rarer refusals apply to, drawn from a generator of their own."""
    rng = random.Random(f"extras-{random_seed}")
    for person in store.hosts:
        room = hashlib.sha256(f"{person.email}:{random_seed}".encode()).hexdigest()[:32]
        when = _future_slot(rng, now)
        store.add(
            occurrence_id(room, when),
            Seed("scheduledMeeting", "scheduled", when, 60, "UTC", "personalRoomMeeting", room),
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
