"""What the CLI tests share: the seeded meetings, job writers, and the CLI invoked in-process."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import CLI_TOKEN, SERIES

from bulkpatch.cli import main
from bulkpatch.sandbox.process import SandboxProcess, read_until


def write_job(path: Path, rows: list[dict[str, str]]) -> Path:
    """A CSV job with these rows (columns: meetingId, then the others sorted)."""
    columns = sorted({key for row in rows for key in row} - {"meetingId"})
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["meetingId", *columns], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def half_invalid_job(folder: Path) -> Path:
    """Two rows: the first fine, the second with a title over 128 characters."""
    rows = [{"meetingId": SERIES[0], "title": "ok"}, {"meetingId": SERIES[1], "title": "t" * 200}]
    return write_job(folder / "job.csv", rows)


def titles_job(path: Path, count: int, offset: int = 0) -> Path:
    """``count`` rows, each renaming one of SERIES."""
    return write_job(
        path, [{"meetingId": SERIES[offset + i], "title": f"Weekly sync {i}"} for i in range(count)]
    )


def invoke(*args: str, token: str = CLI_TOKEN) -> tuple[int, str, str]:
    """Run the CLI in-process with this token; (exit code, stdout, stderr)."""
    result = CliRunner(env={"WEBEX_ACCESS_TOKEN": token}).invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def series_in_three_days(meeting_id: str, **fields: Any) -> dict[str, Any]:
    """A meeting series as a pull snapshot holds it: half an hour, three days from now (UTC)."""
    start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    return {
        "id": meeting_id,
        "title": f"Sync {meeting_id[:4]}",
        "agenda": "Status",
        "meetingType": "meetingSeries",
        "state": "active",
        "timezone": "UTC",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=30)).isoformat(),
        "scheduledType": "meeting",
        "hostEmail": "ana@example.com",
        "hostDisplayName": "Ana",
        "unlockedMeetingJoinSecurity": "allowJoin",
    } | fields


def seeded_sandbox(folder: Path, meetings: list[dict[str, Any]], token: str) -> SandboxProcess:
    """A sandbox process holding exactly these meetings (seeded from a pull snapshot)."""
    snapshot = folder / "site.snapshot.jsonl"
    snapshot.write_text("".join(json.dumps(m) + "\n" for m in meetings))
    return SandboxProcess.start("--quiet", "--token", token, "--seed", str(snapshot))


def stored(sandbox: SandboxProcess, meeting_id: str) -> dict[str, Any]:
    """A meeting as the sandbox holds it, read through its back door (no token)."""
    url = f"{sandbox.api_url.removesuffix('/v1')}/_sandbox/meetings/{meeting_id}"
    with urllib.request.urlopen(url, timeout=30) as response:
        found: dict[str, Any] = json.load(response)
    return found


def change_directly(
    sandbox: SandboxProcess, meeting_id: str, body: dict[str, Any], token: str
) -> None:
    """Change a meeting as someone else would, outside bulkpatch (a PATCH of its own)."""
    request = urllib.request.Request(
        f"{sandbox.api_url}/meetings/{meeting_id}",
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


def kill_run_at_row(sandbox: SandboxProcess, job: Path, token: str, row: int = 12) -> None:
    """Start `bulkpatch run JOB` in a process of its own, and kill -9 it once it logs ``row``."""
    env = {**os.environ, "WEBEX_ACCESS_TOKEN": token}
    command = [sys.executable, "-m", "bulkpatch", "run", str(job), "--base-url", sandbox.api_url]
    process = subprocess.Popen(
        [*command, "--max-rate", "40", "-v", "--log-format", "json"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        bufsize=0,
    )
    read_until(process.stderr, f'"row": {row},'.encode(), 60)
    process.kill()
    process.communicate(timeout=60)


def invoke_on(sandbox: SandboxProcess, *args: str, token: str) -> tuple[int, str, str]:
    """Run the CLI in-process against a sandbox process (its base URL from the environment)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BULKPATCH_BASE_URL", sandbox.api_url)
        patch.setenv("BULKPATCH_MAX_RATE", "1000")
        return invoke(*args, token=token)


def run_args(sandbox: SandboxProcess, job: Path, *extra: str) -> list[str]:
    """`run JOB` against a sandbox process, fast."""
    return [
        "run",
        str(job),
        "--base-url",
        sandbox.api_url,
        "--max-rate",
        "500",
        "--concurrency",
        "8",
        *extra,
    ]


TOKEN = CLI_TOKEN
__all__ = [
    "SERIES",
    "TOKEN",
    "change_directly",
    "half_invalid_job",
    "invoke",
    "invoke_on",
    "kill_run_at_row",
    "run_args",
    "seeded_sandbox",
    "series_in_three_days",
    "stored",
    "titles_job",
    "write_job",
]
