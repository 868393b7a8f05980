"""The sandbox's HTTP face: aiohttp.web routes, the request gate, and start/stop on loopback."""

from __future__ import annotations

import asyncio
import ipaddress
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from bulkpatch.model import too_deep
from bulkpatch.model.site import SiteProfile
from bulkpatch.sandbox import sitedata
from bulkpatch.sandbox.accounts import ADMIN, Identity, identify, org_id
from bulkpatch.sandbox.listing import (
    Page,
    current_of,
    in_zone,
    list_meetings,
    list_people,
    page_of,
    person_json,
)
from bulkpatch.sandbox.patching import apply_patch
from bulkpatch.sandbox.refusal import STATUS_WORDS, Refusal, not_found
from bulkpatch.sandbox.registrants import register
from bulkpatch.sandbox.store import MeetingStore
from bulkpatch.sandbox.traffic import Faults, RateLimits, Stats, TokenIssuer, fingerprint

API_PREFIX = "/v1"


class SandboxError(Exception):
    """The sandbox cannot start as asked (a non-loopback host, a port in use)."""


@dataclass
class SandboxState:
    """Everything a running sandbox holds; tests change ``faults`` and read ``stats`` directly."""

    store: MeetingStore
    limits: RateLimits
    faults: Faults = field(default_factory=Faults)
    stats: Stats = field(default_factory=Stats)
    token: str | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    tokens: TokenIssuer | None = None
    on_request: Callable[[str, str, int, str], None] | None = None
    users: dict[str, str] = field(default_factory=dict)
    site: SiteProfile | None = None

    def identity(self, token: str | None) -> Identity:
        """Who a token is: a user bound to one host (``users``), else the site admin."""
        if (token or "") not in self.users:
            return Identity(ADMIN, admin=True)
        admins = self.site.admins if self.site is not None else ()
        return identify(token, self.users, admins, self.store.people())

    @property
    def org_id(self) -> str:
        """The organisation everyone here is in: one per admin token (see accounts.org_id)."""
        return org_id(self.token)


STATE = web.AppKey("state", SandboxState)


def error_response(
    status: int,
    message: str,
    tracking_id: str,
    reasons: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A Webex-shaped error body."""
    body = {
        "message": message,
        "errors": [{"description": reason} for reason in reasons or [message]],
        "trackingId": tracking_id,
    }
    return web.json_response(body, status=status, headers=headers)


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@web.middleware
async def _gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tracking id, stats, auth, rate limit, latency and faults, in the order the API applies them."""
    state = request.app[STATE]
    if request.path.startswith("/_sandbox/"):
        return await handler(request)  # the emulator's own controls: not API traffic, not counted
    tracking_id = f"SANDBOX_{uuid.uuid4()}"
    state.stats.enter()
    try:
        response = await _admit(request, state, tracking_id) or await handler(request)
    except Refusal as refused:
        response = error_response(refused.status, refused.message, tracking_id, refused.reasons)
    except web.HTTPException as exc:  # the router's own 404 and 405 (with its Allow header)
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        message = STATUS_WORDS.get(exc.status, exc.reason)
        response = error_response(exc.status, message, tracking_id, headers=allow)
    finally:
        state.stats.leave()
    response.headers["trackingid"] = tracking_id
    state.stats.count(request.method, response.status)
    if state.on_request is not None:
        state.on_request(request.method, request.path, response.status, tracking_id)
    return response


async def _admit(
    request: web.Request, state: SandboxState, tracking_id: str
) -> web.StreamResponse | None:
    if request.path == f"{API_PREFIX}/access_token":
        return None  # authenticated by its refresh token, not by a bearer
    token = _bearer(request)
    if state.tokens is not None and token is not None and state.tokens.expired(token):
        state.stats.expired_tokens.add(fingerprint(token))
        return error_response(401, "The access token has expired.", tracking_id)
    if token is None or not _accepted(state, token):
        return error_response(
            401,
            "The request requires a valid access token set in the Authorization request header.",
            tracking_id,
        )
    throttle = state.limits.admit(token, id(request.transport), request.method)
    if throttle is not None:
        state.stats.throttled += 1
        state.stats.throttled_by_limit[throttle.limit] += 1
        if throttle.violation:
            state.stats.violation(token, throttle)
        headers = {"Retry-After": str(throttle.retry_after)}
        return error_response(
            429,
            "Too many requests have been sent in a given amount of time.",
            tracking_id,
            headers=headers,
        )
    delay = state.faults.latency()
    if delay:
        await asyncio.sleep(delay)  # the emulated server's own processing time, not a test wait
    fault = state.faults.draw()
    if fault is None:
        return None
    if fault.kind == "drop" and request.transport is not None:
        request.transport.close()
        return web.Response(status=499)  # never reaches the client; counted as a drop
    if fault.kind == "locked":
        headers = {"Retry-After": str(state.faults.locked_retry_after)}
        return error_response(
            423,
            "The meeting is being updated by another request; try again later.",
            tracking_id,
            headers=headers,
        )
    return error_response(
        fault.status, "The server met a temporary problem; try again later.", tracking_id
    )


def _accepted(state: SandboxState, token: str) -> bool:
    if token in state.users:
        return True
    if state.tokens is not None:
        valid = state.tokens.valid(token)
        if valid:
            state.tokens.spend(token)
        return valid
    return state.token is None or token == state.token


async def _access_token(request: web.Request) -> web.Response:
    """POST /v1/access_token: trade the refresh token for a new access token (OAuth2 form)."""
    state = request.app[STATE]
    form = await request.post()
    if state.tokens is None or form.get("grant_type") != "refresh_token":
        raise Refusal(400, "Only grant_type=refresh_token is supported here.")
    grant = state.tokens.refresh(str(form.get("refresh_token", "")))
    if grant is None:
        raise Refusal(400, "The refresh token is not valid.")
    state.stats.refreshes += 1
    return web.json_response(grant)


def _viewer(request: web.Request) -> Identity:
    return request.app[STATE].identity(_bearer(request))


async def _get_meeting(request: web.Request) -> web.Response:
    """GET /v1/meetings/{meetingId}: ``hostEmail`` (admins) and ``current`` as the API has them."""
    state = request.app[STATE]
    meeting_id = request.match_info["meetingId"]
    meeting = state.store.get(meeting_id)
    viewer = _viewer(request)
    host = state.store.host_of(meeting_id).email if meeting is not None else ""
    on_behalf = request.query.get("hostEmail")
    if meeting is None or not viewer.may_see(host):
        raise not_found()
    if viewer.admin and on_behalf and on_behalf.lower() != host.lower():
        raise not_found()  # the admin asked as that host, whose meeting this is not
    if request.query.get("current", "false").lower() == "true":
        meeting = current_of(state.store, meeting_id, meeting, state.now())
    return web.json_response(_in_asked_zone(request, meeting))


def _in_asked_zone(request: web.Request, meeting: dict[str, Any]) -> dict[str, Any]:
    """start and end in the zone of the ``timezone`` request header, when one is given."""
    asked = request.headers.get("timezone")
    return in_zone(meeting, asked) if asked else meeting


async def _json_body(request: web.Request) -> Any:
    """The request's JSON; a body that is not JSON, or nested absurdly deep, is a 400."""
    try:
        body = await request.json()
    except (ValueError, RecursionError):
        raise Refusal(400, "The request body is not valid JSON.") from None
    if too_deep(body):
        raise Refusal(400, "The request body is not valid JSON.")
    return body


async def _patch_meeting(request: web.Request) -> web.Response:
    state = request.app[STATE]
    meeting_id = request.match_info["meetingId"]
    if request.content_type != "application/json":
        raise Refusal(415)
    body = await _json_body(request)
    outcome = apply_patch(state.store, meeting_id, body, state.now(), _viewer(request), state.site)
    state.stats.patches_applied[meeting_id] += 1
    state.stats.cancelled_occurrences += outcome.cancelled
    return web.json_response(outcome.meeting)


async def _register(request: web.Request) -> web.Response:
    """POST /v1/meetings/{meetingId}/registrants: someone registers (so registrant rules apply)."""
    state = request.app[STATE]
    body = await _json_body(request)
    registrant = register(
        state.store, request.match_info["meetingId"], body, _viewer(request), state.now()
    )
    return web.json_response(registrant)


async def _list_meetings(request: web.Request) -> web.Response:
    """GET /v1/meetings: List Meetings with its filters and pages (see listing)."""
    state = request.app[STATE]
    page = list_meetings(state.store, request.query, _viewer(request), state.now())
    return _paged(request, Page([_in_asked_zone(request, m) for m in page.items], page.next_cursor))


async def _list_people(request: web.Request) -> web.Response:
    """GET /v1/people: the site's hosts and the sandbox's own accounts, paged."""
    state = request.app[STATE]
    accounts = [ADMIN, *(state.identity(token).person for token in state.users)]
    page = list_people(state.store, request.query, _viewer(request), accounts, state.org_id)
    return _paged(request, page)


async def _my_details(request: web.Request) -> web.Response:
    """GET /v1/people/me (Get My Own Details): the person behind the token, and their org."""
    state = request.app[STATE]
    return web.json_response(person_json(_viewer(request).person, state.org_id))


def _site_list(
    lister: Callable[[SiteProfile, Any, Identity], list[dict[str, Any]]],
) -> Handler:
    """A handler for one of the site's Control Hub lists, from the profile (or the default one)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        items = lister(state.site or sitedata.DEFAULT_SITE, request.query, _viewer(request))
        return _paged(request, page_of(items, request.query))

    return handler


async def _user_session_types(request: web.Request) -> web.Response:
    """GET /v1/admin/meeting/userconfig/sessionTypes: each user's session types (admin)."""
    state = request.app[STATE]
    items = sitedata.user_session_types(
        state.site or sitedata.DEFAULT_SITE,
        request.query,
        request.headers.get("email"),
        _viewer(request),
        state.store.people(),
    )
    return _paged(request, page_of(items, request.query))


def _paged(request: web.Request, page: Page) -> web.Response:
    headers = {}
    if page.next_cursor is not None:
        headers["Link"] = f'<{request.url.update_query(cursor=page.next_cursor)}>; rel="next"'
    return web.json_response({"items": page.items}, headers=headers)


async def _inspect_meeting(request: web.Request) -> web.Response:
    """GET /_sandbox/meetings/{id}: the stored meeting, without auth, limits or faults."""
    meeting = request.app[STATE].store.get(request.match_info["meetingId"])
    if meeting is None:
        raise web.HTTPNotFound()
    return web.json_response(meeting)


async def _stats(request: web.Request) -> web.Response:
    include = request.query.get("meetings", "1") != "0"
    timeline = request.query.get("timeline", "0") == "1"
    return web.json_response(
        request.app[STATE].stats.snapshot(include_meetings=include, include_timeline=timeline)
    )


def build_app(state: SandboxState) -> web.Application:
    """The aiohttp application over ``state``."""
    app = web.Application(middlewares=[_gate])
    app[STATE] = state
    app.router.add_get(f"{API_PREFIX}/meetings", _list_meetings)
    for path, lister in (
        ("/meetings/trackingCodes", sitedata.meeting_tracking_codes),
        ("/meetings/sessionTypes", sitedata.meeting_session_types),
        ("/admin/meeting/config/trackingCodes", sitedata.site_tracking_codes),
        ("/admin/meeting/config/sessionTypes", sitedata.site_session_types),
    ):  # before /meetings/{meetingId}, which would take them for meeting ids
        app.router.add_get(f"{API_PREFIX}{path}", _site_list(lister))
    app.router.add_get(f"{API_PREFIX}/admin/meeting/userconfig/sessionTypes", _user_session_types)
    app.router.add_get(f"{API_PREFIX}/people", _list_people)
    app.router.add_get(f"{API_PREFIX}/people/me", _my_details)
    app.router.add_get(f"{API_PREFIX}/meetings/{{meetingId}}", _get_meeting)
    app.router.add_patch(f"{API_PREFIX}/meetings/{{meetingId}}", _patch_meeting)
    app.router.add_post(f"{API_PREFIX}/meetings/{{meetingId}}/registrants", _register)
    app.router.add_post(f"{API_PREFIX}/access_token", _access_token)
    app.router.add_get("/_sandbox/stats", _stats)
    app.router.add_get("/_sandbox/meetings/{meetingId}", _inspect_meeting)
    return app


def check_loopback(host: str) -> None:
    """Refuse any address that is not on this machine's loopback."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SandboxError(
            f"the sandbox serves on loopback only (127.0.0.1, ::1, localhost), not {host!r}"
        )


@dataclass(frozen=True)
class RunningSandbox:
    """A started sandbox: where it listens and what it holds."""

    url: str
    state: SandboxState

    @property
    def api_url(self) -> str:
        """The base URL to give bulkpatch (``.../v1``)."""
        return f"{self.url}{API_PREFIX}"


@asynccontextmanager
async def running_sandbox(
    state: SandboxState, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningSandbox]:
    """Serve ``state`` on loopback (port 0 picks a free port) until the block ends."""
    check_loopback(host)
    runner = web.AppRunner(build_app(state), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise SandboxError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    bound = runner.addresses[0]
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    try:
        yield RunningSandbox(f"http://{shown}:{bound[1]}", state)
    finally:
        await runner.cleanup()


def new_state(
    store: MeetingStore,
    *,
    rate: float | None = None,
    burst: int = 10,
    token: str | None = None,
    faults: Faults | None = None,
    token_ttl: float | None = None,
    refresh_token: str | None = None,
    token_uses: int | None = None,
    users: dict[str, str] | None = None,
    site: SiteProfile | None = None,
) -> SandboxState:
    """A sandbox state with a real monotonic clock for its rate limits and token lifetimes."""
    tokens = None
    if refresh_token is not None:
        if token is None:
            raise SandboxError(
                "expiring tokens need a first token: give --token with --token-ttl, "
                "--token-uses or --refresh-token"
            )
        tokens = TokenIssuer(token, refresh_token, token_ttl, time.monotonic, token_uses)
    return SandboxState(
        store=store,
        limits=RateLimits(rate, burst, time.monotonic),
        faults=faults or Faults(),
        token=token,
        tokens=tokens,
        users=dict(users or {}),
        site=site,
    )
