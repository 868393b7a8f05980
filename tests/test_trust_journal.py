"""The hostile trial, part A: the journal knows what it is the journal of (the real CLI)."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import SERIES, TOKEN, invoke, run_args, titles_job, write_job

from bulkpatch import export as export_module
from bulkpatch.sandbox.process import SandboxProcess, read_until


def test_a_sandbox_trial_never_counts_for_the_real_site(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """A --sandbox run keeps its own journal: the real run after it sends every row."""
    site = start_sandbox()
    job = titles_job(tmp_path / "job.csv", 24)
    code, out, _ = invoke("run", str(job), "--sandbox")
    assert code == 0, out
    assert "job.csv.sandbox.journal" in out
    assert not (tmp_path / "job.csv.journal").exists()
    code, out, _ = invoke(*run_args(site, job))
    assert code == 0, out
    assert "this run  24 rows" in out
    assert site.stats()["patchesApplied"] == 24


def test_a_journal_is_refused_against_another_target(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """Resuming a real run's journal with --sandbox (or elsewhere) is exit 2, naming both."""
    site = start_sandbox()
    job = titles_job(tmp_path / "job.csv", 5)
    journal = tmp_path / "job.csv.journal"
    assert invoke(*run_args(site, job))[0] == 0
    code, _, err = invoke("run", str(job), "--sandbox", "--journal", str(journal))
    assert code == 2
    assert f"records a run against {site.api_url}" in err
    assert "not the sandbox" in err
    elsewhere = site.api_url.replace("127.0.0.1", "localhost")
    code, _, err = invoke(
        *run_args(site, job, "--base-url", elsewhere)[:3], "--base-url", elsewhere
    )
    assert code == 2


@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_journal_of_another_job_is_refused_even_with_force(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path, command: str
) -> None:
    """Another job file given a job's journal is refused, --force or not, and the journal stays
    that job's (--force synced the other job's rows over it, and undo then mixed the two); the
    job moved (its old name gone), edited or not, is the same job, and goes on."""
    site = start_sandbox()
    first, other = titles_job(tmp_path / "a.csv", 3), titles_job(tmp_path / "b.csv", 3, 3)
    journal = tmp_path / "a.csv.journal"
    assert invoke(*run_args(site, first))[0] == 0
    for force in ([], ["--force"]):
        args = [str(other), "--base-url", site.api_url, "--journal", str(journal), *force]
        code, _, err = invoke(command, *args)
        assert code == 2, err
        assert f"holds the outcomes of another job file, {first.resolve()}" in err
    code, out, _ = invoke("status", str(journal), "--format", "json")
    assert json.loads(out)["job"] == str(first.resolve())
    moved = tmp_path / "renamed.csv"
    first.rename(moved)
    assert invoke(*run_args(site, moved, "--journal", str(journal)))[0] == 0
    titles_job(moved, 3, 1)  # moved, then edited: its old name is gone, so it is that job
    assert invoke(*run_args(site, moved, "--journal", str(journal), "--force"))[0] == 0


@pytest.mark.parametrize("onto", ["job", "journal"])
def test_export_never_writes_onto_its_inputs(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path, onto: str
) -> None:
    """-o naming the job file or the journal (or a link to one) is refused; both stay whole."""
    site = start_sandbox()
    job = write_job(tmp_path / "fix.csv", [{"meetingId": "f" * 32, "title": "gone"}])
    assert invoke(*run_args(site, job))[0] == 1
    journal = tmp_path / "fix.csv.journal"
    target = job if onto == "job" else journal
    link = tmp_path / "link.out"
    link.symlink_to(target)
    before = (job.read_bytes(), journal.read_bytes())
    for output in (target, link):
        code, _, err = invoke(
            "export", str(journal), "--only", "failed", "--as-job", "-o", str(output)
        )
        assert code == 2
        assert "refusing to write onto" in err
    assert (job.read_bytes(), journal.read_bytes()) == before


def test_the_hint_after_a_failed_run_never_names_the_job(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """After failed rows the summary suggests the same run with --retry-failed (file order
    kept in its journal), and an export that shows why, which works and writes no file."""
    site = start_sandbox()
    job = write_job(tmp_path / "fix.csv", [{"meetingId": "f" * 32, "title": "gone"}])
    code, out, _ = invoke(*run_args(site, job))
    assert code == 1
    (hint,) = [line for line in out.splitlines() if line.startswith("  next")]
    assert "again with --retry-failed" in hint
    args = hint.split("why each failed: bulkpatch ", 1)[1].rstrip(")").split()
    code, shown, _ = invoke(*args)
    assert code == 0
    assert "gone" in shown or "f" * 32 in shown
    assert not list(tmp_path.glob("fix.*.csv"))  # shown, not written beside the job
    assert job.read_text().count("\n") == 2


def test_a_failed_export_leaves_no_half_file(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export that breaks midway leaves neither a truncated output nor a temporary file."""
    site = start_sandbox()
    job = titles_job(tmp_path / "job.csv", 3)
    assert invoke(*run_args(site, job))[0] == 0
    out = tmp_path / "results.csv"
    out.write_text("the previous results\n")

    def broken(*_: object, **__: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_module, "write_results", broken)
    monkeypatch.setattr("bulkpatch.cli.results.write_results", broken)
    code, _, err = invoke("export", str(tmp_path / "job.csv.journal"), "-o", str(out))
    assert code == 2
    assert "No space left" in err
    assert out.read_text() == "the previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_planted_lock_symlink_is_not_followed(tmp_path: Path) -> None:
    """`ln -s precious.txt JOB.sandbox.journal.lock`: the run refuses; precious is untouched."""
    job = titles_job(tmp_path / "job.csv", 2)
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    precious.chmod(0o644)
    (tmp_path / "job.csv.sandbox.journal.lock").symlink_to(precious)
    code, _, err = invoke("run", str(job), "--sandbox")
    assert code == 2
    assert "symbolic link" in err
    assert precious.read_text() == "keep me"
    assert stat.S_IMODE(precious.stat().st_mode) == 0o644


def test_two_runs_through_a_symlinked_journal_cannot_both_hold_it(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """A journal held by one run is busy for another that names it through a link (exit 3)."""
    site = start_sandbox("--latency-ms", "50")
    job = titles_job(tmp_path / "job.csv", 100)
    journal = tmp_path / "job.csv.journal"
    (tmp_path / "alias.journal").symlink_to(journal)
    env = {**os.environ, "WEBEX_ACCESS_TOKEN": TOKEN}
    first = subprocess.Popen(
        [sys.executable, "-m", "bulkpatch", *run_args(site, job), "-v", "--log-format", "json"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        bufsize=0,
    )
    try:
        read_until(first.stderr, b'"row.succeeded"', 60)
        code, _, err = invoke(*run_args(site, job, "--journal", str(tmp_path / "alias.journal")))
        assert code == 3
        assert "in use by pid" in err
    finally:
        first.terminate()
        first.communicate(timeout=60)


def test_an_existing_journal_becomes_owner_only(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """A journal someone made readable by others is 0600 again after the next run."""
    site = start_sandbox()
    job = titles_job(tmp_path / "job.csv", 2)
    assert invoke(*run_args(site, job))[0] == 0
    journal = tmp_path / "job.csv.journal"
    journal.chmod(0o644)
    assert invoke(*run_args(site, job))[0] == 0
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600


@pytest.mark.parametrize("command", ["status", "export"])
def test_status_and_export_leave_a_foreign_database_untouched(tmp_path: Path, command: str) -> None:
    """Pointed at another program's SQLite file they say so (exit 2) and change nothing."""
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE notes (x)")
    db.commit()
    db.close()
    before = other.read_bytes()
    code, _, err = invoke(command, str(other))
    assert code == 2
    assert "not a bulkpatch journal" in err
    assert other.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["other.db"]


def test_a_cut_journal_is_reported_damaged(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """A journal missing its last 100 bytes is named damaged, never shown as finished."""
    site = start_sandbox()
    job = titles_job(tmp_path / "job.csv", 60)
    assert invoke(*run_args(site, job))[0] == 0
    journal = tmp_path / "job.csv.journal"
    db = sqlite3.connect(journal)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    journal.write_bytes(journal.read_bytes()[:-100])
    for command in ("status", "export"):
        code, out, err = invoke(command, str(journal))
        assert code == 2
        assert "damaged" in err
        assert "finished" not in out


def test_a_journal_that_fails_mid_run_exits_3_naming_it(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """A journal that cannot be written mid-run ends the run with its path and the system's
    reason (exit 3); once writable, the same command finishes the job."""
    site = start_sandbox("--latency-ms", "20")
    job = titles_job(tmp_path / "job.csv", 120)
    env = {**os.environ, "WEBEX_ACCESS_TOKEN": TOKEN}
    process = subprocess.Popen(
        [sys.executable, "-m", "bulkpatch", *run_args(site, job), "-v", "--log-format", "json"],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        bufsize=0,
    )
    wal = tmp_path / "job.csv.journal-wal"
    read_until(process.stderr, b'"row.succeeded"', 60)
    locked = subprocess.run(["chattr", "+i", str(wal)], capture_output=True, check=False)
    try:
        if locked.returncode:
            process.kill()
            process.communicate()
            pytest.skip("chattr +i is not available here")
        _out, err = process.communicate(timeout=60)
    finally:
        subprocess.run(["chattr", "-i", str(wal)], capture_output=True, check=False)
    assert process.returncode == 3
    message = err.decode().strip().splitlines()[-1]
    assert message.startswith("bulkpatch: error: cannot write to the journal")
    assert "job.csv.journal" in message
    assert b"unexpected internal error" not in err  # -v shows the traceback of a known error
    code, out_text, _ = invoke(*run_args(site, job))
    assert code == 0, out_text
    assert "120 succeeded" in out_text
    assert site.stats()["patchesApplied"] <= 120 + 8


def test_rows_deleted_from_a_forced_job_do_not_stay_pending(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """--force after deleting rows: they leave the counts (none pending), and the run exits 0."""
    site = start_sandbox()
    job = titles_job(tmp_path / "job.csv", 10)
    env_run = run_args(site, job, "--max-failures", "0")
    job.write_text(job.read_text().replace(SERIES[3], "f" * 32))  # row 5 will fail
    assert invoke(*env_run)[0] == 3
    titles_job(job, 4)  # the last rows, and the failing one, are gone from the file
    code, out, _ = invoke(*run_args(site, job, "--force"))
    assert code == 0, out
    report = json.loads(invoke("status", str(job), "--format", "json")[1])
    assert report["counts"]["pending"] == 0
    assert report["rows"] == 4


def test_a_changed_password_with_force_is_sent_again(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """Rows are compared by a digest of the real patch: a new password is not "unchanged"."""
    site = start_sandbox()
    job = write_job(tmp_path / "job.csv", [{"meetingId": SERIES[0], "password": "Old-pass1"}])
    assert invoke(*run_args(site, job))[0] == 0
    write_job(job, [{"meetingId": SERIES[0], "password": "New-pass2"}])
    code, out, _ = invoke(*run_args(site, job, "--force"))
    assert code == 0
    assert "this run  1 row in" in out
    assert site.stats()["patchesPerMeeting"][SERIES[0]] == 2
    assert b"New-pass2" not in (tmp_path / "job.csv.journal").read_bytes()


def test_export_as_job_works_from_another_folder(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal keeps the job's absolute path: --as-job works wherever it is run from."""
    site = start_sandbox()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    write_job(Path("job.csv"), [{"meetingId": "f" * 32, "title": "gone"}])
    assert invoke(*run_args(site, Path("job.csv")))[0] == 1
    monkeypatch.chdir(tmp_path / "b")
    code, _, err = invoke(
        "export", "../a/job.csv.journal", "--only", "failed", "--as-job", "-o", "fix.csv"
    )
    assert code == 0, err
    assert (tmp_path / "b" / "fix.csv").read_text().splitlines()[1].startswith("f" * 32)


def test_an_unfinished_run_exports_every_row(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """Stopped early, the summary, status and export still count every row of the job."""
    site = start_sandbox()
    job = titles_job(tmp_path / "job.csv", 150)
    job.write_text(job.read_text().replace(SERIES[0], "f" * 32))
    code, out, _ = invoke(*run_args(site, job, "--max-failures", "0", "--concurrency", "1"))
    assert code == 3
    assert "rows      150:" in out
    report = json.loads(invoke("status", str(job), "--format", "json")[1])
    assert report["rows"] == 150
    assert report["counts"]["pending"] == 149
    exported = invoke("export", str(job))[1]
    assert len(list(csv.DictReader(exported.splitlines()))) == 150
