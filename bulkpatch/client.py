"""One aiohttp session to the Webex API: send a patch, get a :class:`Reply` or a clear error.

No aiohttp exception leaves this module: connection problems and timeouts become
:class:`TransportError`; statuses become :class:`Reply` values the engine classifies.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlsplit

import aiohttp
from yarl import URL

from bulkpatch.errors import ConfigError, RemoteError, TransportError

DEFAULT_BASE_URL = "https://webexapis.com/v1"


@dataclass(frozen=True, slots=True)
class Reply:
    """What the API answered to one PATCH."""

    status: int
    tracking_id: str | None
    message: str
    retry_after: float | None = None
    retry_after_raw: str | None = None

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a refresh gives back: a new access token, and the refresh token to use next."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long to wait for a connection and for a whole answer, in seconds."""

    connect: float = 10.0
    total: float = 60.0


def check_base_url(base_url: str) -> str:
    """The base URL without a trailing slash; https required except for loopback hosts."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.scheme not in {"https", "http"} or not host:
        raise ConfigError(f"base URL {base_url!r} must be an https:// URL")
    if parts.scheme == "http" and not is_loopback(host):
        raise ConfigError(
            f"base URL {base_url!r} must use https (plain http is allowed for loopback hosts only)"
        )
    return base_url.rstrip("/")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def meeting_url(base_url: str, meeting_id: str) -> URL:
    """The meeting's URL, its id percent-encoded as exactly one path segment."""
    # safe="" encodes "/" and "?" too, and encoded=True stops yarl from decoding them again:
    # no id, however odd, can reach another endpoint.
    return URL(f"{base_url}/meetings/{quote(meeting_id, safe='')}", encoded=True)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value: whole or decimal seconds, or an HTTP date.

    None when absent or unreadable (the real API has sent things like ``rand(30),add(30)``);
    the caller then backs off on its own.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds and seconds != float("inf") else None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def api_message(body: Any) -> str:
    """The API's own explanation from a Webex error body, as one line."""
    if not isinstance(body, dict):
        return ""
    details = [
        str(e.get("description"))
        for e in body.get("errors") or ()
        if isinstance(e, dict) and e.get("description")
    ]
    message = str(body.get("message") or "")
    extra = [detail for detail in details if detail != message]
    return "; ".join([message, *extra] if message else extra)


class MeetingsClient:
    """Sends PATCHes over one pooled aiohttp session; use as an async context manager."""

    __slots__ = ("_base_url", "_limit", "_session", "_timeouts", "_token", "token_generation")

    def __init__(
        self, base_url: str, token: str, *, concurrency: int, timeouts: Timeouts | None = None
    ) -> None:
        self._base_url = check_base_url(base_url)
        self._token = token
        self._limit = concurrency
        self._timeouts = timeouts or Timeouts()
        self._session: aiohttp.ClientSession | None = None
        #: Which token the next request carries: bumped by each :meth:`set_token`.
        self.token_generation = 0

    def __repr__(self) -> str:
        # Never the token: reprs end up in tracebacks and logs.
        return f"<MeetingsClient {self._base_url} pool={self._limit}>"

    def set_token(self, token: str) -> None:
        """Use a new access token from the next request on (after a refresh)."""
        self._token = token
        self.token_generation += 1

    async def exchange_refresh_token(
        self, client_id: str, client_secret: str, refresh_token: str
    ) -> TokenGrant:
        """POST {base_url}/access_token with grant_type=refresh_token; the new tokens or an error."""
        if self._session is None:
            raise RuntimeError("MeetingsClient used outside 'async with'")
        form = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        }
        try:
            async with self._session.post(f"{self._base_url}/access_token", data=form) as response:
                try:
                    payload = await response.json(content_type=None)
                except ValueError:
                    payload = None
                if (
                    response.status != 200
                    or not isinstance(payload, dict)
                    or not payload.get("access_token")
                ):
                    message = (
                        api_message(payload) or response.reason or "no access token in the answer"
                    )
                    raise RemoteError(f"token refresh refused (HTTP {response.status}): {message}")
                return TokenGrant(
                    str(payload["access_token"]), str(payload.get("refresh_token") or refresh_token)
                )
        except TimeoutError:
            raise TransportError("token refresh: no answer in time") from None
        except aiohttp.ClientError as exc:
            raise TransportError(
                f"token refresh: connection failed: {exc.__class__.__name__}"
            ) from None

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(limit=self._limit, ssl=ssl.create_default_context())
        timeout = aiohttp.ClientTimeout(
            total=self._timeouts.total, sock_connect=self._timeouts.connect
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=timeout, raise_for_status=False
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def patch(self, meeting_id: str, body: dict[str, Any]) -> Reply:
        """Send one PATCH and return the answer; raise TransportError if there is none."""
        if self._session is None:
            raise RuntimeError("MeetingsClient used outside 'async with'")
        headers = {"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"}
        try:
            async with self._session.patch(
                meeting_url(self._base_url, meeting_id), json=body, headers=headers
            ) as response:
                tracking_id = response.headers.get("trackingid")
                raw_retry = response.headers.get("Retry-After")
                if 200 <= response.status < 300:
                    await response.read()
                    return Reply(response.status, tracking_id, "")
                try:
                    payload = await response.json(content_type=None)
                except ValueError:
                    payload = None
                message = api_message(payload) or response.reason or f"HTTP {response.status}"
                return Reply(
                    response.status, tracking_id, message, parse_retry_after(raw_retry), raw_retry
                )
        except TimeoutError:
            raise TransportError(f"no answer within {self._timeouts.total:g} s") from None
        except aiohttp.ClientSSLError as exc:
            raise TransportError(
                f"TLS failed: {exc.__class__.__name__}; the certificate was not accepted"
            ) from None
        except aiohttp.ClientConnectionError as exc:
            raise TransportError(f"connection failed: {exc}") from None
        except aiohttp.ClientError as exc:
            raise TransportError(f"HTTP error: {exc.__class__.__name__}") from None
