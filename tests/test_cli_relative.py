"""Relative reschedules through the real CLI on a sandbox: offsets, shift, DST, kill -9, undo."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cli_helpers import invoke, invoke_on, kill_run_at_row, seeded_sandbox, write_job
from test_relative import next_spring_forward

from bulkpatch.sandbox.process import SandboxProcess

TOKEN = "relative-admin-token"
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime.now(UTC)


def series(meeting_id: str, start: datetime, zone: str = "UTC") -> dict[str, Any]:
    return {
        "id": meeting_id,
        "title": f"Sync {meeting_id[:4]}",
        "meetingType": "meetingSeries",
        "state": "active",
        "timezone": zone,
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=45)).isoformat(),
        "scheduledType": "meeting",
        "hostEmail": "ana@example.com",
    }


FIRST = (NOW + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
UTC_IDS = [f"{index:04d}".ljust(32, "a") for index in range(30)]
#: 09:00 in Berlin the day before the clocks go forward (at least two days from now).
DST_DAY = next_spring_forward(NOW + timedelta(days=2)) - timedelta(days=1)
BERLIN_ID = "berlin".ljust(32, "b")
MEETINGS = [series(mid, FIRST + timedelta(hours=i)) for i, mid in enumerate(UTC_IDS)] + [
    series(BERLIN_ID, DST_DAY.replace(hour=9, tzinfo=BERLIN), "Europe/Berlin")
]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SandboxProcess]:
    """A sandbox holding 30 UTC series three days ahead and one Berlin series before a DST change."""
    process = seeded_sandbox(tmp_path, MEETINGS, TOKEN)
    yield process
    process.stop()


def cli(sandbox: SandboxProcess, *args: str) -> tuple[int, str, str]:
    return invoke_on(sandbox, *args, token=TOKEN)


def times(sandbox: SandboxProcess, meeting_id: str) -> tuple[datetime, datetime]:
    url = f"{sandbox.api_url.removesuffix('/v1')}/_sandbox/meetings/{meeting_id}"
    with urllib.request.urlopen(url, timeout=30) as response:
        meeting = json.load(response)
    return datetime.fromisoformat(meeting["start"]), datetime.fromisoformat(meeting["end"])


def original(meeting_id: str) -> tuple[datetime, datetime]:
    found = next(m for m in MEETINGS if m["id"] == meeting_id)
    return datetime.fromisoformat(found["start"]), datetime.fromisoformat(found["end"])


def test_offsets_validate_offline(tmp_path: Path) -> None:
    """Offsets and shift pass validate; shift beside start, an offset beside a time, a shift
    that is no offset and one beyond ten years are errors naming their rule."""
    job = write_job(
        tmp_path / "job.csv",
        [
            {"meetingId": UTC_IDS[0], "shift": "+1d"},
            {"meetingId": UTC_IDS[1], "start": "+30m", "end": "+1h"},
            {"meetingId": UTC_IDS[2], "shift": "+1d", "start": "+1h"},
            {"meetingId": UTC_IDS[3], "start": "+1h", "end": "2031-01-01T10:00:00Z"},
            {"meetingId": UTC_IDS[4], "shift": "tomorrow"},
            {"meetingId": UTC_IDS[5], "shift": "+600w"},
        ],
    )
    code, out, _ = invoke("validate", str(job), "--format", "json")
    assert code == 2
    report = json.loads(out)
    errors = {(f["line"], f["rule"]) for f in report["findings"] if f["severity"] == "error"}
    assert errors == {(4, "shift_alone"), (5, "relative_mixed"), (6, "offset"), (7, "offset")}
    assert report["valid"] == 2


def test_shift_moves_each_meeting_once_and_plan_shows_where_to(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """plan shows the absolute times an offset comes to; run moves each meeting exactly once;
    running again (a new journal) would move it again, the same journal never does."""
    job = write_job(
        tmp_path / "job.csv",
        [{"meetingId": mid, "shift": "+1d"} for mid in UTC_IDS[:5]]
        + [{"meetingId": UTC_IDS[5], "start": "-30m"}],
    )
    code, out, _ = cli(site, "plan", str(job), "--format", "json")
    assert code == 0, out
    plan = json.loads(out)
    first = next(row for row in plan["rows"] if row["line"] == 2)
    start, end = original(UTC_IDS[0])
    moved = {c["field"]: datetime.fromisoformat(c["new"]) for c in first["changes"]}
    assert moved == {"start": start + timedelta(days=1), "end": end + timedelta(days=1)}
    code, out, _ = cli(site, "run", str(job))
    assert code == 0, out
    code, out, _ = cli(site, "run", str(job))
    assert "this run  0 rows" in out
    for mid in UTC_IDS[:5]:
        start, end = original(mid)
        assert times(site, mid) == (start + timedelta(days=1), end + timedelta(days=1))
    start, end = original(UTC_IDS[5])
    assert times(site, UTC_IDS[5]) == (start - timedelta(minutes=30), end)
    assert cli(site, "undo", str(job), "--run")[0] == 0
    assert all(times(site, mid) == original(mid) for mid in UTC_IDS[:6])


def test_a_day_keeps_the_wall_clock_time_across_dst(site: SandboxProcess, tmp_path: Path) -> None:
    """shift +1d from 09:00 Berlin on the day before the clocks go forward lands at 09:00:
    23 hours later, not 24."""
    job = write_job(tmp_path / "job.csv", [{"meetingId": BERLIN_ID, "shift": "+1d"}])
    code, out, _ = cli(site, "run", str(job))
    assert code == 0, out
    start, end = times(site, BERLIN_ID)
    before, _ = original(BERLIN_ID)
    assert start.astimezone(BERLIN).strftime("%H:%M") == "09:00"
    assert start - before == timedelta(hours=23)
    assert end - start == timedelta(minutes=45)


def test_an_offset_into_the_past_fails_its_row_unsent(site: SandboxProcess, tmp_path: Path) -> None:
    """-1w from a meeting three days ahead is in the past: the row fails, nothing is sent."""
    job = write_job(tmp_path / "job.csv", [{"meetingId": UTC_IDS[0], "shift": "-1w"}])
    code, out, _ = cli(site, "run", str(job))
    assert code == 1, out
    assert "PATCH 200" not in site.stats()["requests"]
    status = invoke("status", str(job))[1]
    assert "shift -1w comes to a time the API refuses" in status


def test_kill_during_a_relative_run_never_shifts_twice(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """kill -9 mid-run, then the same command: every meeting moved by exactly one day."""
    job = write_job(tmp_path / "job.csv", [{"meetingId": mid, "shift": "+1d"} for mid in UTC_IDS])
    kill_run_at_row(site, job, TOKEN)
    assert cli(site, "run", str(job))[0] == 0
    for mid in UTC_IDS:
        start, end = original(mid)
        assert times(site, mid) == (start + timedelta(days=1), end + timedelta(days=1))


@pytest.mark.parametrize("shift", ["+1h", "+2h"])
def test_a_forced_edit_of_done_shift_rows_moves_each_meeting_from_where_it_was(
    site: SandboxProcess, tmp_path: Path, shift: str
) -> None:
    """Done shift +1h rows get a title beside them (the same +1h, or +2h instead): plan --force
    and the run (killed -9 mid-way, then run again) move each meeting `shift` from where it was
    before bulkpatch, never again from where the first run put it; undo puts it back."""
    meetings = UTC_IDS[:20]
    job = write_job(tmp_path / "job.csv", [{"meetingId": mid, "shift": "+1h"} for mid in meetings])
    assert cli(site, "run", str(job))[0] == 0
    rows = [
        {"meetingId": mid, "shift": shift, "title": f"New {i}"} for i, mid in enumerate(meetings)
    ]
    write_job(job, rows)
    hours = timedelta(hours=int(shift[1:-1]))
    code, out, err = cli(site, "plan", str(job), "--force", "--format", "json")
    assert code == 0, out + err
    first = next(row for row in json.loads(out)["rows"] if row["line"] == 2)
    start, _ = original(meetings[0])
    moved = {c["field"]: c["new"] for c in first["changes"] if c["field"] == "start"}
    assert {f: datetime.fromisoformat(v) for f, v in moved.items()} == (
        {"start": start + hours} if hours != timedelta(hours=1) else {}
    )
    kill_run_at_row(site, job, TOKEN)
    code, out, err = cli(site, "run", str(job))
    assert code == 0, out + err
    for mid in meetings:
        start, end = original(mid)
        assert times(site, mid) == (start + hours, end + hours)
    assert cli(site, "undo", str(job), "--run")[0] == 0
    assert all(times(site, mid) == original(mid) for mid in meetings)


def test_an_offset_row_behind_an_edited_move_of_its_meeting_fails_unsent(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """Rows shift +1h then shift +1d of one meeting ran; the first is edited to +2h and the job
    run with --force: the first moves the meeting from where it was, and the second fails,
    unsent, rather than put it where no row of the file says (exit 1); undo takes it back, and
    the job run after that puts the meeting where its rows, in order, say."""
    mid = UTC_IDS[25]
    start, end = original(mid)
    job = write_job(
        tmp_path / "job.csv",
        [{"meetingId": mid, "shift": "+1h"}, {"meetingId": mid, "shift": "+1d"}],
    )
    assert cli(site, "run", str(job))[0] == 0
    assert times(site, mid) == (start + timedelta(hours=25), end + timedelta(hours=25))
    write_job(job, [{"meetingId": mid, "shift": "+2h"}, {"meetingId": mid, "shift": "+1d"}])
    code, out, err = cli(site, "run", str(job), "--force")
    assert code == 1, out + err
    assert times(site, mid) == (start + timedelta(hours=2), end + timedelta(hours=2))
    _, exported, _ = cli(site, "export", str(job), "--format", "jsonl")
    second = json.loads(exported.splitlines()[1])
    assert (second["status"], "an earlier row of this meeting moves it" in second["error"]) == (
        "failed",
        True,
    )
    code, out, err = cli(site, "undo", str(job), "--run")
    assert code == 0, out + err
    assert times(site, mid) == (start, end)
    # Undone, every row is to send again, in file order, each from where the last left it.
    code, out, err = cli(site, "run", str(job))
    assert code == 0, out + err
    assert times(site, mid) == (start + timedelta(hours=26), end + timedelta(hours=26))
