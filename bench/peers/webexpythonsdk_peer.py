"""webexpythonsdk as a competent user would: a thread pool and the SDK's wait_on_rate_limit.

The SDK has no PATCH helper (meetings.update sends PUT, "Update a Meeting"), so the PATCH goes
through its RestSession, which is where wait_on_rate_limit lives.
"""

from __future__ import annotations

import time
import warnings
from concurrent.futures import ThreadPoolExecutor

from common import arguments, report
from webexpythonsdk import WebexAPI
from webexpythonsdk.exceptions import ApiError

warnings.simplefilter("ignore")  # the SDK warns on every 429 it waits out


def main() -> None:
    api_url, token, rows, concurrency = arguments()
    api = WebexAPI(access_token=token, base_url=f"{api_url}/", wait_on_rate_limit=True)

    def one(row: tuple[str, str]) -> bool:
        meeting_id, title = row
        try:
            api._session.request("PATCH", f"meetings/{meeting_id}", 200, json={"title": title})
        except (ApiError, OSError):
            return False
        return True

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        outcomes = list(pool.map(one, rows))
    report(started, sum(outcomes), len(outcomes) - sum(outcomes))


main()
