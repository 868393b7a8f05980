"""Every meeting a generated sandbox holds can be found by List Meetings and inspected by its id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bulkpatch.sandbox import MeetingStore, every_kind_from, generate_meetings, new_state
from bulkpatch.sandbox import running_sandbox as serving

TOKEN = "reach-admin"
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
#: Wide enough for every generated meeting: the past month to 12 years ahead (the API's default
#: range is a week, and one generated meeting is 11 years ahead).
RANGE = {
    "from": (NOW - timedelta(days=30)).isoformat(),
    "to": (NOW + timedelta(days=366 * 12)).isoformat(),
}
#: The listing query that finds each kind of generated meeting (the README's sandbox section
#: names the same ones).
LISTED_BY = {
    "series": "meetingType=meetingSeries",
    "scheduled meeting": "meetingType=scheduledMeeting",
    "instance": "meetingType=meeting",
    "ad hoc": "roomId",
    "personal room": "meetingNumber",
}
Json = dict[str, Any]


def kind_of(store: MeetingStore, meeting_id: str) -> str:
    """What a generated meeting is, in the words of :data:`LISTED_BY`."""
    seed = store.seed(meeting_id)
    if seed.adhoc:
        return "ad hoc"
    if seed.kind == "meetingSeries":
        return "personal room" if seed.scheduled_type == "personalRoomMeeting" else "series"
    return "scheduled meeting" if seed.kind == "scheduledMeeting" else "instance"


class Reader:
    """An admin reading a sandbox as a user would: every page of each listing."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.headers = {"Authorization": f"Bearer {TOKEN}"}

    async def every_item(self, path: str, **query: str) -> list[Json]:
        items: list[Json] = []
        url: str | None = path
        params: dict[str, str] | None = {"max": "100", **query}
        while url is not None:
            async with self.session.get(url, params=params, headers=self.headers) as reply:
                assert reply.status == 200, (query, await reply.text())
                items += (await reply.json())["items"]
                following = reply.links.get("next")
                url = str(following["url"]) if following is not None else None
                params = None  # the next link carries the whole query
        return items

    async def inspect(self, meeting_id: str) -> int:
        async with self.session.get(f"/_sandbox/meetings/{meeting_id}") as reply:
            return reply.status


async def reach(reader: Reader) -> tuple[dict[str, str], list[Json]]:
    """Each meeting id a user can list, starting from List People alone, and the query that
    found it first; and every item listed.

    First every host's meetings of each meetingType; then the keys those items show: the
    roomId of an ad hoc meeting's instance, the meetingNumber of a personal room meeting.
    """
    found: dict[str, str] = {}
    listed: list[Json] = []

    def note(items: list[Json], query: str) -> None:
        listed.extend(items)
        for item in items:
            found.setdefault(item["id"], query)

    people = await reader.every_item("/v1/people")
    hosts = [person["emails"][0] for person in people]
    for host in hosts:
        for kind in ("meetingSeries", "scheduledMeeting", "meeting"):
            items = await reader.every_item(
                "/v1/meetings", meetingType=kind, hostEmail=host, **RANGE
            )
            note(items, f"meetingType={kind}")
    for item in list(listed):
        host = item["hostEmail"]
        if "roomId" in item:
            note(
                await reader.every_item("/v1/meetings", roomId=item["roomId"], hostEmail=host),
                "roomId",
            )
        if item.get("scheduledType") == "personalRoomMeeting":
            number = item["meetingNumber"]
            items = await reader.every_item(
                "/v1/meetings", meetingNumber=number, hostEmail=host, current="false"
            )
            note(items, "meetingNumber")
    return found, listed


@pytest.fixture
async def reader() -> AsyncIterator[Any]:
    """Serve a generated store on loopback; yields a function that opens a Reader on one."""
    opened: list[Any] = []

    async def open_store(store: MeetingStore) -> Reader:
        state = new_state(store, token=TOKEN)
        state.now = lambda: NOW
        context = serving(state)
        sandbox = await context.__aenter__()
        session = aiohttp.ClientSession(base_url=sandbox.url)
        opened.append((context, session))
        return Reader(session)

    yield open_store
    for context, session in opened:
        await session.close()
        await context.__aexit__(None, None, None)


@pytest.mark.parametrize(
    ("meetings", "hosts"),
    [(1, 10), (10, None), (every_kind_from(4), None), (100, None), (every_kind_from(7) + 3, 7)],
)
async def test_every_generated_meeting_is_listed_and_inspectable(
    reader: Any, meetings: int, hosts: int | None
) -> None:
    """For `--meetings N`, every meeting is found by the listing query its kind names (ad hoc by
    its roomId, a personal room by its meetingNumber), and /_sandbox/meetings/{id} shows it and
    every series a listed meeting names."""
    store = generate_meetings(meetings, 0, NOW, hosts=hosts)
    site = await reader(store)
    found, listed = await reach(site)
    every = [meeting_id for meeting_id in store.order if meeting_id in store]
    assert len(every) == meetings
    assert found == {meeting_id: LISTED_BY[kind_of(store, meeting_id)] for meeting_id in every}
    named = {item["meetingSeriesId"] for item in listed if "meetingSeriesId" in item}
    assert {i: await site.inspect(i) for i in [*every, *named]} == dict.fromkeys(
        [*every, *named], 200
    )
    if meetings >= every_kind_from(len(store.hosts)):
        assert set(found.values()) == set(LISTED_BY.values())


@pytest.mark.parametrize("hosts", [None, 7])
def test_every_host_has_one_personal_room(hosts: int | None) -> None:
    """Each host of a generated site has one personal room (its series and a scheduled
    meeting, both hosted by that host), not a room of someone else's name."""
    store = generate_meetings(every_kind_from(hosts or 4), 0, NOW, hosts=hosts)
    rooms = {
        meeting_id: store.host_of(meeting_id).email
        for meeting_id in store.order
        if store.seed(meeting_id).scheduled_type == "personalRoomMeeting"
    }
    emails = sorted(person.email for person in store.hosts)
    for kind in ("meetingSeries", "scheduledMeeting"):
        of_kind = [i for i in rooms if store.seed(i).kind == kind]
        assert sorted(rooms[i] for i in of_kind) == emails
    for meeting_id, email in rooms.items():
        meeting = store.get(meeting_id)
        assert meeting is not None
        assert meeting["hostEmail"] == email
        assert meeting["title"].startswith(f"{store.host_of(meeting_id).display_name}'s")


async def test_listing_a_personal_rooms_meetings_by_series_is_a_400(reader: Any) -> None:
    """meetingSeriesId of a personal room is a 400 in the API's words ("The meeting ID of a
    scheduled personal room meeting is not supported"); it was a 404, the room not existing."""
    store = generate_meetings(every_kind_from(4), 0, NOW)
    site = await reader(store)
    room = next(
        i
        for i in store.order
        if store.seed(i).kind == "meetingSeries"
        and store.seed(i).scheduled_type == "personalRoomMeeting"
    )
    host = store.host_of(room).email
    async with site.session.get(
        "/v1/meetings", params={"meetingSeriesId": room, "hostEmail": host}, headers=site.headers
    ) as reply:
        assert reply.status == 400
        assert "personal room" in (await reply.json())["message"]
