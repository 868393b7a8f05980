"""A naive script: aiohttp, a semaphore, gather. No retries, no rate handling, no record."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from common import arguments, report


async def main() -> None:
    api_url, token, rows, concurrency = arguments()
    semaphore = asyncio.Semaphore(concurrency)
    outcomes: list[bool] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(
        headers=headers, connector=aiohttp.TCPConnector(limit=concurrency)
    ) as session:

        async def one(meeting_id: str, title: str) -> None:
            try:
                async with (
                    semaphore,
                    session.patch(
                        f"{api_url}/meetings/{meeting_id}", json={"title": title}
                    ) as response,
                ):
                    outcomes.append(response.status == 200)
            except aiohttp.ClientError:
                outcomes.append(False)

        started = time.perf_counter()
        await asyncio.gather(*(one(meeting_id, title) for meeting_id, title in rows))
    report(started, sum(outcomes), len(outcomes) - sum(outcomes))


asyncio.run(main())
