"""Reading lists from the API: every page of a listing, through the one request pipeline.

Webex splits a long list into pages and links the next one with ``Link: <...>; rel="next"``;
the client accepts that URL only under the base URL. Each page is one GET on the read lane,
with the pipeline's pacing, retries, refresh and stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from bulkpatch.client import Request
from bulkpatch.engine import Pipeline

#: The largest page each listing allows (List Meetings: 100; List People: 1,000).
MEETINGS_PAGE = 100
PEOPLE_PAGE = 1000


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
    """Every page's ``items``, first to last; ListingFailed when one cannot be read."""
    request = Request("GET", listing.path, listing.query, headers=listing.headers)
    while True:
        final = await pipeline.send(request, **context)
        if final is None:
            raise ListingFailed(pipeline.stopper.detail or "the run stopped", stopped=True)
        if not final.ok or final.reply is None:
            raise ListingFailed(final.error or "no answer")
        payload = final.reply.payload
        items = payload.get("items") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            raise ListingFailed(
                f"the answer to GET {listing.path} has no list of items: {final.reply.message}"
            )
        pipeline.log.debug("pull.page", path=listing.path, items=len(items), **context)
        yield items
        if final.reply.next_url is None:
            return
        request = Request("GET", url=final.reply.next_url, headers=listing.headers)


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
