"""The sandbox's HTTP face: aiohttp.web routes, and start/stop on loopback.

Every request passes the gate first (:mod:`bulkpatch.sandbox.gate`: auth, limits, faults); the
routes here answer it from the state (:mod:`bulkpatch.sandbox.state`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from bulkpatch.model import too_deep
from bulkpatch.model.site import SiteProfile
from bulkpatch.sandbox import sitedata
from bulkpatch.sandbox.accounts import ADMIN, Identity
from bulkpatch.sandbox.gate import API_PREFIX, bearer, gate
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
from bulkpatch.sandbox.refusal import Refusal, not_found
from bulkpatch.sandbox.registrants import register
from bulkpatch.sandbox.state import STATE, SandboxError, SandboxState


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
    return request.app[STATE].identity(bearer(request))


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
    app = web.Application(middlewares=[gate])
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
