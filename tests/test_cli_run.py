"""`bulkpatch run`, `status` and `export`: the real CLI against the real sandbox on loopback."""

from __future__ import annotations

import csv
import json
import os
import signal
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_helpers import (
    SERIES,
    TOKEN,
    half_invalid_job,
    invoke,
    run_args,
    titles_job,
    write_job,
)
from click.testing import CliRunner

from bulkpatch.cli import main
from bulkpatch.cli.common import plural
from bulkpatch.cli.summary import summarise
from bulkpatch.engine import RunCounts, StopReason
from bulkpatch.journal import Journal, RowStatus
from bulkpatch.sandbox.process import SandboxProcess, read_until
from bulkpatch.workflows.run import RunReport


def test_run_sends_every_row_and_resume_sends_nothing(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """A clean run exits 0 with every row succeeded; running it again sends nothing."""
    sandbox = start_sandbox()
    job = titles_job(tmp_path / "job.csv", 30)
    code, out, err = invoke(*run_args(sandbox, job))
    assert code == 0, out + err
    assert "30 succeeded, 0 failed" in out
    journal = tmp_path / "job.csv.journal"
    assert f"journal   {journal}" in out
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    # Each meeting is read first (its before-values are what undo restores), then patched; one
    # more GET reads the token's person, whose organisation the journal is bound to.
    assert sandbox.stats()["requests"] == {"GET 200": 31, "PATCH 200": 30}
    code, out, _ = invoke(*run_args(sandbox, job))
    assert code == 0
    assert "this run  0 rows" in out
    assert sandbox.stats()["requests"] == {"GET 200": 32, "PATCH 200": 30}  # no meeting again
    code, exported, _ = invoke("export", str(journal))
    records = list(csv.DictReader(exported.splitlines()))
    assert [r["row"] for r in records] == [str(line) for line in range(2, 32)]
    assert {r["status"] for r in records} == {"succeeded"}
    assert all(
        r["trackingId"].startswith("SANDBOX_") and r["finishedAt"].endswith("Z") for r in records
    )


def test_invalid_job_exits_2_and_sends_nothing(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """Any invalid row: the errors are shown, exit 2, no request, no journal."""
    sandbox = start_sandbox()
    job = half_invalid_job(tmp_path)
    code, out, err = invoke(*run_args(sandbox, job))
    assert code == 2
    assert f"{job}:3: error: title" in out
    assert "Nothing was sent" in err
    assert not (tmp_path / "job.csv.journal").exists()
    assert sandbox.stats()["requests"] == {}


def test_skip_invalid_sends_the_rest_and_exits_1(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """--skip-invalid records invalid rows as invalid, sends the others, exit 1."""
    sandbox = start_sandbox()
    job = half_invalid_job(tmp_path)
    code, out, _ = invoke(*run_args(sandbox, job, "--skip-invalid"))
    assert code == 1
    assert "1 succeeded, 0 failed, 1 invalid" in out
    _, exported, _ = invoke(
        "export", str(tmp_path / "job.csv.journal"), "--format", "jsonl", "--only", "invalid"
    )
    (record,) = [json.loads(line) for line in exported.splitlines()]
    assert (record["row"], record["status"]) == (3, "invalid")
    assert "title takes at most 128 characters" in record["error"]


def test_failed_rows_exit_1_and_come_back_as_a_job(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """Rows the API refuses fail with its message; --only failed --as-job rebuilds them as a job."""
    sandbox = start_sandbox()
    rows = [
        {"meetingId": SERIES[0], "title": "fine", "agenda": ""},
        {"meetingId": "f" * 32, "title": "gone", "agenda": "line one\nline two"},
    ]
    job = write_job(tmp_path / "job.csv", rows)
    code, out, _ = invoke(*run_args(sandbox, job))
    assert code == 1
    assert "1 succeeded, 1 failed" in out
    journal = tmp_path / "job.csv.journal"
    _, exported, _ = invoke("export", str(journal), "--only", "failed")
    assert invoke("export", str(journal), "--only", "failed", "-o", "-")[1] == exported
    assert not Path("-").exists()  # "-" is standard output, never a file
    (record,) = list(csv.DictReader(exported.splitlines()))
    assert (record["httpStatus"], record["attempts"]) == ("404", "1")
    assert "could not be found" in record["error"]
    fix = tmp_path / "fix.csv"
    code, _, err = invoke("export", str(journal), "--only", "failed", "--as-job", "-o", str(fix))
    assert code == 0
    assert "1 failed row written as a CSV job" in err
    assert list(csv.DictReader(fix.read_text().splitlines(keepends=True))) == [rows[1]]
    # No row is skipped: the earlier fix.csv is replaced all the same, never left to run again.
    code, _, err = invoke("export", str(journal), "--only", "skipped", "--as-job", "-o", str(fix))
    assert code == 0
    assert f"0 skipped rows written as a CSV job to {fix}: its header only" in err
    assert fix.read_text().splitlines() == job.read_text().splitlines()[:1]


def test_wrong_token_exits_3_and_leaves_rows_pending(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """401 stops the run (exit 3) without marking any row failed."""
    sandbox = start_sandbox()
    job = titles_job(tmp_path / "job.csv", 10)
    code, out, _ = invoke(*run_args(sandbox, job), token="not-the-token")
    assert code == 3
    assert "refused (401)" in out
    code, status, _ = invoke("status", str(tmp_path / "job.csv.journal"), "--format", "json")
    report = json.loads(status)
    assert report["counts"]["failed"] == 0
    assert report["counts"]["pending"] == 10
    assert report["finished"] is False


def test_journal_held_by_another_run_exits_3(tmp_path: Path) -> None:
    """A second run on a held journal exits 3 and names the holder."""
    job = titles_job(tmp_path / "job.csv", 3)
    with Journal.open_for_run(tmp_path / "job.csv.sandbox.journal"):
        code, _, err = invoke("run", str(job), "--sandbox")
    assert code == 3
    assert f"in use by pid {os.getpid()}" in err


def test_changed_job_file_needs_force(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """Resuming with a changed file is refused (exit 2); with --force only changed rows go again."""
    sandbox = start_sandbox()
    job = titles_job(tmp_path / "job.csv", 5)
    assert invoke(*run_args(sandbox, job))[0] == 0
    job.write_text(job.read_text().replace("Weekly sync 3", "Weekly sync three"))
    code, _, err = invoke(*run_args(sandbox, job))
    assert code == 2
    assert "--force" in err
    code, out, _ = invoke(*run_args(sandbox, job, "--force"))
    assert code == 0
    assert "this run  1 row in" in out
    assert sandbox.stats()["patchesApplied"] == 6


def test_429_storm_has_no_retry_after_violation(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """Far above the server's limit, every row still succeeds and no request jumps a Retry-After."""
    sandbox = start_sandbox("--rate", "80", "--burst", "5")
    job = titles_job(tmp_path / "job.csv", 60)
    code, out, _ = invoke(*run_args(sandbox, job))
    assert code == 0, out
    stats = sandbox.stats()
    assert stats["throttled"] > 0
    assert stats["retryAfterViolations"] == 0, stats["violations"]
    assert stats["patchesApplied"] == 60


def test_dry_run_shows_each_patch_and_sends_nothing(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """--dry-run prints the PATCH of every row, passwords masked, and sends nothing."""
    sandbox = start_sandbox()
    job = write_job(tmp_path / "job.csv", [{"meetingId": "../people/me", "password": "Hunter2!x"}])
    code, out, _ = invoke(*run_args(sandbox, job, "--dry-run"))
    assert code == 0
    assert (
        f'line 2: PATCH {sandbox.api_url}/meetings/..%2Fpeople%2Fme {{"password": "********"}}'
        in out
    )
    assert "Hunter2" not in out
    assert sandbox.stats()["requests"] == {}
    assert not (tmp_path / "job.csv.journal").exists()


def test_a_sandbox_dry_run_names_the_emulator_not_the_site(tmp_path: Path) -> None:
    """--sandbox --dry-run shows the trial's PATCHes going to the loopback emulator; it showed
    the real API's URL, as if a trial would change the site."""
    job = titles_job(tmp_path / "job.csv", 1)
    code, out, _ = invoke("run", str(job), "--sandbox", "--dry-run")
    assert code == 0
    emulator = "http://127.0.0.1:<port of the --sandbox emulator>/v1"
    assert f"line 2: PATCH {emulator}/meetings/{SERIES[0]}" in out
    assert "webexapis.com" not in out


def test_token_and_passwords_never_leak(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """The token is in no output, log, journal byte or export; passwords are masked too."""
    sandbox = start_sandbox()
    rows = [
        {"meetingId": SERIES[0], "password": "Hunter2!x"},
        {"meetingId": "f" * 32, "password": "Hunter2!x"},
    ]
    job = write_job(tmp_path / "job.csv", rows)
    texts = []
    for fmt in ("json", "console"):
        code, out, err = invoke(
            *run_args(
                sandbox,
                job,
                "-v",
                "--log-format",
                fmt,
                "--journal",
                str(tmp_path / f"{fmt}.journal"),
            )
        )
        assert code == 1
        texts += [out, err]
        for export_format in ("csv", "jsonl"):
            texts.append(
                invoke("export", str(tmp_path / f"{fmt}.journal"), "--format", export_format)[1]
            )
        texts.append(invoke("status", str(tmp_path / f"{fmt}.journal"), "--format", "json")[1])
        assert TOKEN.encode() not in (tmp_path / f"{fmt}.journal").read_bytes()
        assert b"Hunter2" not in (tmp_path / f"{fmt}.journal").read_bytes()
    joined = "\n".join(texts)
    assert TOKEN not in joined
    assert "Hunter2" not in joined
    assert '"event": "row.succeeded"' in joined  # -v really logged every row


def spawn_run(sandbox: SandboxProcess, job: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WEBEX_ACCESS_TOKEN": TOKEN}
    return subprocess.Popen(
        [sys.executable, "-m", "bulkpatch", *run_args(sandbox, job), "-v", "--log-format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        bufsize=0,
    )


def test_sigint_stops_cleanly_and_the_same_command_continues(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """Ctrl-C: in-flight requests finish, exit 3; running again finishes the job, exit 0."""
    sandbox = start_sandbox("--latency-ms", "20")
    job = titles_job(tmp_path / "job.csv", 150)
    process = spawn_run(sandbox, job)
    read_until(process.stderr, b'"row.succeeded"', 60)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 3, err.decode()[-2000:]
    assert b"stopped: interrupted" in out
    assert b'"run.interrupted"' in err
    code, status, _ = invoke("status", str(tmp_path / "job.csv.journal"), "--format", "json")
    counts = json.loads(status)["counts"]
    assert 0 < counts["succeeded"] < 150
    assert counts["failed"] == 0
    code, out_text, _ = invoke(*run_args(sandbox, job))
    assert code == 0
    assert "150 succeeded" in out_text
    assert sandbox.stats()["patchesApplied"] <= 150 + 8


def test_sigkill_loses_nothing_committed(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """kill -9 mid-run: on resume every row ends succeeded, at most concurrency rows sent twice."""
    sandbox = start_sandbox("--latency-ms", "5-40")
    job = titles_job(tmp_path / "job.csv", 150)
    process = spawn_run(sandbox, job)
    read_until(process.stderr, b'"row": 40,', 60)
    process.kill()
    process.communicate(timeout=60)
    with Journal.open_read_only(tmp_path / "job.csv.journal") as journal:
        committed = {record.line for record in journal.rows(only=RowStatus.SUCCEEDED)}
    code, out, err = invoke(*run_args(sandbox, job))
    assert code == 0, out
    assert "150 succeeded" in out
    assert '"event": "journal.stale_lock"' in err  # the killed run's lock was taken over
    stats = sandbox.stats()
    assert stats["patchesApplied"] <= 150 + 8
    assert all(stats["patchesPerMeeting"][SERIES[line - 2]] == 1 for line in committed)


def test_dates_in_jobs_are_relative_to_now(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """A reschedule with local times and time zones goes through, dated from today."""
    sandbox = start_sandbox()
    day = (datetime.now(UTC) + timedelta(days=9)).date()
    job = write_job(
        tmp_path / "job.csv",
        [
            {
                "meetingId": SERIES[0],
                "start": f"{day}T09:00:00",
                "end": f"{day}T09:45:00",
                "timezone": "Europe/Berlin",
            }
        ],
    )
    code, out, _ = invoke(*run_args(sandbox, job))
    assert code == 0, out
    with urllib.request.urlopen(
        urllib.request.Request(
            f"{sandbox.api_url}/meetings/{SERIES[0]}", headers={"Authorization": f"Bearer {TOKEN}"}
        ),
        timeout=10,
    ) as response:
        meeting = json.load(response)
    assert meeting["start"].startswith(f"{day}T09:00:00+")
    assert meeting["timezone"] == "Europe/Berlin"


def test_failure_threshold_stops_then_the_fixed_job_finishes(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """30% of ids unknown: --max-failures 10% stops at the threshold (exit 3); fixed, it finishes."""
    sandbox = start_sandbox()
    rows = [
        {"meetingId": ("e" * 31 + f"{i % 10}") if i % 10 < 3 else SERIES[i], "title": f"t{i}"}
        for i in range(150)
    ]
    job = write_job(tmp_path / "job.csv", rows)
    code, out, _ = invoke(*run_args(sandbox, job, "--max-failures", "10%", "--concurrency", "1"))
    assert code == 3
    assert "stopped: too many failures (30 of 100 rows done this run)" in out
    report = json.loads(invoke("status", str(tmp_path / "job.csv.journal"), "--format", "json")[1])
    assert (
        report["counts"]["failed"],
        report["counts"]["succeeded"],
        report["counts"]["pending"],
    ) == (30, 70, 50)
    fixed = [{**row, "meetingId": SERIES[i]} for i, row in enumerate(rows)]
    write_job(job, fixed)
    code, out, _ = invoke(
        *run_args(sandbox, job, "--force", "--retry-failed", "--max-failures", "10%")
    )
    assert code == 0, out
    assert "150 succeeded, 0 failed" in out


def test_deadline_in_the_past_is_a_usage_error(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """A deadline already passed is refused (exit 2) before anything is sent: running the same
    command again could never continue it."""
    sandbox = start_sandbox()
    job = titles_job(tmp_path / "job.csv", 5)
    passed = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    code, _, err = invoke(*run_args(sandbox, job, "--deadline", passed))
    assert code == 2
    assert "already passed" in err
    assert sandbox.stats()["requests"] == {}
    assert not (tmp_path / "job.csv.journal").exists()


def test_bad_deadline_is_a_usage_error(tmp_path: Path) -> None:
    """A deadline that does not parse: exit 2 before anything happens."""
    job = titles_job(tmp_path / "job.csv", 1)
    code, _, err = invoke("run", str(job), "--sandbox", "--deadline", "soonish")
    assert code == 2
    assert "--deadline" in err


def test_json_logs_have_stable_keys_and_quiet_keeps_the_summary(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """Every JSON log line parses with event, level, timestamp; --quiet keeps only warnings,
    errors and the run.summary with every count."""
    sandbox = start_sandbox()
    job = write_job(
        tmp_path / "job.csv",
        [{"meetingId": SERIES[0], "title": "a"}, {"meetingId": "f" * 32, "title": "b"}],
    )
    _, _, err = invoke(*run_args(sandbox, job, "-v", "--log-format", "json"))
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert all({"event", "level", "timestamp"} <= event.keys() for event in events)
    by_name = {event["event"]: event for event in events}
    assert {"row", "meetingId", "status", "attempt", "httpStatus", "trackingId"} <= by_name[
        "row.succeeded"
    ].keys()
    assert by_name["row.failed"]["httpStatus"] == 404
    summary = by_name["run.summary"]
    assert {
        "succeeded",
        "failed",
        "invalid",
        "pending",
        "skipped",
        "outcome",
        "exitCode",
        "elapsedSeconds",
    } <= summary.keys()
    _, _, quiet_err = invoke(
        *run_args(
            sandbox,
            job,
            "--quiet",
            "--log-format",
            "json",
            "--journal",
            str(tmp_path / "q.journal"),
        )
    )
    quiet = [json.loads(line) for line in quiet_err.splitlines() if line.startswith("{")]
    assert {event["event"] for event in quiet} == {"row.failed", "run.summary"}


def refresh_env(refresh_token: str) -> dict[str, str]:
    return {
        "WEBEX_ACCESS_TOKEN": TOKEN,
        "WEBEX_REFRESH_TOKEN": refresh_token,
        "WEBEX_CLIENT_ID": "client",
        "WEBEX_CLIENT_SECRET": "secret",
    }


def test_expiring_tokens_are_refreshed_once_per_expiry(tmp_path: Path) -> None:
    """A run longer than the token's life refreshes it, once per expiry, and finishes (exit 0)."""
    seed = titles_job(tmp_path / "job.csv", 150)
    sandbox = SandboxProcess.start(
        "--quiet",
        "--token",
        TOKEN,
        "--token-uses",
        "40",
        "--refresh-token",
        "R-1",
        "--seed",
        str(seed),
    )
    try:
        result = CliRunner(env=refresh_env("R-1")).invoke(
            main, [*run_args(sandbox, seed, "--log-format", "json")]
        )
        stats = sandbox.stats(meetings=False)
    finally:
        sandbox.stop()
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "150 succeeded" in result.stdout
    assert stats["tokenRefreshes"] == 7  # 150 rows, a GET and a PATCH each, 40 per token
    assert stats["tokenRefreshes"] == stats["expiredTokensSeen"]
    assert '"event": "auth.refreshed"' in result.stderr
    assert "sbx-" not in result.stdout + result.stderr
    assert "R-1" not in result.stdout + result.stderr


def test_failed_refresh_stops_with_exit_3(tmp_path: Path) -> None:
    """A refresh the API refuses stops the run (exit 3); the rows stay pending."""
    seed = titles_job(tmp_path / "job.csv", 100)
    sandbox = SandboxProcess.start(
        "--quiet",
        "--token",
        TOKEN,
        "--token-uses",
        "30",
        "--refresh-token",
        "R-1",
        "--seed",
        str(seed),
    )
    try:
        result = CliRunner(env=refresh_env("not-R-1")).invoke(
            main, [*run_args(sandbox, seed, "--log-format", "json")]
        )
    finally:
        sandbox.stop()
    assert result.exit_code == 3
    assert '"event": "auth.refresh_failed"' in result.stderr
    assert "could not be refreshed" in result.stdout
    counts = json.loads(invoke("status", str(tmp_path / "job.csv.journal"), "--format", "json")[1])[
        "counts"
    ]
    assert counts["failed"] == 0
    # 30 requests accepted: at most 15 rows read and patched; the rest wait, none failed.
    assert counts["succeeded"] + counts["pending"] == 100
    assert counts["succeeded"] <= 15


def test_refreshed_tokens_go_back_to_the_token_file(tmp_path: Path) -> None:
    """With --token-file, the refreshed token is written back atomically, owner-only."""
    seed = titles_job(tmp_path / "job.csv", 120)
    token_file = tmp_path / "token.json"
    token_file.write_text(
        json.dumps(
            {"access_token": TOKEN, "refresh_token": "R-1", "client_id": "c", "client_secret": "s"}
        )
    )
    token_file.chmod(0o600)
    sandbox = SandboxProcess.start(
        "--quiet",
        "--token",
        TOKEN,
        "--token-uses",
        "50",
        "--refresh-token",
        "R-1",
        "--seed",
        str(seed),
    )
    try:
        result = CliRunner(env={}).invoke(
            main, [*run_args(sandbox, seed, "--token-file", str(token_file))]
        )
    finally:
        sandbox.stop()
    assert result.exit_code == 0, result.stdout + result.stderr
    saved = json.loads(token_file.read_text())
    assert saved["access_token"].startswith("sbx-")
    assert (saved["refresh_token"], saved["client_id"], saved["client_secret"]) == ("R-1", "c", "s")
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_failed_jsonl_rows_come_back_as_jsonl(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """--as-job keeps the input's format: a JSONL job gives back its failed lines verbatim."""
    sandbox = start_sandbox()
    lines = [
        json.dumps({"meetingId": SERIES[0], "changes": {"title": "fine"}}),
        json.dumps(
            {"meetingId": "d" * 32, "changes": {"title": "gone", "agenda": "x"}, "#why": "typo"}
        ),
    ]
    job = tmp_path / "job.jsonl"
    job.write_text("\n".join(lines) + "\n")
    assert invoke(*run_args(sandbox, job))[0] == 1
    fix = tmp_path / "fix.jsonl"
    code, _, err = invoke(
        "export",
        str(tmp_path / "job.jsonl.journal"),
        "--only",
        "failed",
        "--as-job",
        "-o",
        str(fix),
    )
    assert code == 0, err
    assert fix.read_text() == lines[1] + "\n"


@pytest.mark.parametrize(
    ("count", "noun", "nouns", "said"),
    [
        (1, "meeting", None, "1 meeting"),
        (0, "meeting", None, "0 meetings"),
        (2, "meeting", None, "2 meetings"),
        (1000, "meeting", None, "1,000 meetings"),
        (1, "retry", "retries", "1 retry"),
        (3, "retry", "retries", "3 retries"),
    ],
)
def test_plural_says_one_and_many(count: int, noun: str, nouns: str | None, said: str) -> None:
    """A count reads as people write it: the singular for one, thousands separated."""
    assert plural(count, noun, nouns) == said


def test_a_run_the_deadline_stopped_asks_for_a_deadline_still_ahead(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stopped by --deadline, the summary's next step asks for a deadline still ahead: the same
    command with a full moment now passed is refused (exit 2)."""
    report = RunReport(
        StopReason.DEADLINE,
        "",
        tmp_path / "job.csv",
        RunCounts(),
        dict.fromkeys(RowStatus, 0),
        1.0,
        tmp_path / "job.csv.journal",
        False,
    )
    assert summarise(report, None) == 3
    assert "run the same command again to continue, with a --deadline still ahead" in (
        capsys.readouterr().out
    )
