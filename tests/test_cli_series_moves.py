"""A job that moves a series and edits its occurrences: no edit is reported done and then lost.

Moving a series cancels every occurrence edited on its own and re-stamps the others, so the
run sends such occurrence rows after every other row: they meet the series as the move left it.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_helpers import SERIES, TOKEN, invoke, invoke_on, run_args, stored, write_job

from bulkpatch.sandbox.process import SandboxProcess


def stamp(days: int) -> str:
    """An occurrence's stamp ``days`` from today, at 10:00 UTC."""
    moment = datetime.now(UTC) + timedelta(days=days)
    return f"{moment:%Y%m%d}T100000Z"


def moved_times() -> dict[str, str]:
    """A series' new start and end: 15:00 to 16:00 UTC, twelve days from today."""
    start = (datetime.now(UTC) + timedelta(days=12)).replace(
        hour=15, minute=0, second=0, microsecond=0
    )
    return {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}


def exported(journal: Path) -> dict[str, dict[str, str]]:
    """Each row's exported result, by line."""
    code, out, err = invoke("export", str(journal))
    assert code == 0, err
    return {record["row"]: record for record in csv.DictReader(out.splitlines())}


def seeded(job: Path) -> SandboxProcess:
    """A sandbox holding every meeting the job names (the occurrences in their series)."""
    return SandboxProcess.start("--quiet", "--token", TOKEN, "--seed", str(job))


@pytest.mark.parametrize("concurrency", ["1", "8"])
def test_an_occurrence_edit_a_series_move_would_cancel_is_not_reported_done(
    tmp_path: Path, concurrency: str
) -> None:
    """The occurrence rows around a series' move go after it and fail with a reason; before,
    the one above it succeeded, and the move then cancelled it on the server."""
    series = SERIES[0]
    job = write_job(
        tmp_path / "job.csv",
        [
            {"meetingId": f"{series}_{stamp(10)}", "title": "Edited occurrence"},
            {"meetingId": series, **moved_times()},
            {"meetingId": f"{series}_{stamp(17)}", "title": "Another"},
        ],
    )
    sandbox = seeded(job)
    try:
        code, planned, err = invoke_on(sandbox, "plan", str(job), "--format", "json", token=TOKEN)
        assert code == 0, err
        code, out, err = invoke(*run_args(sandbox, job, "--concurrency", concurrency))
        stats = sandbox.stats()
    finally:
        sandbox.stop()
    assert code == 1, out + err
    assert "1 succeeded, 2 failed" in out
    assert stats["cancelledOccurrences"] == 0
    notes = {row["line"]: row["reason"] for row in json.loads(planned)["rows"]}
    assert notes[3] is None
    for number in (2, 4):
        assert notes[number].startswith("sent after every other row: line 3 reschedules its series")
    results = exported(tmp_path / "job.csv.journal")
    assert results["3"]["status"] == "succeeded"
    for line in ("2", "4"):
        assert results[line]["status"] == "failed"
        assert results[line]["httpStatus"] == "404"
        assert "if that row moved the series" in results[line]["error"]


def test_a_series_row_that_moves_nothing_leaves_its_occurrence_edits_done(tmp_path: Path) -> None:
    """A series row giving the times it already has (a pulled job) is skipped, and the
    occurrence rows after it are made: waiting for it costs them nothing."""
    series = SERIES[1]
    occurrence = f"{series}_{stamp(10)}"
    seed = write_job(tmp_path / "seed.csv", [{"meetingId": occurrence}])
    sandbox = seeded(seed)
    try:
        now = stored(sandbox, series)
        job = write_job(
            tmp_path / "job.csv",
            [
                {"meetingId": occurrence, "title": "Edited occurrence"},
                {"meetingId": series, "start": now["start"], "end": now["end"]},
            ],
        )
        code, out, err = invoke(*run_args(sandbox, job))
        edited = stored(sandbox, occurrence)
    finally:
        sandbox.stop()
    assert code == 0, out + err
    assert "1 succeeded, 0 failed, 0 invalid, 1 skipped" in out
    assert edited["title"] == "Edited occurrence"


def moved_series_job(path: Path, series: list[str]) -> Path:
    """Each series moved to 15:00 in twelve days, and one occurrence of each edited after it."""
    rows: list[dict[str, str]] = []
    for meeting in series:
        rows.append({"meetingId": meeting, **moved_times()})
        rows.append({"meetingId": f"{meeting}_{stamp(10)}", "title": "Edited occurrence"})
    return write_job(path, rows)


def edited_then_moved(path: Path, series: str, join_before: str, *more: dict[str, str]) -> Path:
    """An occurrence of ``series`` edited, then the series moved with ``joinBeforeHostMinutes``
    of ``join_before``: 45 (webinars only) makes the server refuse that row for a meeting."""
    rows = [
        {"meetingId": f"{series}_{stamp(10)}", "title": "Edited occurrence"},
        {"meetingId": series, **moved_times(), "joinBeforeHostMinutes": join_before},
    ]
    return write_job(path, [*rows, *more])


@pytest.mark.parametrize("command", ["run", "plan"])
def test_occurrences_behind_a_series_move_do_not_pass_for_a_wrong_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """A retry of the occurrence rows a move left failing (404) runs to its end: their 404s,
    the first answers of that run, are no sign of a wrong site, token or organisation."""
    monkeypatch.setenv("BULKPATCH_MAX_INITIAL_404", "2")
    job = moved_series_job(tmp_path / "job.csv", SERIES[2:5])
    sandbox = seeded(job)
    try:
        code, out, err = invoke(*run_args(sandbox, job))
        assert code == 1, out + err
        assert "3 succeeded, 3 failed" in out
        if command == "run":
            code, out, err = invoke(*run_args(sandbox, job, "--retry-failed"))
        else:
            code, out, err = invoke_on(sandbox, "plan", str(job), "--retry-failed", token=TOKEN)
    finally:
        sandbox.stop()
    assert "answered 404" not in out + err
    assert code == (1 if command == "run" else 0), out + err


def test_a_404_behind_a_series_row_that_failed_is_not_blamed_on_a_move(tmp_path: Path) -> None:
    """An occurrence that is not there, behind a series row the server refused, fails without
    the claim that its series was rescheduled: the reason given holds whichever way it went."""
    series = SERIES[6]
    seed = write_job(tmp_path / "seed.csv", [{"meetingId": series}])
    sandbox = seeded(seed)
    job = write_job(
        tmp_path / "job.csv",
        [
            {"meetingId": f"{series}_{stamp(10)}", "title": "Edited occurrence"},
            # joinBeforeHostMinutes is for webinars only: refused for a meeting
            {"meetingId": series, **moved_times(), "joinBeforeHostMinutes": "45"},
        ],
    )
    try:
        code, out, err = invoke(*run_args(sandbox, job))
    finally:
        sandbox.stop()
    assert code == 1, out + err
    results = exported(tmp_path / "job.csv.journal")
    assert results["3"]["httpStatus"] == "400"
    error = results["2"]["error"]
    assert results["2"]["httpStatus"] == "404"
    assert "rescheduled its series first" not in error
    assert "if that row moved the series" in error


def test_an_edit_a_later_run_moves_its_series_over_is_sent_again_after_the_move(
    tmp_path: Path,
) -> None:
    """The series row refused, the occurrence edit is made (succeeded); the row corrected and
    run again, the move cancels that edit: the occurrence row is sent again after the move and
    says so (404), where it stayed succeeded for an edit the server had dropped."""

    def job(join_before: str) -> Path:
        return edited_then_moved(tmp_path / "job.csv", SERIES[7], join_before)

    sandbox = seeded(job("45"))
    try:
        code, out, err = invoke(*run_args(sandbox, job("45")))
        assert code == 1, out + err
        assert exported(tmp_path / "job.csv.journal")["2"]["status"] == "succeeded"
        code, planned, err = invoke_on(
            sandbox, "plan", str(job("15")), "--force", "--format", "json", token=TOKEN
        )
        assert code == 0, err
        code, out, err = invoke(*run_args(sandbox, job("15"), "--force"))
        stats = sandbox.stats()
    finally:
        sandbox.stop()
    reasons = {row["line"]: row["reason"] for row in json.loads(planned)["rows"]}
    assert list(reasons) == [2, 3]
    assert reasons[2].startswith("sent again after every other row: line 3 reschedules")
    assert code == 1, out + err
    assert stats["cancelledOccurrences"] == 1
    results = exported(tmp_path / "job.csv.journal")
    assert results["3"]["status"] == "succeeded"
    assert (results["2"]["status"], results["2"]["httpStatus"]) == ("failed", "404")
    assert "if that row moved the series" in results["2"]["error"]


def test_a_dry_run_lists_the_rows_in_the_order_a_run_sends_them(tmp_path: Path) -> None:
    """--dry-run shows the occurrence rows behind their series' move last, saying why."""
    job = moved_series_job(tmp_path / "job.csv", SERIES[8:10])
    code, out, err = invoke("run", str(job), "--dry-run")
    assert code == 0, err
    listed = [line for line in out.splitlines() if line.startswith("line ")]
    assert [int(line.split()[1].rstrip(":")) for line in listed] == [2, 4, 3, 5]
    assert [line.endswith("(sent last: this job reschedules its series)") for line in listed] == [
        False,
        False,
        True,
        True,
    ]


def test_an_edit_a_stopped_run_moved_its_series_over_is_sent_again_by_the_next(
    tmp_path: Path,
) -> None:
    """A run that moves the series and stops before its occurrence rows go again (here, at
    its first failure): the next run sends them, where they stayed succeeded for an edit the
    move had cancelled."""

    def job(join_before: str) -> Path:
        # The third row is refused whatever the run: its joinBeforeHostMinutes is 45.
        refused = {"meetingId": SERIES[12], "joinBeforeHostMinutes": "45", "title": join_before}
        return edited_then_moved(tmp_path / "job.csv", SERIES[11], join_before, refused)

    sandbox = seeded(job("45"))
    try:
        assert invoke(*run_args(sandbox, job("45")))[0] == 1
        stop_at_first_failure = ("--force", "--max-failures", "0", "--concurrency", "1")
        code, out, err = invoke(*run_args(sandbox, job("15"), *stop_at_first_failure))
        assert code == 3, out + err
        assert exported(tmp_path / "job.csv.journal")["2"]["status"] == "succeeded"
        code, out, err = invoke(*run_args(sandbox, job("15")))
        stats = sandbox.stats()
    finally:
        sandbox.stop()
    assert code == 1, out + err
    assert stats["cancelledOccurrences"] == 1
    results = exported(tmp_path / "job.csv.journal")
    assert results["3"]["status"] == "succeeded"
    assert (results["2"]["status"], results["2"]["httpStatus"]) == ("failed", "404")


def test_occurrences_a_move_left_without_a_meeting_do_not_trip_max_failures(
    tmp_path: Path,
) -> None:
    """--max-failures 0: the occurrence rows behind their series' moves all fail (404) at the
    end of the run, as validate foretold; the run finishes (exit 1) rather than stopping at
    the first of them (exit 3) on every resume, as before."""
    job = moved_series_job(tmp_path / "job.csv", SERIES[13:16])
    sandbox = seeded(job)
    try:
        code, out, err = invoke(*run_args(sandbox, job, "--max-failures", "0"))
    finally:
        sandbox.stop()
    assert code == 1, out + err
    assert "3 succeeded, 3 failed" in out
