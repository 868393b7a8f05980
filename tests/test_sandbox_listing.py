"""List Meetings and List People on the sandbox: filters, defaults, pages, admin and user tokens."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from conftest import FakeClock
from yarl import URL

from bulkpatch.sandbox import MeetingStore, RunningSandbox, new_state, running_sandbox
from bulkpatch.sandbox.drawing import Person
from bulkpatch.sandbox.seeding import occurrence_id, weekly_series
from bulkpatch.sandbox.store import Seed

ADMIN_TOKEN = "listing-admin"
ANA_TOKEN = "listing-ana"
ANA = Person("ana@example.com", "Ana Silva")
BEN = Person("ben@example.com", "Ben Okafor")
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
Json = dict[str, Any]


def store_of(*meetings: tuple[str, Seed, Person]) -> MeetingStore:
    """A store holding exactly these meetings, each with its host."""
    store = MeetingStore(hosts=(ANA,))
    for meeting_id, seed, host in meetings:
        drawn = MeetingStore(hosts=(host,))
        drawn.add(meeting_id, seed)
        store.add(meeting_id, seed, drawn.get(meeting_id))
    return store


def single(days: float, kind: str = "meeting", state: str = "active") -> Seed:
    return Seed("meetingSeries", state, NOW + timedelta(days=days), 30, "UTC", kind)  # type: ignore[arg-type]  # a literal from the test table


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    """Serve a store with an admin token and Ana's user token; yields a session factory."""
    running: list[Any] = []

    async def open_store(store: MeetingStore) -> tuple[RunningSandbox, aiohttp.ClientSession]:
        state = new_state(store, token=ADMIN_TOKEN, users={ANA_TOKEN: ANA.email})
        state.now = lambda: NOW
        context = running_sandbox(state)
        sandbox = await context.__aenter__()
        session = aiohttp.ClientSession(base_url=sandbox.url)
        running.append((context, session))
        return sandbox, session

    yield open_store
    for context, session in running:
        await session.close()
        await context.__aexit__(None, None, None)


async def get_json(
    session: aiohttp.ClientSession, path: str, token: str = ADMIN_TOKEN, **params: str
) -> tuple[int, Json, str | None]:
    headers = {"Authorization": f"Bearer {token}"}
    async with session.get(path, params=params, headers=headers) as response:
        return response.status, await response.json(), response.headers.get("Link")


async def every_page(
    session: aiohttp.ClientSession, path: str, token: str = ADMIN_TOKEN, **params: str
) -> list[list[Json]]:
    """Follow rel="next" links to the end; every page's items."""
    pages = []
    status, body, link = await get_json(session, path, token, **params)
    assert status == 200, body
    pages.append(body["items"])
    while link is not None:
        match = re.fullmatch(r'<(?P<url>[^>]+)>; rel="next"', link)
        assert match is not None, link
        async with session.get(match["url"], headers={"Authorization": f"Bearer {token}"}) as reply:
            assert reply.status == 200
            pages.append((await reply.json())["items"])
            link = reply.headers.get("Link")
    return pages


def ids(items: list[Json]) -> list[str]:
    return [item["id"] for item in items]


# --- pages -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "page_sizes"),
    [(0, [0]), (1, [1]), (100, [100]), (101, [100, 1]), (250, [100, 100, 50])],
)
async def test_pages_of_max_follow_link_next_to_the_last(
    serve: Any, count: int, page_sizes: list[int]
) -> None:
    """max=100: full pages linked by rel="next", the last page without a Link, nothing twice."""
    meetings = [(f"{n:032x}", single(1 + n / 1000), ANA) for n in range(count)]
    _, session = await serve(store_of(*meetings))
    pages = await every_page(session, "/v1/meetings", hostEmail=ANA.email, max="100")
    assert [len(page) for page in pages] == page_sizes
    assert [i for page in pages for i in ids(page)] == [m[0] for m in meetings]


async def test_max_defaults_to_10_and_is_capped_at_100(serve: Any) -> None:
    """Without max a page has 10 meetings; max above 100 gives pages of 100."""
    _, session = await serve(store_of(*[(f"{n:032x}", single(1), ANA) for n in range(120)]))
    assert len((await get_json(session, "/v1/meetings", hostEmail=ANA.email))[1]["items"]) == 10
    pages = await every_page(session, "/v1/meetings", hostEmail=ANA.email, max="500")
    assert [len(page) for page in pages] == [100, 20]


async def test_next_link_keeps_the_query_and_is_absolute(serve: Any) -> None:
    """The Link URL is absolute and carries every parameter of the first request."""
    sandbox, session = await serve(store_of(*[(f"{n:032x}", single(1), ANA) for n in range(3)]))
    _, _, link = await get_json(
        session, "/v1/meetings", hostEmail=ANA.email, max="2", scheduledType="meeting"
    )
    assert link is not None
    url = URL(link.removeprefix("<").removesuffix('>; rel="next"'))
    assert str(url).startswith(f"{sandbox.url}/v1/meetings?")
    assert {**url.query} == {
        "hostEmail": ANA.email,
        "max": "2",
        "scheduledType": "meeting",
        "cursor": url.query["cursor"],
    }


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"max": "ten"}, "whole number"),
        ({"max": "0"}, "at least 1"),
        ({"cursor": "bogus"}, "cursor"),
        ({"meetingType": "series"}, "meetingType must be one of"),
        ({"state": "done"}, "state must be one of"),
        ({"from": "yesterday"}, "ISO 8601"),
        ({"from": "2031-01-02", "to": "2031-01-01"}, "from cannot be after to"),
        ({"meetingNumber": "1", "webLink": "https://x"}, "mutually exclusive"),
        ({"scheduledType": "personalRoomMeeting"}, "does not apply"),
    ],
)
async def test_bad_list_parameters_are_400(serve: Any, params: dict[str, str], reason: str) -> None:
    """Each malformed parameter answers 400 with the reason."""
    _, session = await serve(store_of())
    status, body, _ = await get_json(session, "/v1/meetings", **params)
    assert status == 400
    assert reason in body["message"]


# --- filters -----------------------------------------------------------------------------------


def mixed_store() -> MeetingStore:
    """Ana: a meeting tomorrow, a webinar in 3 days, one in 10 days, an expired one; Ben: one."""
    return store_of(
        ("a1", single(1), ANA),
        ("a2", single(3, "webinar"), ANA),
        ("a3", single(10), ANA),
        ("a4", single(-3, state="expired"), ANA),
        ("b1", single(1), BEN),
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["a1", "a2"]),  # series overlapping [now, now + 7 days)
        ({"to": (NOW + timedelta(days=12)).isoformat()}, ["a3"]),  # from = to - 7 days
        ({"from": (NOW + timedelta(days=2)).isoformat()}, ["a2"]),  # to = from + 7 days
        ({"from": (NOW - timedelta(days=5)).isoformat()}, ["a1", "a4"]),
        (
            {"from": NOW.isoformat(), "to": (NOW + timedelta(days=30)).isoformat()},
            ["a1", "a2", "a3"],
        ),
        ({"scheduledType": "webinar"}, ["a2"]),
        ({"state": "expired", "from": (NOW - timedelta(days=5)).isoformat()}, ["a4"]),
        ({"siteUrl": "elsewhere.webex.com"}, []),
        ({"from": (NOW + timedelta(days=1)).isoformat()}, ["a1", "a2"]),  # from is inclusive
        (
            {"to": (NOW + timedelta(days=1)).isoformat(), "from": NOW.isoformat()},
            [],
        ),  # to is exclusive
    ],
)
async def test_series_filters_and_time_range_defaults(
    serve: Any, params: dict[str, str], expected: list[str]
) -> None:
    """meetingSeries (the default type): range defaults of the API, scheduledType, state, siteUrl."""
    _, session = await serve(mixed_store())
    _, body, _ = await get_json(session, "/v1/meetings", hostEmail=ANA.email, **params)
    assert ids(body["items"]) == expected


async def test_integration_tag_and_keys_find_their_meeting(serve: Any) -> None:
    """integrationTag, meetingNumber and webLink each find the one meeting that has it."""
    sandbox, session = await serve(mixed_store())
    sandbox.state.store.update("a3", {"integrationTags": ["JIRA-7"]})
    wide = {"from": NOW.isoformat(), "to": (NOW + timedelta(days=30)).isoformat()}
    _, body, _ = await get_json(
        session, "/v1/meetings", hostEmail=ANA.email, integrationTag="JIRA-7", **wide
    )
    assert ids(body["items"]) == ["a3"]
    a2 = sandbox.state.store.get("a2")
    assert a2 is not None
    for key in ("meetingNumber", "webLink"):
        _, body, _ = await get_json(session, "/v1/meetings", hostEmail=ANA.email, **{key: a2[key]})
        assert ids(body["items"]) == ["a2"]


async def test_admin_lists_any_host_and_a_user_only_their_own(serve: Any) -> None:
    """hostEmail is used for admin tokens only; a user token always gets its own meetings."""
    _, session = await serve(mixed_store())
    assert ids((await get_json(session, "/v1/meetings", hostEmail=BEN.email))[1]["items"]) == ["b1"]
    assert ids((await get_json(session, "/v1/meetings"))[1]["items"]) == []  # the admin hosts none
    for params in ({}, {"hostEmail": BEN.email}):
        _, body, _ = await get_json(session, "/v1/meetings", ANA_TOKEN, **params)
        assert ids(body["items"]) == ["a1", "a2"]


def series_with_occurrences() -> MeetingStore:
    start = NOW + timedelta(days=2)
    store = store_of(("s1", weekly_series(start, "Europe/Berlin", "meeting"), ANA))
    for week in range(4):
        when = start + timedelta(weeks=week)
        store.add(
            occurrence_id("s1", when),
            Seed("scheduledMeeting", "scheduled", when, 60, "Europe/Berlin", series_id="s1"),
        )
    return store


async def test_occurrences_of_a_series_in_range_with_is_modified(serve: Any) -> None:
    """meetingSeriesId lists the series' occurrences in [from, to) (default 7 days), isModified too."""
    sandbox, session = await serve(series_with_occurrences())
    occurrences = list(sandbox.state.store.occurrences_of("s1"))
    _, body, _ = await get_json(session, "/v1/meetings", meetingSeriesId="s1")
    assert ids(body["items"]) == occurrences[:1]
    month = {"from": NOW.isoformat(), "to": (NOW + timedelta(days=40)).isoformat()}
    _, body, _ = await get_json(session, "/v1/meetings", meetingSeriesId="s1", **month)
    assert ids(body["items"]) == occurrences
    assert {item["meetingType"] for item in body["items"]} == {"scheduledMeeting"}
    assert {item["hostEmail"] for item in body["items"]} == {ANA.email}
    sandbox.state.store.update(occurrences[2], {"title": "moved", "isModified": True})
    _, body, _ = await get_json(
        session, "/v1/meetings", meetingSeriesId="s1", isModified="true", **month
    )
    assert ids(body["items"]) == [occurrences[2]]
    assert (await get_json(session, "/v1/meetings", meetingSeriesId="nope"))[0] == 404


async def test_scheduled_meetings_of_a_host_and_current_series_times(serve: Any) -> None:
    """meetingType=scheduledMeeting lists occurrences; current=false shows the series' first start."""
    store = series_with_occurrences()
    store.update("s1", {"start": (NOW - timedelta(days=12)).isoformat()})
    store.update("s1", {"end": (NOW - timedelta(days=12) + timedelta(hours=1)).isoformat()})
    _, session = await serve(store)
    month = {"from": NOW.isoformat(), "to": (NOW + timedelta(days=40)).isoformat()}
    _, body, _ = await get_json(
        session, "/v1/meetings", hostEmail=ANA.email, meetingType="scheduledMeeting", **month
    )
    assert len(body["items"]) == 4
    _, body, _ = await get_json(session, "/v1/meetings", hostEmail=ANA.email, **month)
    (current,) = body["items"]
    assert NOW <= datetime.fromisoformat(current["start"]) < NOW + timedelta(days=7)
    _, body, _ = await get_json(
        session, "/v1/meetings", hostEmail=ANA.email, current="false", **month
    )
    assert datetime.fromisoformat(body["items"][0]["start"]) == NOW - timedelta(days=12)


async def test_instances_listing_defaults_to_the_past_week(serve: Any) -> None:
    """meetingType=meeting: from 7 days ago to now by default; an admin sees every host's."""
    ended = Seed("meeting", "ended", NOW - timedelta(days=2), 60, "UTC")
    _, session = await serve(store_of(("i1", ended, BEN), ("a1", single(1), ANA)))
    _, body, _ = await get_json(session, "/v1/meetings", meetingType="meeting")
    assert ids(body["items"]) == ["i1"]
    _, body, _ = await get_json(session, "/v1/meetings", ANA_TOKEN, meetingType="meeting")
    assert ids(body["items"]) == []


# --- people ------------------------------------------------------------------------------------


async def test_people_lists_hosts_and_accounts_in_pages(serve: Any) -> None:
    """An admin lists everyone (hosts, the admin, user tokens' owners), paged with Link."""
    _, session = await serve(mixed_store())
    pages = await every_page(session, "/v1/people", max="2")
    people = [person for page in pages for person in page]
    assert [len(page) for page in pages] == [2, 1]
    assert sorted(person["emails"][0] for person in people) == [
        "admin@example.com",
        ANA.email,
        BEN.email,
    ]
    ana = next(person for person in people if person["emails"] == [ANA.email])
    assert ana["displayName"] == "Ana Silva"
    assert ana["id"].startswith("Y2lzY29zcGFyazovL3VzL1BFT1BMRS")


async def test_people_filters_and_the_user_rule(serve: Any) -> None:
    """email, displayName (prefix) and id filter; a user token must give email or displayName."""
    _, session = await serve(mixed_store())
    _, body, _ = await get_json(session, "/v1/people", email=BEN.email)
    (ben,) = body["items"]
    assert ids((await get_json(session, "/v1/people", displayName="ana"))[1]["items"]) != []
    assert ids((await get_json(session, "/v1/people", id=ben["id"]))[1]["items"]) == [ben["id"]]
    status, body, _ = await get_json(session, "/v1/people", ANA_TOKEN)
    assert status == 400
    assert "email or displayName" in body["message"]
    assert (await get_json(session, "/v1/people", ANA_TOKEN, email=BEN.email))[0] == 200


# --- tokens ------------------------------------------------------------------------------------


async def test_a_user_token_reaches_only_its_own_meetings(serve: Any) -> None:
    """Ana's user token gets and patches her meetings; Ben's answer 404 to her, 200 to the admin."""
    _, session = await serve(mixed_store())
    ana = {"Authorization": f"Bearer {ANA_TOKEN}"}
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with session.get("/v1/meetings/a1", headers=ana) as response:
        assert response.status == 200
    async with session.get("/v1/meetings/b1", headers=ana) as response:
        assert response.status == 404
    async with session.patch("/v1/meetings/b1", json={"title": "x"}, headers=ana) as response:
        assert response.status == 404
    async with session.patch("/v1/meetings/a1", json={"title": "mine"}, headers=ana) as response:
        assert response.status == 200
    async with session.get("/v1/meetings/b1", headers=admin) as response:
        assert response.status == 200
    async with session.get(
        "/v1/meetings/b1", headers=admin, params={"hostEmail": ANA.email}
    ) as response:
        assert response.status == 404  # asked as Ana, whose meeting it is not


async def test_any_token_is_an_admin_without_token_option(fake_clock: FakeClock) -> None:
    """With no --token, any bearer is accepted as the site admin (today's default)."""
    state = new_state(mixed_store())
    async with (
        running_sandbox(state) as sandbox,
        aiohttp.ClientSession(base_url=sandbox.url) as session,
    ):
        for token in ("one", "two"):
            status, body, _ = await get_json(session, "/v1/meetings", token, hostEmail=BEN.email)
            assert (status, ids(body["items"])) == (200, ["b1"])


async def test_the_timezone_header_shows_times_in_that_zone(serve: Any) -> None:
    """Request header "timezone: Time zone for time stamps in response body" on GET and lists."""
    _, session = await serve(mixed_store())
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "timezone": "Asia/Tokyo"}
    async with session.get("/v1/meetings/a1", headers=headers) as reply:
        meeting = await reply.json()
    assert meeting["start"].endswith("+09:00")
    assert datetime.fromisoformat(meeting["start"]) == NOW + timedelta(days=1)
    params = {"hostEmail": ANA.email}
    async with session.get("/v1/meetings", headers=headers, params=params) as reply:
        assert {item["start"][-6:] for item in (await reply.json())["items"]} == {"+09:00"}
    async with session.get(
        "/v1/meetings/a1", headers={**headers, "timezone": "Mars/Base"}
    ) as reply:
        assert reply.status == 400
