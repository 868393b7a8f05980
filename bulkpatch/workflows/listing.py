"""Reading lists from the API: every page of a listing, through the one request pipeline.

Webex splits a long list into pages and links the next one with ``Link: <...>; rel="next"``;
the client accepts that URL only under the base URL. Each page is one GET on the read lane,
with the pipeline's pacing, retries, refresh and stops. A server cannot keep a listing going
for ever: a next link already followed in this listing is refused, and so is a listing longer
than :data:`MAX_PAGES` pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from bulkpatch.client import Request
from bulkpatch.engine import Final, Pipeline

#: The largest page each listing allows (List Meetings: 100; List People: 1,000).
MEETINGS_PAGE = 100
PEOPLE_PAGE = 1000
#: The most pages one listing may have: 10 million meetings at 100 a page, far beyond any site.
MAX_PAGES = 100_000


class ListingFailed(Exception):
    """A page could not be read: the API refused it (or the run stopped: ``stopped``)."""

    def __init__(self, message: str, *, stopped: bool = False) -> None:
        self.stopped = stopped
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Listing:
    """A list request: the path under the base URL and its query."""

    path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...] = ()


async def pages(
    pipeline: Pipeline, listing: Listing, **context: object
) -> AsyncIterator[list[Any]]:
    """Every page's ``items``, first to last; ListingFailed when one cannot be read.

    A next link already followed in this listing, or a page past :data:`MAX_PAGES`, is a
    failure: a server that links in a ring would otherwise be read until the disk fills.
    """
    request = Request("GET", listing.path, listing.query, headers=listing.headers)
    followed: set[str] = set()
    for _ in range(MAX_PAGES):
        if pipeline.stopper.requested.is_set():
            raise ListingFailed(pipeline.stopper.detail or "the run stopped", stopped=True)
        final = await pipeline.send(request, **context)
        if final is None:
            raise ListingFailed(pipeline.stopper.detail or "the run stopped", stopped=True)
        if not final.ok or final.reply is None:
            raise ListingFailed(final.error or "no answer")
        payload = final.reply.payload
        items = payload.get("items") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            raise ListingFailed(
                f"the answer to GET {listing.path} has no list of items: {_not_a_page(final)}"
            )
        pipeline.log.debug("pull.page", path=listing.path, items=len(items), **context)
        yield items
        next_url = final.reply.next_url
        if next_url is None:
            return
        if next_url in followed:
            # The URL itself is not quoted: it is the server's text, and may echo a secret.
            read = len(followed) + 1
            raise ListingFailed(
                f"the server's next page link repeats a page already read (after {read:,} pages "
                f"of GET {listing.path}); the listing was left there"
            )
        followed.add(next_url)
        request = Request("GET", url=next_url, headers=listing.headers)
    raise ListingFailed(
        f"the listing of GET {listing.path} has more than {MAX_PAGES:,} pages; "
        "bulkpatch reads no further (narrow it: --from/--to, --host-email)"
    )


def _not_a_page(final: Final) -> str:
    """What is wrong with a 2xx answer that should have been a page of items."""
    reply = final.reply
    if reply is None:
        return "no answer"
    if reply.message:  # the client says why it did not read the body (over the size cap)
        return reply.message
    payload = reply.payload
    if payload is None:
        return f"the answer (HTTP {reply.status}) was empty or not JSON"
    if not isinstance(payload, dict):
        return f"the answer is a JSON {_kind(payload)}, not an object"
    if "items" not in payload:
        return 'the answer has no "items"'
    return f'"items" is a JSON {_kind(payload["items"])}, not a list'


def _kind(value: object) -> str:
    """The JSON name of a value's type."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    names = {list: "array", dict: "object", str: "string", type(None): "null"}
    return names.get(type(value), type(value).__name__)


async def people_emails(pipeline: Pipeline) -> list[str]:
    """The first email of every person of the organisation (List People, admin scope)."""
    emails: list[str] = []
    listing = Listing("people", (("max", str(PEOPLE_PAGE)),))
    async for items in pages(pipeline, listing, what="people"):
        for person in items:
            addresses = person.get("emails") if isinstance(person, dict) else None
            if isinstance(addresses, list) and addresses and isinstance(addresses[0], str):
                emails.append(addresses[0])
    return sorted(set(emails), key=str.lower)
