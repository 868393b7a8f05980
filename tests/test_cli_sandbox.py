"""`bulkpatch sandbox` as a real process: start, serve, stop on a signal."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from bulkpatch.cli import main
from bulkpatch.sandbox.process import SandboxProcess, read_until

JOBS = Path(__file__).parent.parent / "jobs"


def test_sandbox_serves_seeded_meetings_and_stops_on_sigint() -> None:
    """Seeded from a job, it prints its URL and token line, serves the job's ids, stops cleanly."""
    job = JOBS / "site-migration-lobby.csv"
    meeting_id = job.read_text().splitlines()[1].split(",")[0]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bulkpatch",
            "sandbox",
            "--port",
            "0",
            "--seed",
            str(job),
            "--token",
            "cli-test",
            "--log-format",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    try:
        banner = read_until(process.stdout, b"stats:", 30).decode().splitlines()
        assert "24 meetings at http://127.0.0.1:" in banner[0]
        api = banner[0].rsplit(" ", 1)[1].strip()
        assert banner[1] == "export WEBEX_ACCESS_TOKEN=cli-test"
        request = urllib.request.Request(
            f"{api}/meetings/{meeting_id}", headers={"Authorization": "Bearer cli-test"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response)["id"] == meeting_id
            assert response.headers["trackingid"]
    finally:
        process.send_signal(signal.SIGINT)
        out, err = (stream.decode() for stream in process.communicate(timeout=30))
    assert process.returncode == 0, err
    assert "stopped" in out
    logged = [json.loads(line) for line in err.splitlines()]
    assert {"event": "sandbox.request", "method": "GET", "status": 200}.items() <= logged[0].items()


def test_sandbox_refuses_a_public_host() -> None:
    """--host other than loopback is a usage error, exit 2."""
    result = CliRunner().invoke(main, ["sandbox", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "loopback only" in result.stderr


def test_sandbox_rejects_bad_latency() -> None:
    """A latency that is not MS or MIN-MAX is refused before anything starts."""
    result = CliRunner().invoke(main, ["sandbox", "--latency-ms", "250-50"])
    assert result.exit_code == 2
    assert "latency" in result.stderr


@pytest.mark.parametrize(
    ("meetings", "hosts", "first", "generated", "hosts_needed"),
    [
        (
            "40",
            "4",
            "40 meetings",
            "16 series, 24 scheduled occurrences and 0 meeting instances (in progress or ended), "
            "of 4 hosts",
            "55",
        ),
        (
            "1",
            "10",
            "1 meeting",
            "1 series, 0 scheduled occurrences and 0 meeting instances (in progress or ended), "
            "of 1 host (10 hosts in List People)",
            "67",
        ),
    ],
)
def test_sandbox_generates_as_many_meetings_as_asked(
    meetings: str, hosts: str, first: str, generated: str, hosts_needed: str
) -> None:
    """--meetings N serves N meetings, says what they are (counted in words: 1 meeting, the
    hosts that have meetings) and which rare kinds need more."""
    process = SandboxProcess.start("--quiet", "--meetings", meetings, "--hosts", hosts)
    try:
        lines = process.banner.splitlines()
    finally:
        process.stop()
    assert lines[0].startswith(f"bulkpatch sandbox: {first} at http://127.0.0.1:")
    assert lines[1] == f"generated: {generated}"
    assert lines[2] == (
        "  no ended, in-progress, ad hoc, personal room or 11-years-ahead meeting: every kind "
        f"needs --meetings {hosts_needed} or more"
    )
