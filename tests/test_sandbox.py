"""The sandbox over real HTTP on a loopback port: every rule of the reference it enforces."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from conftest import SANDBOX_TOKEN, FakeClock
from yarl import URL

from bulkpatch.sandbox import (
    RunningSandbox,
    SandboxError,
    check_loopback,
    every_kind_from,
    generate,
    generate_meetings,
    occurrence_id,
    running_sandbox,
    seed_from_ids,
)
from bulkpatch.sandbox.store import MeetingStore, Seed

Json = dict[str, Any]


def find(sandbox: RunningSandbox, wanted: Callable[[Seed], bool]) -> str:
    """The first meeting id whose seed matches."""
    store = sandbox.state.store
    return next(mid for mid, seed in store.seeds.items() if wanted(seed) and mid in store)


def series(sandbox: RunningSandbox, scheduled_type: str = "meeting") -> str:
    return find(
        sandbox,
        lambda s: (
            s.kind == "meetingSeries"
            and s.state == "active"
            and not s.adhoc
            and s.scheduled_type == scheduled_type
        ),
    )


def occurrence(sandbox: RunningSandbox) -> str:
    return find(sandbox, lambda s: s.kind == "scheduledMeeting")


def at(days: float = 2, minutes: float = 0, *, zone: str = "+00:00") -> str:
    moment = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(
        days=days, minutes=minutes
    )
    return moment.isoformat().replace("+00:00", zone)


async def patch(api: aiohttp.ClientSession, meeting_id: str, body: Any) -> tuple[int, Json]:
    async with api.patch(f"/v1/meetings/{meeting_id}", json=body) as response:
        return response.status, await response.json()


async def get(api: aiohttp.ClientSession, meeting_id: str) -> tuple[int, Json]:
    async with api.get(f"/v1/meetings/{meeting_id}") as response:
        return response.status, await response.json()


# --- protocol ----------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic abc", "Bearer "])
async def test_requests_without_the_right_token_get_401(
    sandbox: RunningSandbox, authorization: str | None
) -> None:
    """No token, a wrong one or another scheme: 401 with a Webex error body and a trackingid."""
    headers = {"Authorization": authorization} if authorization else {}
    async with (
        aiohttp.ClientSession(base_url=sandbox.url) as session,
        session.get(f"/v1/meetings/{series(sandbox)}", headers=headers) as response,
    ):
        body = await response.json()
        assert response.status == 401
        assert response.headers["trackingid"] == body["trackingId"]
        assert body["errors"][0]["description"]


async def test_every_response_has_a_unique_tracking_id(
    sandbox: RunningSandbox, api: aiohttp.ClientSession
) -> None:
    """Each answer, success or error, carries its own trackingid header."""
    seen = set()
    for path in (f"/v1/meetings/{series(sandbox)}", "/v1/meetings/nope", "/v1/elsewhere"):
        async with api.get(path) as response:
            seen.add(response.headers["trackingid"])
    assert len(seen) == 3


async def test_get_returns_the_meeting_with_response_properties(
    sandbox: RunningSandbox, api: aiohttp.ClientSession
) -> None:
    """GET answers with the reference's response properties."""
    status, meeting = await get(api, occurrence(sandbox))
    assert status == 200
    for name in (
        "id",
        "meetingNumber",
        "title",
        "start",
        "end",
        "timezone",
        "meetingType",
        "state",
        "scheduledType",
        "hostEmail",
        "webLink",
        "meetingSeriesId",
    ):
        assert name in meeting


#: Response properties the sandbox shows only once a meeting has them (the example sets them).
_SET_ONLY = {"integrationTags", "trackingCodes", "visualWatermarkOpacity", "liveStream"}


async def test_get_has_the_reference_response_shape(
    sandbox: RunningSandbox, api: aiohttp.ClientSession, reference_example: Json
) -> None:
    """GET shows every property of the reference's example response, nested ones included:
    telephony.links, links, simultaneousInterpretation, and registration on a webinar."""
    example = reference_example["response"]
    _, meeting = await get(api, occurrence(sandbox))
    assert set(example) - _SET_ONLY - {"registration"} <= set(meeting)
    assert set(example["telephony"]) == set(meeting["telephony"])
    assert meeting["telephony"]["links"][0]["rel"] == "globalCallinNumbers"
    assert meeting["id"] in meeting["telephony"]["links"][0]["href"]
    assert meeting["links"][0]["rel"] == "breakoutSessions"
    assert (
        meeting["links"][0]["href"] == f"/v1/meetings/{meeting['meetingSeriesId']}/breakoutSessions"
    )
    assert set(meeting["simultaneousInterpretation"]) <= set(example["simultaneousInterpretation"])
    _, webinar = await get(api, series(sandbox, "webinar"))
    assert set(webinar["registration"]) == set(example["registration"])


async def test_an_occurrence_shows_its_series_host_and_settings(
    sandbox: RunningSandbox, api: aiohttp.ClientSession
) -> None:
    """An occurrence is drawn from its series: same host, number and settings, its own times."""
    occurrence_id = occurrence(sandbox)
    _, occ = await get(api, occurrence_id)
    _, parent = await get(api, occ["meetingSeriesId"])
    for name in ("hostEmail", "hostUserId", "meetingNumber", "title", "meetingOptions"):
        assert occ[name] == parent[name], name
    assert "recurrence" in parent
    assert "recurrence" not in occ
    assert occ["isModified"] is False


@pytest.mark.parametrize("path", ["%2E", "%2E%2E", "..%2F..%2F_sandbox%2Fstats", "..%2Fpeople"])
async def test_dot_ids_never_reach_another_path(
    sandbox: RunningSandbox, api: aiohttp.ClientSession, path: str
) -> None:
    """An id of "." or ".." (or one that climbs) is one unknown meeting: 404 in the API's body."""
    async with api.get(URL(f"{sandbox.url}/v1/meetings/{path}", encoded=True)) as response:
        body = await response.json()
    assert response.status == 404
    assert body["message"] == "The requested resource could not be found."


@pytest.mark.parametrize("meeting_id", [".", "..", ""])
def test_the_store_never_holds_a_dot_id(meeting_id: str) -> None:
    """Seeding leaves "." and ".." out; adding one directly is refused."""
    assert meeting_id not in seed_from_ids([meeting_id, "abc"], datetime.now(UTC)).seeds
    store = seed_from_ids([], datetime.now(UTC))
    with pytest.raises(ValueError, match=r"meetingId|path step"):
        store.add(meeting_id, store_seed())


def store_seed() -> Seed:
    return Seed("meetingSeries", "active", datetime.now(UTC) + timedelta(days=1), 30, "UTC")


async def test_wrong_method_is_405_with_allow(
    sandbox: RunningSandbox, api: aiohttp.ClientSession
) -> None:
    """A method the resource does not support: 405, an Allow header, the reference's words."""
    async with api.delete(f"/v1/meetings/{series(sandbox)}") as response:
        body = await response.json()
        assert response.status == 405
        assert {"GET", "PATCH"} <= set(response.headers["Allow"].split(","))
    assert body["message"].startswith(
        "The request was made to a resource using an HTTP request method"
    )


async def test_unknown_meeting_is_404(api: aiohttp.ClientSession) -> None:
    """GET and PATCH of an id that does not exist answer 404."""
    assert (await get(api, "0" * 32))[0] == 404
    assert (await patch(api, "0" * 32, {"title": "x"}))[0] == 404


async def test_non_json_body_is_400_and_wrong_type_is_415(
    sandbox: RunningSandbox, api: aiohttp.ClientSession
) -> None:
    """A body that is not JSON is 400; a Content-Type other than JSON is 415."""
    url = f"/v1/meetings/{series(sandbox)}"
    async with api.patch(
        url, data=b"{not json", headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
    async with api.patch(
        url, data=b"title=x", headers={"Content-Type": "application/x-www-form-urlencoded"}
    ) as response:
        assert response.status == 415
    assert (await patch(api, series(sandbox), ["title"]))[0] == 400


@pytest.mark.parametrize("depth", [40, 600, 5_000])
async def test_a_body_nested_absurdly_deep_is_400(
    sandbox: RunningSandbox, api: aiohttp.ClientSession, depth: int
) -> None:
    """A PATCH body nested past any real object is refused as bad JSON, never a 500."""
    body = '{"agenda": ' + "[" * depth + "]" * depth + "}"
    async with api.patch(
        f"/v1/meetings/{series(sandbox)}",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 400


# --- PATCH semantics ---------------------------------------------------------------------------


async def test_patch_merges_and_returns_the_whole_meeting(
    sandbox: RunningSandbox, api: aiohttp.ClientSession
) -> None:
    """Only the given fields change; nested objects merge member by member; GET agrees."""
    meeting_id = series(sandbox)
    _, before = await get(api, meeting_id)
    status, after = await patch(
        api, meeting_id, {"title": "Lobby on", "meetingOptions": {"enabledChat": False}}
    )
    assert status == 200
    assert after["title"] == "Lobby on"
    assert after["meetingOptions"] == {**before["meetingOptions"], "enabledChat": False}
    assert {k: v for k, v in after.items() if k not in {"title", "meetingOptions"}} == {
        k: v for k, v in before.items() if k not in {"title", "meetingOptions"}
    }
    assert (await get(api, meeting_id))[1] == after


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("agenda", None),
        ("recurrence", None),
        ("trackingCodes", None),
        ("integrationTags", None),
        ("integrationTags", []),
    ],
)
async def test_null_removes_the_attribute(
    sandbox: RunningSandbox, api: aiohttp.ClientSession, field: str, value: Any
) -> None:
    """null (and an empty integrationTags) removes the attribute from the response."""
    meeting_id = series(sandbox)
    await patch(
        api,
        meeting_id,
        {
            field: ["a"]
            if field == "integrationTags"
            else (
                [{"name": "D", "value": "S"}] if field == "trackingCodes" else "FREQ=DAILY;COUNT=3"
            )
        },
    )
    status, meeting = await patch(api, meeting_id, {field: value})
    assert status == 200
    assert field not in meeting


async def test_times_are_kept_to_the_minute(
    sandbox: RunningSandbox, api: aiohttp.ClientSession
) -> None:
    """Seconds are dropped; a start within the current minute moves to the next minute."""
    now = datetime(2030, 3, 1, 10, 32, 16, tzinfo=UTC)
    sandbox.state.now = lambda: now
    meeting_id = occurrence(sandbox)
    _, meeting = await patch(
        api,
        meeting_id,
        {"start": "2030-03-01T11:32:41Z", "end": "2030-03-01T12:52:28.076Z", "timezone": "UTC"},
    )
    assert (meeting["start"], meeting["end"]) == (
        "2030-03-01T11:32:00+00:00",
        "2030-03-01T12:52:00+00:00",
    )
    _, meeting = await patch(
        api, meeting_id, {"start": "2030-03-01T10:32:41Z", "end": "2030-03-01T11:00:00Z"}
    )
    assert meeting["start"] == "2030-03-01T10:33:00+00:00"


async def test_local_times_are_read_in_the_meetings_zone(
    sandbox: RunningSandbox, api: aiohttp.ClientSession
) -> None:
    """A start without offset means the meeting's own time zone."""
    meeting_id = occurrence(sandbox)
    zone = sandbox.state.store.seeds[meeting_id].timezone
    day = (datetime.now(UTC) + timedelta(days=5)).date()
    _, meeting = await patch(
        api, meeting_id, {"start": f"{day}T09:00:00", "end": f"{day}T10:00:00"}
    )
    assert meeting["timezone"] == zone
    assert meeting["start"].startswith(f"{day}T09:00:00")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"start": at(-1), "end": at(1)}, "in the past"),
        ({"start": at(2, 60), "end": at(2)}, "before end"),
        ({"start": at(2), "end": at(2, 5)}, "10 minutes"),
        ({"start": at(2), "end": at(3, 1)}, "23 h 59 min"),
        ({"start": at(3660), "end": at(3660, 60)}, "10 years"),
        ({"title": "t" * 129}, "at most 128"),
        ({"visualWatermarkOpacity": 90}, "at most 80"),
        ({"joinBeforeHostMinutes": 30}, "for a meeting"),
        ({"meetingOptions": {"enabledPolling": True}}, "webinar"),
        ({"webLink": "https://elsewhere"}, "cannot be changed"),
        ({"recurrence": "FREQ=SOMETIMES"}, "RRULE"),
        ({"titel": "x"}, "did you mean title"),
    ],
)
async def test_invalid_patches_are_400_with_the_reason(
    sandbox: RunningSandbox, api: aiohttp.ClientSession, body: Json, reason: str
) -> None:
    """The sandbox never trusts the client: every rule answers 400 with its reason, nothing applied."""
    meeting_id = series(sandbox)
    _, before = await get(api, meeting_id)
    status, error = await patch(api, meeting_id, body)
    assert status == 400
    assert reason in " ".join(e["description"] for e in error["errors"])
    assert error["trackingId"].startswith("SANDBOX_")
    assert (await get(api, meeting_id))[1] == before


async def test_half_reschedule_is_checked_against_the_other_end(
    sandbox: RunningSandbox, api: aiohttp.ClientSession
) -> None:
    """A new end alone must still fit the meeting's current start."""
    meeting_id = occurrence(sandbox)
    _, meeting = await get(api, meeting_id)
    start = datetime.fromisoformat(meeting["start"])
    status, _ = await patch(api, meeting_id, {"end": (start + timedelta(hours=30)).isoformat()})
    assert status == 400
    status, moved = await patch(
        api, meeting_id, {"end": (start + timedelta(minutes=90)).isoformat()}
    )
    assert status == 200
    assert datetime.fromisoformat(moved["end"]) - datetime.fromisoformat(
        moved["start"]
    ) == timedelta(minutes=90)


async def test_join_before_host_minutes_follow_the_meeting_type(
    sandbox: RunningSandbox, api: aiohttp.ClientSession
) -> None:
    """30/45/60 only for webinars, 5/10 only for meetings."""
    webinar = series(sandbox, "webinar")
    assert (await patch(api, webinar, {"joinBeforeHostMinutes": 45}))[0] == 200
    assert (await patch(api, webinar, {"joinBeforeHostMinutes": 5}))[0] == 400
    assert (await patch(api, series(sandbox), {"joinBeforeHostMinutes": 5}))[0] == 200


@pytest.mark.parametrize(
    ("wanted", "reason"),
    [
        (lambda s: s.kind == "meeting" and s.state == "ended", "ended or in-progress meeting"),
        (
            lambda s: s.kind == "meeting" and s.state == "inProgress",
            "in-progress meeting instances",
        ),
        (lambda s: s.adhoc, "Ad-hoc meetings"),
    ],
    ids=["ended instance", "in-progress instance", "ad hoc"],
)
async def test_meetings_that_cannot_change_are_refused(
    sandbox: RunningSandbox, api: aiohttp.ClientSession, wanted: Callable[[Seed], bool], reason: str
) -> None:
    """Ended and in-progress instances and ad-hoc meetings answer 400 with the API's reason:
    "It doesn't apply to ended or in-progress meeting instances. Ad-hoc meetings ... cannot be
    updated." """
    status, error = await patch(api, find(sandbox, wanted), {"title": "x"})
    assert status == 400
    assert reason in error["message"]


async def test_occurrence_refuses_integration_tags(
    sandbox: RunningSandbox, api: aiohttp.ClientSession
) -> None:
    """Tags (even deleting them) belong to the series, not to one occurrence."""
    for tags in (["JIRA-1"], None, []):
        assert (await patch(api, occurrence(sandbox), {"integrationTags": tags}))[0] == 400


async def test_series_reschedule_cancels_exceptional_occurrences(
    sandbox: RunningSandbox, api: aiohttp.ClientSession
) -> None:
    """Moving a series cancels the occurrence edited on its own; the others move with the series:
    "any exceptional scheduled meeting in this series is cancelled when the meeting series is
    updated", and an occurrence's id names its new slot."""
    store = sandbox.state.store
    edited = occurrence(sandbox)
    series_id = store.seeds[edited].series_id
    assert series_id is not None
    assert (await patch(api, edited, {"title": "special"}))[0] == 200
    _, meeting = await get(api, series_id)
    start = datetime.fromisoformat(meeting["start"]) + timedelta(hours=1)
    body = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
    assert (await patch(api, series_id, body))[0] == 200
    assert (await get(api, edited))[0] == 404
    moved = list(store.occurrences_of(series_id))
    assert moved == [occurrence_id(series_id, start + timedelta(weeks=n)) for n in range(4)]
    for occ in moved:
        status, shown = await get(api, occ)
        assert (status, shown["title"], shown["isModified"]) == (200, meeting["title"], False)
    async with api.get("/_sandbox/stats") as response:
        assert (await response.json())["cancelledOccurrences"] == 1


async def test_reference_example_answers_like_the_reference(
    sandbox: RunningSandbox, api: aiohttp.ClientSession, reference_example: Json
) -> None:
    """The reference's example request, sent to an occurrence (dates moved to next month, tags left
    out as the reference forbids them there, hostEmail the occurrence's real host as the reference
    requires), answers with the example response's values; sendEmail is not stored."""
    occurrence_id = occurrence(sandbox)
    request = dict(reference_example["request"])
    del request["integrationTags"]
    day = (datetime.now(UTC) + timedelta(days=30)).date()
    request["start"] = f"{day}T20:30:00+08:00"
    request["end"] = f"{day}T21:30:00+08:00"
    request["hostEmail"] = sandbox.state.store.host_of(occurrence_id).email
    status, meeting = await patch(api, occurrence_id, request)
    assert status == 200, meeting
    expected = {**reference_example["response"], "start": request["start"], "end": request["end"]}
    for name in set(request) - {"sendEmail", "hostEmail"}:
        assert meeting[name] == expected[name], name
    assert meeting["isModified"] is True
    assert "sendEmail" not in meeting
    assert meeting["hostEmail"] == request["hostEmail"]


# --- rate limit, faults, stats -----------------------------------------------------------------


async def test_rate_limit_answers_429_with_retry_after(
    sandbox: RunningSandbox, api: aiohttp.ClientSession, fake_clock: FakeClock
) -> None:
    """Beyond the burst, 429 with Retry-After; requests before the deadline are violations."""
    limits = sandbox.state.limits
    limits.rate, limits.burst = 2.0, 3
    meeting_id = series(sandbox)
    statuses = [(await get(api, meeting_id))[0] for _ in range(3)]
    async with api.get(f"/v1/meetings/{meeting_id}") as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "1"
    assert statuses == [200, 200, 200]
    fake_clock.advance(0.5)
    assert (await get(api, meeting_id))[0] == 429  # too early: a violation
    fake_clock.advance(0.6)
    assert (await get(api, meeting_id))[0] == 200
    async with api.get("/_sandbox/stats") as response:
        stats = await response.json()
    assert stats["throttled"] == 2
    assert stats["retryAfterViolations"] == 1
    assert SANDBOX_TOKEN not in str(stats)


async def test_rate_limits_are_per_token(sandbox: RunningSandbox, fake_clock: FakeClock) -> None:
    """One token's 429 does not hold back another token."""
    sandbox.state.token = None
    sandbox.state.limits.rate, sandbox.state.limits.burst = 1.0, 1
    url = f"/v1/meetings/{series(sandbox)}"
    async with aiohttp.ClientSession(base_url=sandbox.url) as session:
        for token, expected in (("a", 200), ("a", 429), ("b", 200)):
            async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
                assert response.status == expected


async def test_faults_answer_errors_and_apply_nothing(
    sandbox: RunningSandbox, api: aiohttp.ClientSession
) -> None:
    """With every request faulted, PATCH answers 5xx or drops the connection, and nothing changes."""
    sandbox.state.faults.fault_rate = 1.0
    meeting_id = series(sandbox)
    outcomes: set[int | str] = set()
    for _ in range(30):
        try:
            outcomes.add((await patch(api, meeting_id, {"title": "never"}))[0])
        except aiohttp.ServerDisconnectedError:
            outcomes.add("dropped")
    assert outcomes <= {500, 502, 503, 504, "dropped"}
    assert len(outcomes) >= 3
    sandbox.state.faults.fault_rate = 0.0
    assert (await get(api, meeting_id))[1]["title"] != "never"
    assert sandbox.state.stats.patches_applied[meeting_id] == 0


async def test_locked_answers_423_with_retry_after(
    sandbox: RunningSandbox, api: aiohttp.ClientSession
) -> None:
    """--locked-rate answers 423 Locked with a Retry-After."""
    sandbox.state.faults.locked_rate = 1.0
    async with api.patch(f"/v1/meetings/{series(sandbox)}", json={"title": "x"}) as response:
        assert response.status == 423
        assert int(response.headers["Retry-After"]) >= 1


async def test_stats_count_requests_and_patches(
    sandbox: RunningSandbox, api: aiohttp.ClientSession
) -> None:
    """Stats give requests by method and status, PATCHes per meeting and peak concurrency."""
    meeting_id = series(sandbox)
    await patch(api, meeting_id, {"title": "one"})
    await patch(api, meeting_id, {"title": "two"})
    await get(api, "missing")
    async with api.get("/_sandbox/stats") as response:
        stats = await response.json()
    assert stats["requests"] == {"PATCH 200": 2, "GET 404": 1}
    assert stats["patchesPerMeeting"] == {meeting_id: 2}
    assert stats["meetingsPatchedMoreThanOnce"] == 1
    assert stats["maxConcurrentRequests"] >= 1
    async with api.get("/_sandbox/stats", params={"timeline": "1"}) as response:
        timeline = (await response.json())["timeline"]
    assert sum(requests for _, requests, _ in timeline) == 3
    assert sum(throttled for _, _, throttled in timeline) == 0


async def test_busy_seconds_run_from_the_first_request_to_the_last_answer(
    sandbox: RunningSandbox, api: aiohttp.ClientSession
) -> None:
    """busySeconds is 0 before any API request and spans the answers' latency after."""
    async with api.get("/_sandbox/stats") as response:
        assert (await response.json())["busySeconds"] == 0
    sandbox.state.faults.latency_ms = (50.0, 50.0)
    await patch(api, series(sandbox), {"title": "one"})
    await patch(api, series(sandbox), {"title": "two"})
    async with api.get("/_sandbox/stats") as response:
        assert (await response.json())["busySeconds"] >= 0.1


# --- store and start-up ------------------------------------------------------------------------


def test_generation_is_deterministic() -> None:
    """The same --random-seed gives the same meetings."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    first, second = generate(30, 5, now), generate(30, 5, now)
    assert list(first.seeds) == list(second.seeds)
    assert [first.get(mid) for mid in first.seeds] == [second.get(mid) for mid in second.seeds]
    assert {seed.kind for seed in first.seeds.values()} == {
        "meetingSeries",
        "scheduledMeeting",
        "meeting",
    }


def test_generated_times_are_whole_minutes() -> None:
    """Every generated meeting starts and ends on a whole minute, as the API keeps times (the
    ended and in-progress ones, drawn back from now, kept its seconds)."""
    now = datetime(2030, 1, 1, 9, 41, 27, 123456, tzinfo=UTC)
    store = generate(40, 5, now, extras=True)
    for meeting_id in store.order:
        meeting = store.get(meeting_id)
        assert meeting is not None
        for name in ("start", "end"):
            moment = datetime.fromisoformat(meeting[name])
            assert (moment.second, moment.microsecond) == (0, 0), (meeting_id, meeting[name])


@pytest.mark.parametrize("hosts", [None, 1, 7])
def test_generating_n_meetings_makes_n_meetings(hosts: int | None) -> None:
    """--meetings N is N meetings in all, occurrences and instances counted, whatever N and hosts."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    for total in range(120):
        assert len(generate_meetings(total, 5, now, hosts=hosts)) == total


def _rare_kinds(store: MeetingStore, now: datetime) -> set[str]:
    seeds = store.seeds.values()
    return {
        kind
        for kind, present in (
            ("ended", any(seed.state == "ended" for seed in seeds)),
            ("in progress", any(seed.state == "inProgress" for seed in seeds)),
            ("ad hoc", any(seed.adhoc for seed in seeds)),
            ("room", any(seed.scheduled_type == "personalRoomMeeting" for seed in seeds)),
            ("far", any(seed.start > now + timedelta(days=3650) for seed in seeds)),
        )
        if present
    }


@pytest.mark.parametrize("hosts", [None, 9])
def test_every_kind_of_meeting_is_generated_from_the_minimum_the_help_names(
    hosts: int | None,
) -> None:
    """From every_kind_from(hosts) meetings on, every rare kind is there; one fewer lacks some."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    fewest = every_kind_from(hosts or 4)
    assert fewest == every_kind_from(0) + 2 * (hosts or 4)  # a personal room is two meetings
    every = {"ended", "in progress", "ad hoc", "room", "far"}
    assert _rare_kinds(generate_meetings(fewest, 5, now, hosts=hosts), now) == every
    assert _rare_kinds(generate_meetings(fewest - 1, 5, now, hosts=hosts), now) < every


def test_generated_meetings_are_the_series_generate_draws() -> None:
    """N meetings are generate()'s series and extras, in order: 101 are exactly its 40 series of
    4 hosts with their occurrences, so a site described by its series stays the same site."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    by_total, by_series = generate_meetings(101, 5, now), generate(40, 5, now, extras=True)
    assert list(by_total.seeds.items()) == list(by_series.seeds.items())
    assert by_total.registrants == by_series.registrants
    cut = generate_meetings(17, 5, now)  # 6 series make 14; the 7th recurs, cut to 2 occurrences
    assert list(cut.seeds)[:14] == list(generate(6, 5, now).seeds)
    assert [seed.kind for seed in list(cut.seeds.values())[14:]] == ["meetingSeries"] + [
        "scheduledMeeting"
    ] * 2


def test_seeding_leaves_out_an_occurrence_on_a_day_that_does_not_exist() -> None:
    """An occurrence id stamped 30 February names no meeting the API could have: it is left
    out (404), not a crash of the sandbox seeded from that job."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    impossible = "1d824a4a205042eba9574e00b711b226_20270230T100000Z"
    store = seed_from_ids(["abc", impossible], now)
    assert set(store.seeds) == {"abc"}


def test_seeding_makes_every_job_id_patchable() -> None:
    """Every id of a job exists: plain ids as series, occurrence ids with their series."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    occ = "1d824a4a205042eba9574e00b711b226_20200127T120000Z"
    store = seed_from_ids(["abc", occ, "abc"], now)
    assert set(store.seeds) == {"abc", occ, "1d824a4a205042eba9574e00b711b226"}
    assert store.get(occ)["state"] == "scheduled"  # type: ignore[index]  # the id was seeded just above
    assert datetime.fromisoformat(store.get(occ)["start"]) > now  # type: ignore[index]  # as above


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "example.com", "192.168.1.5"])
def test_sandbox_refuses_anything_but_loopback(host: str) -> None:
    """The sandbox binds loopback only."""
    with pytest.raises(SandboxError, match="loopback only"):
        check_loopback(host)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.5.5.5"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    """Every loopback form is fine."""
    check_loopback(host)


async def test_busy_port_is_a_clear_error(sandbox: RunningSandbox) -> None:
    """A port already in use is a SandboxError, not an OSError traceback."""
    port = int(sandbox.url.rsplit(":", 1)[1])
    with pytest.raises(SandboxError, match="cannot listen"):
        async with running_sandbox(sandbox.state, port=port):
            pass


async def test_tokens_expire_and_refresh(sandbox: RunningSandbox, fake_clock: FakeClock) -> None:
    """With a TTL a token answers 401 once expired; the refresh token buys a new one."""
    from bulkpatch.sandbox.traffic import TokenIssuer

    sandbox.state.tokens = TokenIssuer(SANDBOX_TOKEN, "refresh-me", 2.0, fake_clock)
    url = f"/v1/meetings/{series(sandbox)}"
    async with aiohttp.ClientSession(base_url=sandbox.url) as session:
        bearer = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
        async with session.get(url, headers=bearer) as response:
            assert response.status == 200
        fake_clock.advance(2.5)
        async with session.get(url, headers=bearer) as response:
            assert response.status == 401
            assert "expired" in (await response.json())["message"]
        form = {
            "grant_type": "refresh_token",
            "refresh_token": "wrong",
            "client_id": "c",
            "client_secret": "s",
        }
        async with session.post("/v1/access_token", data=form) as response:
            assert response.status == 400
        async with session.post(
            "/v1/access_token", data={**form, "refresh_token": "refresh-me"}
        ) as response:
            grant = await response.json()
            assert (response.status, grant["expires_in"], grant["refresh_token"]) == (
                200,
                2.0,
                "refresh-me",
            )
        async with session.get(
            url, headers={"Authorization": f"Bearer {grant['access_token']}"}
        ) as response:
            assert response.status == 200
        async with session.get("/_sandbox/stats") as response:
            stats = await response.json()
    assert (stats["tokenRefreshes"], stats["expiredTokensSeen"]) == (1, 1)
    assert SANDBOX_TOKEN not in str(stats)
    assert grant["access_token"] not in str(stats)


async def test_inspection_route_bypasses_auth_limits_and_faults(
    sandbox: RunningSandbox, api: aiohttp.ClientSession
) -> None:
    """GET /_sandbox/meetings/{id} shows the stored meeting to checks, whatever the faults."""
    meeting_id = series(sandbox)
    await patch(api, meeting_id, {"title": "checked"})
    sandbox.state.faults.fault_rate = 1.0
    sandbox.state.limits.rate, sandbox.state.limits.burst = 0.001, 1
    async with aiohttp.ClientSession(base_url=sandbox.url) as bare:
        for _ in range(5):
            async with bare.get(f"/_sandbox/meetings/{meeting_id}") as response:
                assert response.status == 200
                assert (await response.json())["title"] == "checked"
        async with bare.get("/_sandbox/meetings/unknown") as response:
            assert response.status == 404
    assert "GET 200" not in sandbox.state.stats.requests
