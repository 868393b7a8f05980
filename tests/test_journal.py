"""The SQLite journal: permissions, the lock, the job binding, outcomes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bulkpatch.errors import JournalBusy, JournalError
from bulkpatch.journal import Journal, Outcome, default_journal_path


def test_journal_is_created_owner_only(tmp_path: Path) -> None:
    """The journal and its lock file are readable by their owner only."""
    path = tmp_path / "job.csv.journal"
    with Journal.open(path, lock=True, create=True):
        pass
    for file in (path, Path(f"{path}.lock")):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600


def test_second_holder_is_refused_with_the_holders_name(tmp_path: Path) -> None:
    """While one run holds the journal, another gets JournalBusy naming pid and host."""
    path = tmp_path / "j.journal"
    with Journal.open(path, lock=True, create=True):
        with pytest.raises(JournalBusy, match=f"pid {os.getpid()} on .* since"):
            Journal.open(path, lock=True)
        with Journal.open(path, lock=False) as reader:  # status and export read without the lock
            assert reader.counts()["pending"] == 0
    with Journal.open(path, lock=True):
        pass


def test_lock_left_by_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    """A holder note without a live lock (the run was killed) is reported, and the lock taken."""
    path = tmp_path / "j.journal"
    Path(f"{path}.lock").write_text("pid 999999 on elsewhere since 2026-01-01T00:00:00Z")
    with Journal.open(path, lock=True, create=True) as journal:
        assert journal.stale_holder == "pid 999999 on elsewhere since 2026-01-01T00:00:00Z"
    with Journal.open(path, lock=True) as journal:
        assert journal.stale_holder is None


def test_changed_job_file_is_refused_unless_forced(tmp_path: Path) -> None:
    """A journal belongs to one version of a job file; --force is needed for another."""
    path = tmp_path / "j.journal"
    job = tmp_path / "job.csv"
    with Journal.open(path, lock=True, create=True) as journal:
        assert journal.bind_job(job, "hash-1", "csv", force=False) is False
        assert journal.bind_job(job, "hash-1", "csv", force=False) is True
        with pytest.raises(JournalError, match="--force"):
            journal.bind_job(job, "hash-2", "csv", force=False)
        assert journal.bind_job(job, "hash-2", "csv", force=True) is True
        assert journal.meta["job_hash"] == "hash-2"


def test_outcomes_count_once_flushed(tmp_path: Path) -> None:
    """Outcomes are buffered until flushed; attempts add up across runs."""
    path = tmp_path / "j.journal"
    with Journal.open(path, lock=True, create=True) as journal:
        journal.add_rows(
            [(2, "m1", "pending", {"title": "a"}, None), (3, "m2", "pending", {"title": "b"}, None)]
        )
        journal.record(Outcome(2, "failed", 2, 503, "T1", "unavailable", "2026-11-25T00:00:00Z"))
        assert journal.counts()["failed"] == 0
        assert journal.flush() == 1
        journal.record(Outcome(2, "succeeded", 1, 200, "T2", None, "2026-11-25T00:01:00Z"))
        journal.flush()
        (row2, row3) = list(journal.rows())
    assert (row2.status, row2.attempts, row2.tracking_id, row2.error) == (
        "succeeded",
        3,
        "T2",
        None,
    )
    assert (row3.status, row3.attempts) == ("pending", 0)


def test_secrets_are_stored_masked(tmp_path: Path) -> None:
    """The patch kept per row has its passwords masked."""
    path = tmp_path / "j.journal"
    with Journal.open(path, lock=True, create=True) as journal:
        journal.add_rows([(2, "m1", "pending", {"password": "Hunter2!", "title": "t"}, None)])
        assert journal.known(2) == ("pending", "m1", '{"password": "********", "title": "t"}')
    assert b"Hunter2" not in path.read_bytes()


def test_not_a_journal_is_a_clear_error(tmp_path: Path) -> None:
    """Opening some other file says it is not a journal; a missing one says so too."""
    other = tmp_path / "notes.txt"
    other.write_text("hello, this is not sqlite" * 100)
    with pytest.raises(JournalError, match="not a bulkpatch journal"):
        Journal.open(other, lock=False)
    with pytest.raises(JournalError, match="no journal"):
        Journal.open(tmp_path / "absent.journal", lock=False)


def test_default_path_sits_beside_the_job() -> None:
    """jobs/x.csv -> jobs/x.csv.journal."""
    assert default_journal_path(Path("jobs/x.csv")) == Path("jobs/x.csv.journal")
