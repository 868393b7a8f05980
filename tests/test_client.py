"""The HTTP client's narrow cases, with aioresponses: answers, Retry-After, URLs, errors."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import ClientResponse
from aioresponses import aioresponses
from yarl import URL

from bulkpatch.client import MeetingsClient, Request, meeting_path, parse_retry_after
from bulkpatch.config import check_base_url
from bulkpatch.errors import ConfigError, TransportError
from bulkpatch.model import MASK


class CompatResponse(ClientResponse):
    """aioresponses 0.7.9 predates aiohttp 3.14's required ``stream_writer`` argument
    (pnuckowski/aioresponses#289); aiohttp 3.14 is a security release, so the shim lives here."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


BASE = "https://webexapis.example/v1"
TOKEN = "client-test-token"
ANY_MEETING = re.compile(r"^https://webexapis\.example/v1/meetings/.*$")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("194", 194.0),
        (" 7 ", 7.0),
        ("Wed, 25 Nov 2026 12:00:30 GMT", 30.0),
        ("Wed, 25 Nov 2026 11:59:00 GMT", 0.0),
        ("rand(30),add(30)", None),
        ("soon", None),
        ("-5", None),
        ("nan", None),
        ("inf", None),
        ("86400", 86_400.0),
        ("1e12", 315_360_000.0),  # capped at ten years: still "too long", never an overflow
        ("Fri, 31 Dec 9999 23:59:59 GMT", 315_360_000.0),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_values(value: str | None, expected: float | None) -> None:
    """Whole and decimal seconds and HTTP dates parse; anything else is None, never an error."""
    now = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after(value, now) == expected


@pytest.mark.parametrize(
    ("meeting_id", "path"),
    [
        ("abc123", "/v1/meetings/abc123"),
        ("../people/me", "/v1/meetings/..%2Fpeople%2Fme"),
        ("a?b#c", "/v1/meetings/a%3Fb%23c"),
        ("x y", "/v1/meetings/x%20y"),
    ],
)
def test_meeting_id_is_one_path_segment(meeting_id: str, path: str) -> None:
    """Every id is percent-encoded into exactly one segment under /meetings/."""
    url = URL(f"{BASE}/{meeting_path(meeting_id)}", encoded=True)
    assert url.raw_path == path
    assert url.host == "webexapis.example"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://webexapis.com/v1", "must use https"),
        ("ftp://x/v1", "must be an https"),
        ("webexapis.com/v1", "must be an https"),
        ("http://10.0.0.5/v1", "must use https"),
        ("http://127.0.0.1:8765/v1?x=1#f", "query"),
        ("https://webexapis.com/v1#frag", "fragment"),
        ("https://webexapis.com/v1?", "query"),
        ("https://user:pass@webexapis.com/v1", "user name or password"),
        ("https://webexapis.com:99999/v1", "port"),
        ("https://webexapis.com:0/v1", "port"),
    ],
)
def test_base_url_that_would_steer_requests_is_refused(url: str, problem: str) -> None:
    """Plain http only for loopback; a query, fragment, user info or bad port is a config error."""
    with pytest.raises(ConfigError, match=problem):
        check_base_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://webexapis.com/v1/",
        "http://127.0.0.1:8765/v1",
        "http://localhost/v1",
        "http://[::1]:9/v1",
    ],
)
def test_allowed_base_urls(url: str) -> None:
    """https anywhere, http on loopback; a trailing slash is dropped."""
    assert not check_base_url(url).endswith("/")


async def test_success_returns_status_and_tracking_id() -> None:
    """A 2xx answer gives the status and the trackingid header, with the token sent as Bearer."""
    with aioresponses() as mocked:
        mocked.patch(
            ANY_MEETING,
            status=200,
            payload={"id": "m"},
            headers={"trackingid": "T-1"},
            response_class=CompatResponse,
        )
        async with MeetingsClient(BASE, TOKEN, concurrency=2) as client:
            reply = await client.patch("m", {"title": "x"})
        (request,) = next(iter(mocked.requests.values()))
        assert request.kwargs["headers"]["Authorization"] == f"Bearer {TOKEN}"
        assert request.kwargs["allow_redirects"] is False
        assert json.loads(request.kwargs["data"]) == {"title": "x"}
    assert (reply.ok, reply.status, reply.tracking_id) == (True, 200, "T-1")


async def test_a_token_in_an_answers_values_is_masked_however_it_is_escaped() -> None:
    """The token quoted in a meeting's strings (or keys), even spelt with JSON escapes, is
    masked before the payload reaches anyone; an answer nested absurdly deep is not read."""
    escaped = "".join(f"\\u{ord(char):04x}" for char in TOKEN)
    text = f'{{"id": "m", "title": "t {escaped}", "{TOKEN}": ["{TOKEN}"], "n": 1}}'
    with aioresponses() as mocked:
        mocked.get(ANY_MEETING, status=200, body=text, response_class=CompatResponse)
        mocked.get(ANY_MEETING, status=200, body="[" * 40 + "]" * 40, response_class=CompatResponse)
        async with MeetingsClient(BASE, TOKEN, concurrency=1) as client:
            quoted = await client.send(Request("GET", "meetings/m"))
            deep = await client.send(Request("GET", "meetings/m"))
    assert quoted.payload == {"id": "m", "title": f"t {MASK}", MASK: [MASK], "n": 1}
    assert deep.payload is None


async def test_error_body_becomes_the_message() -> None:
    """The Webex error body's message and descriptions become the row's error."""
    body = {
        "message": "Invalid start",
        "errors": [{"description": "start cannot be in the past"}],
        "trackingId": "T-2",
    }
    with aioresponses() as mocked:
        mocked.patch(
            ANY_MEETING,
            status=400,
            payload=body,
            headers={"trackingid": "T-2"},
            response_class=CompatResponse,
        )
        async with MeetingsClient(BASE, TOKEN, concurrency=1) as client:
            reply = await client.patch("m", {})
    assert reply.message == "Invalid start; start cannot be in the past"
    assert (reply.ok, reply.tracking_id) == (False, "T-2")


async def test_429_carries_its_retry_after() -> None:
    """Retry-After is read on error answers, raw text kept for the log."""
    with aioresponses() as mocked:
        mocked.patch(
            ANY_MEETING,
            status=429,
            body="",
            headers={"Retry-After": "rand(30),add(30)"},
            response_class=CompatResponse,
        )
        mocked.patch(
            ANY_MEETING,
            status=423,
            body="",
            headers={"Retry-After": "2"},
            response_class=CompatResponse,
        )
        async with MeetingsClient(BASE, TOKEN, concurrency=1) as client:
            throttled = await client.patch("m", {})
            locked = await client.patch("m", {})
    assert (throttled.status, throttled.retry_after, throttled.retry_after_raw) == (
        429,
        None,
        "rand(30),add(30)",
    )
    assert (locked.status, locked.retry_after) == (423, 2.0)
    assert throttled.message == "Too Many Requests"


@pytest.mark.parametrize("error", [TimeoutError(), ConnectionResetError("reset")])
async def test_no_answer_is_a_transport_error(error: Exception) -> None:
    """Timeouts and connection failures become TransportError; no aiohttp exception escapes."""
    import aiohttp

    raised = (
        aiohttp.ClientConnectionError("boom") if isinstance(error, ConnectionResetError) else error
    )
    with aioresponses() as mocked:
        mocked.patch(ANY_MEETING, exception=raised)
        async with MeetingsClient(BASE, TOKEN, concurrency=1) as client:
            with pytest.raises(TransportError) as caught:
                await client.patch("m", {})
    assert caught.value.__cause__ is None
    assert TOKEN not in str(caught.value)


def test_repr_never_shows_the_token() -> None:
    """The client's repr (which lands in tracebacks) has no token."""
    assert TOKEN not in repr(MeetingsClient(BASE, TOKEN, concurrency=1))
