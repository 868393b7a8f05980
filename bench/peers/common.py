"""What every peer shares: reading the job and reporting what it did, as one JSON line."""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path


def read_job(path: str) -> list[tuple[str, str]]:
    """(meetingId, title) per row of a title job."""
    with Path(path).open(newline="") as handle:
        return [(row["meetingId"], row["title"]) for row in csv.DictReader(handle)]


def arguments() -> tuple[str, str, list[tuple[str, str]], int]:
    """API URL, token, rows, concurrency: the same for every peer."""
    api_url, token, job, concurrency = sys.argv[1:5]
    return api_url, token, read_job(job), int(concurrency)


def report(started: float, succeeded: int, failed: int) -> None:
    """One JSON line on stdout, for a person running a peer alone (compare.py times every tool by the sandbox)."""
    print(
        json.dumps(
            {"seconds": time.perf_counter() - started, "succeeded": succeeded, "failed": failed}
        )
    )
