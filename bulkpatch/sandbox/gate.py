"""The request gate: tracking id, stats, auth, rate limit, latency and faults, before any route."""

from __future__ import annotations

import asyncio
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from bulkpatch.sandbox.refusal import STATUS_WORDS, Refusal
from bulkpatch.sandbox.state import STATE, SandboxState
from bulkpatch.sandbox.traffic import fingerprint

API_PREFIX = "/v1"


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


def bearer(request: web.Request) -> str | None:
    """The token of the request's ``Authorization: Bearer`` header, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@web.middleware
async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
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
    token = bearer(request)
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
