"""What goes over the wire to the Webex API, as plain values: a :class:`Request`, a
:class:`Reply`, and how a reply's Retry-After and error body read.

Pure: no I/O here; :mod:`bulkpatch.client` sends the requests and builds the replies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import quote

#: A meeting is a few KB and a page of 100 a few hundred: anything bigger is not read.
REPLY_CAP = 1 << 20
#: What is kept of a server's message (in the journal, the logs, exports).
MESSAGE_CAP = 2_000
#: The longest wait a Retry-After can express that is still a number of seconds we can add up.
LONGEST_WAIT = 10.0 * 365 * 24 * 3600

Method = Literal["GET", "PATCH"]


@dataclass(frozen=True, slots=True)
class Request:
    """One API call: method, where under the base URL, and the JSON body of a PATCH.

    ``path`` is relative to the base URL and already percent-encoded (see :func:`meeting_path`);
    ``url`` is an absolute URL the API itself gave (a ``Link: rel="next"`` page), accepted only
    under the base URL.
    """

    method: Method
    path: str = ""
    query: tuple[tuple[str, str], ...] = ()
    body: dict[str, Any] | None = None
    url: str | None = None
    #: Extra request headers some calls take (List User Session Type's ``email``).
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def lane(self) -> Literal["read", "write"]:
        """Reads and writes are paced apart: a server may limit them separately."""
        return "read" if self.method == "GET" else "write"


@dataclass(frozen=True, slots=True)
class Reply:
    """What the API answered to one request."""

    status: int
    tracking_id: str | None
    message: str = ""
    retry_after: float | None = None
    retry_after_raw: str | None = None
    #: The JSON of the answer (a 2xx's meeting or page), None when empty, unreadable or too big.
    payload: Any = None
    #: Where a 3xx pointed (never followed).
    location: str | None = None
    #: The ``Link: <...>; rel="next"`` URL of a paged list.
    next_url: str | None = None

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
    """How long to wait for a connection, and for a whole answer, in seconds."""

    connect: float = 10.0
    total: float = 60.0


def meeting_path(meeting_id: str) -> str:
    """``meetings/<id>``, the id percent-encoded as exactly one path segment.

    ``safe=""`` encodes "/" and "?" too, and the URL is built as already encoded, so no id,
    however odd, can reach another endpoint.
    """
    return f"meetings/{quote(meeting_id, safe='')}"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value: whole or decimal seconds, or an HTTP date.

    None when absent or unreadable (the real API has sent things like ``rand(30),add(30)``);
    the caller then backs off on its own. A huge value stays a (huge) finite number, which the
    policy compares with ``max_retry_after``; it never overflows a date.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not 0 <= seconds < float("inf"):  # NaN, negative, infinite: not a number of seconds
            return None
        return min(seconds, LONGEST_WAIT)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(LONGEST_WAIT, max(0.0, (moment - (now or datetime.now(UTC))).total_seconds()))


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
