"""Benchmark the sandbox alone: PATCH throughput with no latency, no limit, no faults.

The sandbox runs as its own process (`bulkpatch sandbox --quiet`); this script is the separate
load generator: aiohttp with a connection pool, N requests at a fixed concurrency, on loopback.

    .venv/bin/python bench/sandbox_bench.py --requests 20000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from bulkpatch.sandbox import generate_meetings
from bulkpatch.sandbox.process import SandboxProcess

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from markers import splice  # noqa: E402  # a sibling script

TOKEN = "bench-token"
RANDOM_SEED = 11


async def load(
    api: str, ids: list[str], requests: int, concurrency: int
) -> tuple[float, dict[int, int]]:
    """Send ``requests`` PATCHes over ``concurrency`` workers; return seconds and status counts."""
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(requests):
        queue.put_nowait(index)
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Authorization": f"Bearer {TOKEN}"}

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            index = queue.get_nowait()
            body = {"title": f"bench {index}", "meetingOptions": {"enabledChat": index % 2 == 0}}
            async with session.patch(
                f"{api}/meetings/{ids[index % len(ids)]}", json=body
            ) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1

    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        return time.perf_counter() - started, statuses


def main() -> None:
    """Start the sandbox, warm it up, measure, stop it, print a markdown row."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--meetings", type=int, default=2_000)
    parser.add_argument("--dry", action="store_true", help="print, write nothing to the docs")
    args = parser.parse_args()
    now = datetime.now(UTC)
    store = generate_meetings(args.meetings, RANDOM_SEED, now)  # what --meetings serves
    far = now + timedelta(days=3650)
    ids = [  # the patchable ones: not ended, in progress, ad hoc, a personal room or 10+ years ahead
        mid
        for mid, seed in store.seeds.items()
        if seed.state in {"active", "scheduled"}
        and not seed.adhoc
        and seed.scheduled_type != "personalRoomMeeting"
        and seed.start < far
    ]
    sandbox = SandboxProcess.start(
        "--quiet",
        "--token",
        TOKEN,
        "--meetings",
        str(args.meetings),
        "--random-seed",
        str(RANDOM_SEED),
    )
    try:
        asyncio.run(load(sandbox.api_url, ids, 500, args.concurrency))  # warm-up
        seconds, statuses = asyncio.run(load(sandbox.api_url, ids, args.requests, args.concurrency))
    finally:
        sandbox.stop()
    rate = args.requests / seconds
    table = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d')}, CPython {platform.python_version()}, "
            f"{os.cpu_count()} cores.",
            "",
            "| requests | concurrency | seconds | PATCH/s | statuses |",
            "|---:|---:|---:|---:|---|",
            f"| {args.requests:,} | {args.concurrency} | {seconds:.2f} | {rate:,.0f} | {statuses} |",
        ]
    )
    print(table)
    if not args.dry:
        splice(ROOT / "docs" / "benchmarks.md", "bench/sandbox_bench.py", table)
        splice(
            ROOT / "README.md",
            "bench/sandbox_bench.py",
            f"- The sandbox alone answers about {round(rate, -2):,.0f} PATCH/s ({args.concurrency} "
            "concurrent, no latency), so it is never what limits a benchmark of the engine.",
        )


if __name__ == "__main__":
    main()
