"""Get My Own Details (``GET /v1/people/me``) and the sandbox's organisation id."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import pytest

from bulkpatch.sandbox import MeetingStore, new_state, running_sandbox
from bulkpatch.sandbox.accounts import ORG_ID
from bulkpatch.sandbox.drawing import Person

ANA = Person("ana@example.com", "Ana Silva")
ANA_TOKEN = "people-ana-token"


@pytest.fixture
async def sandboxes() -> AsyncIterator[Callable[[str | None], Any]]:
    """Start sandboxes with a given admin token (and Ana's user token); a GET helper for each."""
    async with AsyncExitStack() as stack:

        async def start(admin_token: str | None) -> Callable[..., Any]:
            state = new_state(
                MeetingStore(hosts=(ANA,)), token=admin_token, users={ANA_TOKEN: ANA.email}
            )
            running = await stack.enter_async_context(running_sandbox(state))
            session = await stack.enter_async_context(aiohttp.ClientSession(base_url=running.url))

            async def get(path: str, token: str | None) -> tuple[int, Any]:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with session.get(path, headers=headers) as response:
                    return response.status, await response.json()

            return get

        yield start


def decoded(org: str) -> str:
    return base64.b64decode(org + "=" * (-len(org) % 4)).decode()


async def test_people_me_answers_for_the_tokens_own_identity(sandboxes: Any) -> None:
    """The admin token is the site admin, a user token its own person; both in the org that
    List People shows; no token is 401."""
    get = await sandboxes("people-admin-token")
    status, admin = await get("/v1/people/me", "people-admin-token")
    assert status == 200
    assert admin["emails"] == ["admin@example.com"]
    assert admin["displayName"] == "Sandbox Admin"
    status, ana = await get("/v1/people/me", ANA_TOKEN)
    assert status == 200
    assert (ana["emails"], ana["displayName"]) == ([ANA.email], "Ana Silva")
    assert ana["id"] == ANA.person_id != admin["id"]
    assert ana["orgId"] == admin["orgId"]
    _, listed = await get("/v1/people", "people-admin-token")
    assert {person["orgId"] for person in listed["items"]} == {admin["orgId"]}
    assert (await get("/v1/people/me", None))[0] == 401


async def test_each_admin_token_is_an_organisation_of_its_own(sandboxes: Any) -> None:
    """Two sandboxes with different --token are two orgs (the same token, the same org); without
    --token the constant org; the id is API-shaped and does not carry the token."""

    async def org_of(admin_token: str | None) -> str:
        get = await sandboxes(admin_token)
        status, me = await get("/v1/people/me", admin_token or "any-token")
        assert status == 200
        return str(me["orgId"])

    first, second, again = (
        await org_of("token-one"),
        await org_of("token-two"),
        await org_of("token-one"),
    )
    assert first != second
    assert first == again
    assert await org_of(None) == ORG_ID
    for org in (first, second):
        text = decoded(org)
        assert re.fullmatch(
            r"ciscospark://us/ORGANIZATION/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", text
        )
        assert "token" not in text
