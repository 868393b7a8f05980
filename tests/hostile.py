"""A misbehaving API on 127.0.0.1: it answers every request the way a test tells it to.

It runs its own event loop in a thread, so the real CLI (in-process, which runs its own loop)
can talk to it. Every request it received is kept, with its headers and body.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Answer = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Received:
    """One request the server got."""

    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HostileServer:
    """Serve ``answer`` on a free loopback port until :meth:`stop`."""

    answer: Answer
    ssl_context: ssl.SSLContext | None = None
    #: The organisation GET /v1/people/me names (that request is answered here, not recorded:
    #: a run asks it once to bind its journal). None: ``answer`` answers it like the rest.
    org_id: str | None = "hostile-org"
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    @property
    def api_url(self) -> str:
        """The base URL to give bulkpatch."""
        return f"{self.url}/v1"

    def start(self) -> HostileServer:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(self._setup())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._teardown())
            loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the hostile server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)

    async def _setup(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"{'https' if self.ssl_context else 'http'}://{host}:{port}"

    async def _teardown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.org_id is not None and request.path == "/v1/people/me":
            return web.json_response({"id": "me", "orgId": self.org_id})
        body = await request.read()
        self.received.append(Received(request.method, request.path_qs, dict(request.headers), body))
        return await self.answer(request)


def always(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
    """An answer that is always the same status, JSON body and headers."""

    async def answer(_: web.Request) -> web.StreamResponse:
        if body is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(body, status=status, headers=headers)

    return answer


def webex_error(message: str) -> dict[str, Any]:
    """A Webex-shaped error body."""
    return {"message": message, "errors": [{"description": message}], "trackingId": "HOSTILE"}
