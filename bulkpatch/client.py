"""One aiohttp session to the Webex API: send a request, get a :class:`Reply` or a clear error.

No aiohttp exception leaves this module: connection problems, TLS refusals and timeouts become
:class:`TransportError`; statuses become :class:`Reply` values that :mod:`bulkpatch.policy`
classifies. What a server sends cannot steer the client: redirects are never followed (a 3xx is
returned with its Location, and a run stops on it), a reply is read up to :data:`REPLY_CAP`
bytes however it is compressed, a "next page" URL must stay under the base URL, and every text
it sends back is scrubbed of the run's secrets.
"""

from __future__ import annotations

import json
import ssl
import zlib
from types import TracebackType
from typing import Any, Self

import aiohttp
from yarl import URL

from bulkpatch.config import DEFAULT_BASE_URL, check_base_url
from bulkpatch.errors import ForeignURLError, RemoteError, TransportError
from bulkpatch.model import too_deep
from bulkpatch.redact import Redactor, capped
from bulkpatch.wire import (
    LONGEST_WAIT,
    MESSAGE_CAP,
    REPLY_CAP,
    Reply,
    Request,
    Timeouts,
    TokenGrant,
    api_message,
    meeting_path,
    parse_retry_after,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "LONGEST_WAIT",
    "MESSAGE_CAP",
    "REPLY_CAP",
    "MeetingsClient",
    "Reply",
    "Request",
    "Timeouts",
    "TokenGrant",
    "api_message",
    "meeting_path",
    "parse_retry_after",
]


class MeetingsClient:
    """Sends requests over one pooled aiohttp session; use as an async context manager."""

    __slots__ = (
        "_base",
        "_base_url",
        "_limit",
        "_redact",
        "_session",
        "_timeouts",
        "_token",
        "token_generation",
    )

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        concurrency: int,
        timeouts: Timeouts | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self._base_url = check_base_url(base_url)
        self._base = URL(self._base_url + "/", encoded=True)
        self._token = token
        self._limit = concurrency
        self._timeouts = timeouts or Timeouts()
        self._redact = redactor or Redactor()
        self._redact.add(token)
        self._session: aiohttp.ClientSession | None = None
        #: Which token the next request carries: bumped by each :meth:`set_token`.
        self.token_generation = 0

    def __repr__(self) -> str:
        # Never the token: reprs end up in tracebacks and logs.
        return f"<MeetingsClient {self._base_url} pool={self._limit}>"

    @property
    def base_url(self) -> str:
        """The API's base URL, without a trailing slash."""
        return self._base_url

    def set_token(self, token: str) -> None:
        """Use a new access token from the next request on (after a refresh)."""
        self._redact.add(token)
        self._token = token
        self.token_generation += 1

    def url_of(self, request: Request) -> URL:
        """Where a request goes; a URL the server gave must stay under the base URL.

        A URL elsewhere raises :class:`ForeignURLError` before anything is sent: it is the
        server's fault, like a redirect, and sending again cannot mend it.
        """
        if request.url is None:
            url = URL(f"{self._base_url}/{request.path}", encoded=True)
            return url.update_query(request.query) if request.query else url
        given = URL(request.url, encoded=True)
        base = self._base
        if (given.scheme, given.host, given.port) != (base.scheme, base.host, base.port) or (
            not given.raw_path.startswith(base.raw_path)
        ):
            raise ForeignURLError(
                f"the server pointed to {self._redact(request.url)!r}, outside {self._base_url}; "
                "bulkpatch does not follow it"
            )
        return given

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(limit=self._limit, ssl=ssl.create_default_context())
        timeout = aiohttp.ClientTimeout(
            total=self._timeouts.total, sock_connect=self._timeouts.connect
        )
        # auto_decompress=False: a reply is decompressed here, within REPLY_CAP (no gzip bomb).
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=timeout, raise_for_status=False, auto_decompress=False
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, request: Request) -> Reply:
        """Send one request and return the answer; raise TransportError if there is none."""
        headers = dict(request.headers)
        headers |= {"Authorization": f"Bearer {self._token}", "Accept-Encoding": "gzip, deflate"}
        data = None
        if request.body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(request.body, ensure_ascii=False).encode()
        url = self.url_of(request)
        async with self._exchange(request.method, url, headers=headers, data=data) as response:
            return await self._reply(response)

    async def patch(self, meeting_id: str, body: dict[str, Any]) -> Reply:
        """PATCH one meeting."""
        return await self.send(Request("PATCH", meeting_path(meeting_id), body=body))

    async def exchange_refresh_token(
        self, client_id: str, client_secret: str, refresh_token: str
    ) -> TokenGrant:
        """POST {base_url}/access_token with grant_type=refresh_token; the new tokens or an error."""
        self._redact.add(client_secret, refresh_token)
        form = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        }
        url = URL(f"{self._base_url}/access_token", encoded=True)
        async with self._exchange("POST", url, data=form, what="token refresh") as response:
            reply = await self._reply(response)
        payload = reply.payload
        if reply.status != 200 or not isinstance(payload, dict) or not payload.get("access_token"):
            message = reply.message or "no access token in the answer"
            raise RemoteError(f"token refresh refused (HTTP {reply.status}): {message}")
        grant = TokenGrant(
            str(payload["access_token"]), str(payload.get("refresh_token") or refresh_token)
        )
        self._redact.add(grant.access_token, grant.refresh_token)
        return grant

    def _exchange(self, method: str, url: URL, *, what: str = "", **kwargs: Any) -> _Exchange:
        if self._session is None:
            raise RuntimeError("MeetingsClient used outside 'async with'")
        return _Exchange(
            self._session.request(method, url, allow_redirects=False, **kwargs),
            what,
            self._timeouts.total,
            self._redact,
        )

    async def _reply(self, response: aiohttp.ClientResponse) -> Reply:
        redact = self._redact
        raw, whole = await _read_capped(response)
        text = _decoded(raw, response.headers.get("Content-Encoding", "")) if whole else None
        payload = _scrubbed(_json(text), redact)
        tracking_id = response.headers.get("trackingid")
        raw_retry = response.headers.get("Retry-After")
        if 200 <= response.status < 300:
            message = "" if whole else f"the answer was over {REPLY_CAP:,} bytes and not read"
        else:
            message = api_message(payload) or response.reason or f"HTTP {response.status}"
        location = response.headers.get("Location")
        next_link = _next_link(response)
        return Reply(
            response.status,
            redact(capped(tracking_id, 200)) if tracking_id else None,
            redact(capped(message, MESSAGE_CAP)),
            parse_retry_after(raw_retry),
            redact(capped(raw_retry, 200)) if raw_retry is not None else None,
            payload,
            redact(capped(location, 500)) if location is not None else None,
            next_link,
        )


class _Exchange:
    """``async with`` around one aiohttp request that turns its errors into TransportError."""

    __slots__ = ("_context", "_redact", "_total", "_what")

    def __init__(self, context: Any, what: str, total: float, redact: Redactor) -> None:
        self._context = context
        self._what = f"{what}: " if what else ""
        self._total = total
        self._redact = redact

    async def __aenter__(self) -> aiohttp.ClientResponse:
        try:
            response: aiohttp.ClientResponse = await self._context.__aenter__()
        except BaseException as exc:
            raise self._mapped(exc) from None
        return response

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self._context.__aexit__(kind, exc, tb)
        except BaseException as error:
            raise self._mapped(error) from None
        if exc is not None and not isinstance(exc, TransportError):
            mapped = self._mapped(exc)
            if mapped is not exc:
                raise mapped from None

    def _mapped(self, exc: BaseException) -> BaseException:
        if isinstance(exc, TimeoutError):
            return TransportError(f"{self._what}no answer within {self._total:g} s")
        if isinstance(exc, aiohttp.ClientSSLError):
            return TransportError(
                f"{self._what}TLS failed: {exc.__class__.__name__}; the certificate was not accepted"
            )
        if isinstance(exc, aiohttp.ClientConnectionError):
            return TransportError(f"{self._what}connection failed: {self._redact(str(exc))}")
        if isinstance(exc, aiohttp.ClientError):
            return TransportError(f"{self._what}HTTP error: {exc.__class__.__name__}")
        return exc


async def _read_capped(response: aiohttp.ClientResponse) -> tuple[bytes, bool]:
    """The body up to REPLY_CAP bytes, and whether that was all of it."""
    data = bytearray()
    async for chunk in response.content.iter_chunked(1 << 16):
        data += chunk
        if len(data) > REPLY_CAP:
            return bytes(data[:REPLY_CAP]), False
    return bytes(data), True


def _decoded(raw: bytes, encoding: str) -> str | None:
    """The body as text, decompressed to at most REPLY_CAP bytes; None if it cannot be."""
    encoding = encoding.strip().lower()
    if encoding in {"gzip", "x-gzip", "deflate"}:
        inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib, by its header
        try:
            raw = inflater.decompress(raw, REPLY_CAP + 1)
        except zlib.error:
            return None
        if len(raw) > REPLY_CAP or inflater.unconsumed_tail:
            return None
    elif encoding not in {"", "identity"}:
        return None
    return raw.decode("utf-8", "replace")


def _next_link(response: aiohttp.ClientResponse) -> str | None:
    """The ``Link: <...>; rel="next"`` URL, if the answer has one that can be read."""
    try:
        link = response.links.get("next")
    except ValueError:
        return None
    url = link.get("url") if link is not None else None
    return str(url) if url is not None else None


def _scrubbed(payload: Any, redact: Redactor) -> Any:
    """The answer's JSON with every secret masked in its strings, keys too; None if too deep.

    Masked after parsing, not in the text: a server may write a token with JSON escapes.
    A meeting or a page nests a few levels; one deeper than any the API sends is not read.
    """
    if payload is None or too_deep(payload):
        return None
    return _masked(payload, redact)


def _masked(value: Any, redact: Redactor) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_masked(item, redact) for item in value]
    if isinstance(value, dict):
        return {redact(key): _masked(item, redact) for key, item in value.items()}
    return value


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None
