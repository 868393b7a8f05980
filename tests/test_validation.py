"""Validating a whole job: counts, findings across rows, and the same answer however it is split."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import NOW

from bulkpatch.model import Finding
from bulkpatch.validation import FindingStore, JobSummary, validate_job

WriteJob = Callable[[str, str | bytes], Path]


def shared_id_job(write_job: WriteJob, rows: int) -> Path:
    lines = ["meetingId,title"] + [f"same-meeting,title {index}" for index in range(rows)]
    return write_job(f"shared-{rows}.csv", "\n".join(lines) + "\n")


def sqlite_steps(path: Path, rule: str) -> tuple[int, list[Finding]]:
    """SQLite's own count of its work (VM steps, in hundreds) to validate a job, and the
    findings of one rule."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    with FindingStore() as store:
        # The private connection is the only place SQLite's work can be counted from.
        store._db.set_progress_handler(count, 100)
        validate_job(path, NOW, store)
        store._db.set_progress_handler(None, 100)
        found = [f for f in store.findings() if f.rule == rule]
    return steps, found


def test_duplicate_ids_cost_linear_work(write_job: WriteJob) -> None:
    """Finding rows that share a meetingId grows with the rows, not with their square."""
    small, found_small = sqlite_steps(shared_id_job(write_job, 1_000), "duplicate_id")
    large, found_large = sqlite_steps(shared_id_job(write_job, 8_000), "duplicate_id")
    assert len(found_small) == 999
    assert len(found_large) == 7_999
    assert {f.message for f in found_large} == {
        "the same meetingId is on line 2; the rows are applied in file order"
    }
    assert [f.line for f in found_large] == list(range(3, 8_002))
    assert large < 12 * small  # 8 times the rows: 8 times the work (64 times when quadratic)


def mixed_job(write_job: WriteJob) -> Path:
    """Valid rows, reader problems, rule errors, warnings, duplicates and multi-line cells."""
    lines = [
        "meetingId,title,agenda,meetingOptions.enabledChat,meetingOptions.enabledVideo,sendEmail"
    ]
    for index in range(2_500):
        meeting = f"m{index % 700}"
        kind = index % 5
        if kind == 0:
            lines.append(f'{meeting},"t, {index}","line one\nline ""two""",true,,yes')
        elif kind == 1:
            lines.append(f"{meeting},{'x' * 130},,,false,")  # title too long
        elif kind == 2:
            lines.append(f"{meeting},,,maybe,,")  # not a boolean
        elif kind == 3:
            lines.append(f'{meeting},t,"[]",,,1')
        else:
            lines.append(",t,,,,")  # no meetingId
    return write_job("mixed.csv", "\n".join(lines) + "\n")


def outcome(path: Path, workers: int) -> tuple[JobSummary, list[Finding], list[str]]:
    with FindingStore(keep_rows=True) as store:
        summary = validate_job(path, NOW, store, workers=workers)
        kept = [json.dumps([r.line, r.meeting_id, r.body, r.error]) for r in store.kept_rows()]
        return summary, list(store.findings()), kept


def test_workers_give_the_same_answer_as_one_process(write_job: WriteJob) -> None:
    """Checked in two worker processes, a job gives the same summary, findings and rows."""
    path = mixed_job(write_job)
    alone = outcome(path, workers=0)
    shared = outcome(path, workers=2)
    assert shared == alone
    summary = alone[0]
    assert (summary.rows, summary.valid, summary.invalid) == (2_500, 1_000, 1_500)
    assert summary.rules["warning:duplicate_id"] == 2_000 - 560  # ids m0..m699 of kinds 0-3


def test_field_counts_spell_out_members(write_job: WriteJob) -> None:
    """Rows changing each field count dotted members, and only the cells that hold a value."""
    summary = outcome(mixed_job(write_job), workers=0)[0]
    assert summary.fields == {
        "title": 2_000,
        "agenda": 1_000,
        "meetingOptions.enabledChat": 500,
        "meetingOptions.enabledVideo": 500,
        "sendEmail": 1_000,
    }


def test_the_host_a_row_acts_for_is_not_counted_as_a_change(write_job: WriteJob) -> None:
    """hostEmail says whose meeting it is (an admin's job): no "rows changing" hostEmail."""
    path = write_job("host.csv", "meetingId,title,hostEmail\nm1,T,ana@example.com\n")
    with FindingStore() as store:
        assert validate_job(path, NOW, store).fields == {"title": 1}


def test_a_refused_meeting_id_named_twice_is_not_a_duplicate(write_job: WriteJob) -> None:
    """Rows whose meetingId names no meeting (`.`) are not "applied in file order": only their
    errors show; a real id named twice still gets its warning."""
    path = write_job("ids.csv", "meetingId,title\n.,a\n.,b\nm1,c\nm1,d\n")
    with FindingStore() as store:
        validate_job(path, NOW, store)
        found = [(f.line, f.rule) for f in store.findings()]
    assert found == [(2, "meeting_id"), (3, "meeting_id"), (5, "duplicate_id")]


def test_an_occurrence_whose_series_the_job_reschedules_is_warned_of(write_job: WriteJob) -> None:
    """A series' move cancels an occurrence edited on its own, so the occurrence's row warns,
    naming the move's line; not an occurrence of a series only retitled, nor a row refused, nor
    one whose series' move is refused (it is never sent: its occurrences need not wait)."""
    day = (NOW + timedelta(days=30)).date()
    start, end = f"{day}T10:00:00Z", f"{day}T11:00:00Z"
    stamp = f"{day:%Y%m%d}T100000Z"
    path = write_job(
        "series.csv",
        "meetingId,title,start,end,shift\n"
        f"S_{stamp},early edit,,,\n"  # 2: before its series' move
        f"S,,{start},{end},\n"  # 3: moves S
        f"S_{stamp},later edit,,,\n"  # 4: after it
        f"S_{stamp},{'x' * 130},,,\n"  # 5: refused: its error is the finding
        f"T_{stamp},fine,,,\n"  # 6: T is only retitled
        "T,new name,,,\n"
        f"R_{stamp},shifted away,,,\n"  # 8: R moves by an offset
        "R,,,,+1h\n"
        f"a_b_{stamp},not an occurrence id,,,\n"  # 10: an id with an underscore is a meeting
        f"a_b,,{start},{end},\n"
        f"U_{stamp},kept,,,\n"  # 12: U's move is refused (its title), so it moves nothing
        f"U,{'x' * 130},{start},{end},\n",
    )
    with FindingStore() as store:
        summary = validate_job(path, NOW, store)
        lost = [
            (f.line, f.severity.value, f.message.split(":")[0])
            for f in store.findings()
            if f.rule == "occurrence_of_moved_series"
        ]
    moves = "line {} reschedules this occurrence's series"
    assert lost == [
        (2, "warning", moves.format(3)),
        (4, "warning", moves.format(3)),
        (8, "warning", moves.format(9)),
    ]
    assert (summary.rows, summary.valid, summary.invalid) == (12, 10, 2)
    assert summary.rules["warning:occurrence_of_moved_series"] == 3
    assert summary.warnings == 3 + 3 + 2  # the three moves, these three, two duplicate ids


def test_occurrences_of_rescheduled_series_cost_linear_work(write_job: WriteJob) -> None:
    """Matching occurrences to the series a job moves grows with the rows, not their square."""
    day = (NOW + timedelta(days=30)).date()
    stamp = f"{day:%Y%m%d}T100000Z"

    def job(series: int) -> Path:
        lines = ["meetingId,title,start,end"]
        for index in range(series):
            lines += [
                f"s{index},,{day}T10:00:00Z,{day}T11:00:00Z",
                f"s{index}_{stamp},lost,,",
                f"t{index}_{stamp},kept,,",
            ]
        return write_job(f"moves-{series}.csv", "\n".join(lines) + "\n")

    small, found_small = sqlite_steps(job(500), "occurrence_of_moved_series")
    large, found_large = sqlite_steps(job(4_000), "occurrence_of_moved_series")
    assert [f.meeting_id for f in found_small] == [f"s{i}_{stamp}" for i in range(500)]
    assert len(found_large) == 4_000
    assert large < 12 * small  # 8 times the rows: 8 times the work (64 times when quadratic)


WORKER_SCRIPT = """
import sys
from datetime import UTC, datetime
from pathlib import Path

from bulkpatch.validation import FindingStore, validate_job

if __name__ == "__main__":
    with FindingStore() as store:
        validate_job(Path(sys.argv[1]), datetime.now(UTC), store, workers=2)
"""


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


def wait_until(condition: Callable[[], bool]) -> bool:
    """Poll a condition about other processes (there is no event to wait on), for 30 s at most."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_workers_end_when_the_main_process_is_killed(tmp_path: Path) -> None:
    """kill -9 of the validating process leaves no worker behind."""
    start = (datetime.now(UTC) + timedelta(days=3)).replace(tzinfo=None)
    rows = "".join(
        f"m{index},{start:%Y-%m-%dT%H:%M},{start + timedelta(hours=1):%Y-%m-%dT%H:%M},Europe/Berlin\n"
        for index in range(100_000)
    )
    job = tmp_path / "job.csv"
    job.write_text("meetingId,start,end,timezone\n" + rows)
    script = tmp_path / "check.py"
    script.write_text(WORKER_SCRIPT)
    workers: set[int] = set()
    with subprocess.Popen(
        [sys.executable, str(script), str(job)], stderr=subprocess.PIPE, cwd=tmp_path
    ) as main:
        try:
            assert wait_until(lambda: len(children(main.pid)) >= 3)  # 2 workers, 1 tracker
            workers = children(main.pid)
            main.kill()
            _, errors = main.communicate(timeout=30)
            assert main.returncode == -signal.SIGKILL  # still validating when killed
            assert wait_until(lambda: not any(alive(pid) for pid in workers))
        finally:
            main.kill()
            for pid in workers & children(1):  # left behind: end them, the test has failed
                os.kill(pid, signal.SIGKILL)
    assert b"Traceback" not in errors
