"""wxc_sdk's async API as a competent user would: gather plus a semaphore, retry_429 on."""

from __future__ import annotations

import asyncio
import time

from common import arguments, report
from wxc_sdk.as_api import AsWebexSimpleApi
from wxc_sdk.as_rest import AsRestSession
from wxc_sdk.tokens import Tokens


async def main() -> None:
    api_url, token, rows, concurrency = arguments()
    session = AsRestSession(
        tokens=Tokens(access_token=token), concurrent_requests=concurrency, retry_429=True
    )
    session.BASE = api_url  # the SDK's base URL is a class constant: pointed at the sandbox
    api = AsWebexSimpleApi(tokens=token, session=session)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(meeting_id: str, title: str) -> bool:
        async with semaphore:
            try:
                await api.meetings.patch(meeting_id, title=title)
            except Exception:  # the SDK raises its own errors and aiohttp's; a failure either way
                return False
            return True

    started = time.perf_counter()
    outcomes = await asyncio.gather(*(one(meeting_id, title) for meeting_id, title in rows))
    await session.close()
    report(started, sum(outcomes), len(outcomes) - sum(outcomes))


asyncio.run(main())
