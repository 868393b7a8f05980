"""The SQLite journal: files and modes, the lock, binding to a job and a target, outcomes."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from bulkpatch.errors import JournalBusy, JournalError, JournalFailed
from bulkpatch.journal import (
    SCHEMA_VERSION,
    JobBinding,
    Journal,
    Outcome,
    RowStatus,
    Snapshot,
    default_journal_path,
)
from bulkpatch.model import ValidatedRow
from bulkpatch.model.diff import encode_values


def binding(
    tmp_path: Path, sha: str = "sha-1", target: str = "sandbox", rows: int = 2
) -> JobBinding:
    return JobBinding(str(tmp_path / "job.csv"), sha, "csv", target, rows)


def two_rows(title: str = "b", password: str | None = None) -> list[ValidatedRow]:
    second = {"title": title} | ({"password": password} if password else {})
    return [ValidatedRow(2, "m1", {"title": "a"}), ValidatedRow(3, "m2", second)]


def held(tmp_path: Path, rows: list[ValidatedRow] | None = None) -> Journal:
    journal = Journal.open_for_run(tmp_path / "j.journal")
    journal.bind(binding(tmp_path), force=False)
    journal.sync_rows(rows or two_rows(), changed=False)
    return journal


def test_journal_is_created_owner_only(tmp_path: Path) -> None:
    """The journal and its lock file are readable by their owner only."""
    path = tmp_path / "job.csv.journal"
    with Journal.open_for_run(path):
        pass
    for file in (path, Path(f"{path}.lock")):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600


def test_an_existing_journal_is_made_owner_only(tmp_path: Path) -> None:
    """A journal file that was 0644 becomes 0600 when a run opens it, as a new one is."""
    path = tmp_path / "j.journal"
    with Journal.open_for_run(path):
        pass
    path.chmod(0o644)
    with Journal.open_for_run(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_second_holder_is_refused_with_the_holders_name(tmp_path: Path) -> None:
    """While one run holds the journal, another gets JournalBusy naming pid and host."""
    path = tmp_path / "j.journal"
    with Journal.open_for_run(path) as journal:
        with pytest.raises(JournalBusy, match=f"pid {os.getpid()} on .* since"):
            Journal.open_for_run(path)
        with Journal.open_read_only(path) as reader:  # status and export read without the lock
            assert reader.counts()[RowStatus.PENDING] == 0
            assert f"pid {os.getpid()}" in (reader.holder() or "")
        del journal
    with Journal.open_for_run(path) as again, Journal.open_read_only(path) as reader:
        assert again.stale_holder is None
        assert reader.holder() is not None
    with Journal.open_read_only(path) as reader:
        assert reader.holder() is None


def test_a_symlink_to_the_journal_reaches_the_same_lock(tmp_path: Path) -> None:
    """A journal reached through a symbolic link is held by the same lock as its real path."""
    real = tmp_path / "real.journal"
    link = tmp_path / "link.journal"
    link.symlink_to(real)
    with Journal.open_for_run(real), pytest.raises(JournalBusy):
        Journal.open_for_run(link, explicit=True)


def test_a_hard_linked_journal_is_refused(tmp_path: Path) -> None:
    """A journal with a second hard link could be locked twice by name: it is refused."""
    real = tmp_path / "real.journal"
    with Journal.open_for_run(real):
        pass
    os.link(real, tmp_path / "other.journal")
    with pytest.raises(JournalError, match="hard links"):
        Journal.open_for_run(tmp_path / "other.journal")


def test_a_symlinked_lock_file_is_never_followed(tmp_path: Path) -> None:
    """A lock file planted as a symlink is refused; the file it points at is untouched."""
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    precious.chmod(0o644)
    (tmp_path / "x.journal.lock").symlink_to(precious)
    with pytest.raises(JournalError, match="symbolic link"):
        Journal.open_for_run(tmp_path / "x.journal")
    assert precious.read_text() == "keep me"
    assert stat.S_IMODE(precious.stat().st_mode) == 0o644


def test_a_default_journal_path_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    """Where bulkpatch puts its default journal, a symlink it did not make is not followed."""
    precious = tmp_path / "precious.db"
    (tmp_path / "job.csv.journal").symlink_to(precious)
    with pytest.raises(JournalError, match="symbolic link"):
        Journal.open_for_run(tmp_path / "job.csv.journal", explicit=False)
    assert not precious.exists()


def test_lock_left_by_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    """A holder note without a live lock (the run was killed) is reported, and the lock taken."""
    path = tmp_path / "j.journal"
    lock = Path(f"{path}.lock")
    lock.write_text("pid 999999 on elsewhere since 2026-01-01T00:00:00Z")
    lock.chmod(0o600)
    with Journal.open_for_run(path) as journal:
        assert journal.stale_holder == "pid 999999 on elsewhere since 2026-01-01T00:00:00Z"
    with Journal.open_for_run(path) as journal:
        assert journal.stale_holder is None


def test_changed_job_file_is_refused_unless_forced(tmp_path: Path) -> None:
    """A journal belongs to one version of a job file; --force is needed for another."""
    with Journal.open_for_run(tmp_path / "j.journal") as journal:
        assert journal.bind(binding(tmp_path), force=False) is False
        assert journal.bind(binding(tmp_path), force=False) is True
        with pytest.raises(JournalError, match="--force"):
            journal.bind(binding(tmp_path, "sha-2"), force=False)
        assert journal.bind(binding(tmp_path, "sha-2"), force=True) is True
        assert journal.meta["job_hash"] == "sha-2"


def test_another_target_is_refused_naming_both(tmp_path: Path) -> None:
    """A journal of the sandbox is not the journal of a real site, and the other way round."""
    with Journal.open_for_run(tmp_path / "j.journal") as journal:
        journal.bind(binding(tmp_path, target="sandbox"), force=False)
        with pytest.raises(JournalError, match=r"the sandbox .* not https://webexapis\.com/v1"):
            journal.bind(binding(tmp_path, target="https://webexapis.com/v1"), force=True)


def test_outcomes_count_once_flushed(tmp_path: Path) -> None:
    """Outcomes are buffered until flushed; attempts add up across runs."""
    with held(tmp_path) as journal:
        journal.record(
            Outcome(2, RowStatus.FAILED, 2, 503, "T1", "unavailable", "2026-11-25T00:00:00Z")
        )
        assert journal.counts()[RowStatus.FAILED] == 0
        assert journal.flush() == 1
        journal.record(Outcome(2, RowStatus.SUCCEEDED, 1, 200, "T2", None, "2026-11-25T00:01:00Z"))
        journal.flush()
        (row2, row3) = list(journal.rows())
    assert (row2.status, row2.attempts, row2.tracking_id, row2.error) == (
        RowStatus.SUCCEEDED,
        3,
        "T2",
        None,
    )
    assert (row3.status, row3.attempts) == (RowStatus.PENDING, 0)


def test_secrets_are_stored_masked_but_a_changed_one_is_noticed(tmp_path: Path) -> None:
    """Passwords are stored masked; a new password with --force still resends its row."""
    with held(tmp_path, two_rows(password="Hunter2!")) as journal:
        journal.record(Outcome(3, RowStatus.SUCCEEDED, 1))
        journal.flush()
        journal.bind(binding(tmp_path, "sha-2"), force=True)
        journal.sync_rows(two_rows(password="Better3!"), changed=True)
        assert [r.status for r in journal.rows()] == [RowStatus.PENDING, RowStatus.PENDING]
    data = (tmp_path / "j.journal").read_bytes()
    assert b"Hunter2" not in data
    assert b"Better3" not in data


def test_a_forced_job_keeps_each_rows_outcome_by_content_not_line(tmp_path: Path) -> None:
    """A line inserted above done rows does not make them pending, nor theirs anyone else's."""
    rows = [ValidatedRow(line, f"m{line}", {"title": "t"}) for line in range(2, 6)]
    with held(tmp_path, rows) as journal:
        for line in (2, 3):
            journal.record(Outcome(line, RowStatus.SUCCEEDED, 1, 204))
        journal.flush()
        inserted = [ValidatedRow(2, "new", {"title": "t"})] + [
            ValidatedRow(row.line + 1, row.meeting_id, row.body) for row in rows
        ]
        journal.bind(binding(tmp_path, "sha-2"), force=True)
        journal.sync_rows(inserted, changed=True)
        statuses = {r.line: (r.meeting_id, r.status, r.http_status) for r in journal.rows()}
        assert statuses == {
            2: ("new", RowStatus.PENDING, None),
            3: ("m2", RowStatus.SUCCEEDED, 204),
            4: ("m3", RowStatus.SUCCEEDED, 204),
            5: ("m4", RowStatus.PENDING, None),
            6: ("m5", RowStatus.PENDING, None),
        }


def test_a_run_killed_before_a_changed_jobs_rows_are_matched_finds_it_changed_again(
    tmp_path: Path,
) -> None:
    """Bound to a changed file, then killed before its rows were matched: the journal still
    holds the old file's rows, so the next run finds the job changed, never taking them for
    the new file's lines."""
    with held(tmp_path) as journal:
        journal.record(Outcome(2, RowStatus.SUCCEEDED, 1))
        journal.flush()
        journal.bind(binding(tmp_path, "sha-2"), force=True)  # killed here
    inserted = [ValidatedRow(2, "new", {"title": "t"})] + [
        ValidatedRow(row.line + 1, row.meeting_id, row.body) for row in two_rows()
    ]
    with Journal.open_for_run(tmp_path / "j.journal") as journal:
        assert journal.job_changed(binding(tmp_path, "sha-2"))
        with pytest.raises(JournalError, match="--force"):
            journal.bind(binding(tmp_path, "sha-2"), force=False)
        journal.bind(binding(tmp_path, "sha-2"), force=True)
        journal.sync_rows(inserted, changed=True)
        assert {r.line: (r.meeting_id, r.status) for r in journal.rows()} == {
            2: ("new", RowStatus.PENDING),
            3: ("m1", RowStatus.SUCCEEDED),
            4: ("m2", RowStatus.PENDING),
        }
    with Journal.open_for_run(tmp_path / "j.journal") as journal:
        assert not journal.job_changed(binding(tmp_path, "sha-2"))


def test_done_rows_that_leave_a_forced_job_are_kept_for_undo_only(tmp_path: Path) -> None:
    """Rows no longer in the file leave the counts; the ones that changed a meeting stay undoable."""
    rows = [ValidatedRow(line, f"m{line}", {"title": "t"}) for line in range(2, 7)]
    with held(tmp_path, rows) as journal:
        journal.record(Outcome(5, RowStatus.SUCCEEDED, 1))
        journal.flush()
        journal.bind(binding(tmp_path, "sha-2"), force=True)
        journal.sync_rows(rows[:2], changed=True)
        assert {r.line: r.status for r in journal.rows()} == {
            2: RowStatus.PENDING,
            3: RowStatus.PENDING,
        }
        assert [(r.meeting_id, r.retired) for r in journal.undo_rows()] == [("m5", True)]
        journal.sync_rows(rows, changed=True)  # the rows come back: to do again
        assert journal.counts()[RowStatus.PENDING] == 5
        journal.mark_reverted(["m5"])
        assert journal.retired_count() == 0
        assert list(journal.undo_rows()) == []


def test_an_edited_row_is_sent_again(tmp_path: Path) -> None:
    """Same line, same meeting, another patch: pending again; the old change stays undoable."""
    with held(tmp_path) as journal:
        journal.record(Outcome(3, RowStatus.SUCCEEDED, 1))
        journal.flush()
        journal.bind(binding(tmp_path, "sha-2"), force=True)
        journal.sync_rows(two_rows(title="c"), changed=True)
        assert journal.counts()[RowStatus.PENDING] == 2
        assert [r.line for r in journal.undo_rows()] == [3]


@pytest.mark.parametrize("done", [RowStatus.SUCCEEDED, RowStatus.SKIPPED])
def test_done_rows_after_a_row_of_their_meeting_to_send_are_sent_again(
    tmp_path: Path, done: RowStatus
) -> None:
    """Rows of one meeting go in file order: a done row below an inserted row of its meeting is
    pending again, durably (a run killed after the inserted row still sends it); other
    meetings' rows and rows above keep their outcome."""
    rows = [
        ValidatedRow(2, "m", {"title": "A"}),
        ValidatedRow(3, "m", {"title": "B"}),
        ValidatedRow(4, "other", {"title": "B"}),
    ]
    with held(tmp_path, rows) as journal:
        for line in (2, 3, 4):
            journal.record(Outcome(line, done, 1))
        journal.flush()
        edited = [rows[0], ValidatedRow(3, "m", {"title": "B2"})] + [
            ValidatedRow(row.line + 1, row.meeting_id, row.body) for row in rows[1:]
        ]
        journal.bind(binding(tmp_path, "sha-2"), force=True)
        journal.sync_rows(edited, changed=True)
        expected = {2: done, 3: RowStatus.PENDING, 4: RowStatus.PENDING, 5: done}
        assert {r.line: r.status for r in journal.rows()} == expected
        journal.record(Outcome(3, RowStatus.SUCCEEDED, 1))
        journal.flush()  # killed here, before line 4 was sent again
    with Journal.open_for_run(tmp_path / "j.journal") as journal:
        assert not journal.job_changed(binding(tmp_path, "sha-2"))
        journal.bind(binding(tmp_path, "sha-2"), force=False)
        journal.sync_rows(edited, changed=False)
        assert {r.line: r.status for r in journal.rows()} == expected | {3: RowStatus.SUCCEEDED}


def shifted_once(tmp_path: Path, outcome: Outcome) -> tuple[Journal, str, str]:
    """A journal whose one row, shift +1h, moved its meeting (or tried): (journal, before, resolved)."""
    journal = held(tmp_path, [ValidatedRow(2, "m", {"shift": "+1h"})])
    before = encode_values(
        {"start": "2031-01-06T09:00:00+00:00", "end": "2031-01-06T10:00:00+00:00"}
    )
    resolved = '{"end": "2031-01-06T11:00:00+00:00", "start": "2031-01-06T10:00:00+00:00"}'
    journal.record_snapshot(Snapshot(2, before, "2031-01-01T00:00:00.000Z", resolved))
    journal.record(outcome)
    journal.flush()
    return journal, before, resolved


def resync(journal: Journal, tmp_path: Path, version: str, row: ValidatedRow) -> None:
    journal.bind(binding(tmp_path, version), force=True)
    journal.sync_rows([row], changed=True)


def test_an_edited_offset_row_keeps_what_its_earlier_version_moved_from(tmp_path: Path) -> None:
    """A done shift row with a title filled in beside it is to send again, keeping its earlier
    version's before-values and, its offsets the same, the times they came to (edited again
    before it is sent, still; a plan never replaces them); with other offsets, only the
    before-values, which the run resolves from. The earlier version stays for undo."""
    journal, before, resolved = shifted_once(tmp_path, Outcome(2, RowStatus.SUCCEEDED, 1, 200))
    with journal:
        resync(journal, tmp_path, "sha-2", ValidatedRow(2, "m", {"shift": "+1h", "title": "x"}))
        carried = (RowStatus.PENDING, before, resolved, False, True)
        state = journal.states_from(0, 10)[0]
        assert (state.status, state.before, state.resolved, state.sent, state.carried) == carried
        assert [(r.line, r.retired) for r in journal.undo_rows()] == [(2, True)]
        plan = encode_values({"start": "2031-01-06T10:00:00+00:00"})
        journal.record_snapshot(Snapshot(2, plan, "2031-01-02T00:00:00.000Z", by_run=False))
        journal.flush()
        resync(journal, tmp_path, "sha-3", ValidatedRow(3, "m", {"shift": "+1h", "title": "y"}))
        state = journal.states_from(0, 10)[0]
        assert (state.status, state.before, state.resolved, state.sent, state.carried) == carried
        resync(journal, tmp_path, "sha-4", ValidatedRow(2, "m", {"shift": "+2h", "title": "y"}))
        state = journal.states_from(0, 10)[0]
        assert (state.before, state.resolved, state.carried) == (before, None, True)
        assert [(r.line, r.retired) for r in journal.undo_rows()] == [(2, True)]


def test_an_edited_offset_row_whose_earlier_version_was_refused_starts_afresh(
    tmp_path: Path,
) -> None:
    """The API refused the earlier version (400: nothing moved): the edited row resolves on
    the meeting as it is, like any new row."""
    outcome = Outcome(2, RowStatus.FAILED, 1, 400, error="refused")
    journal, _, _ = shifted_once(tmp_path, outcome)
    with journal:
        resync(journal, tmp_path, "sha-2", ValidatedRow(2, "m", {"shift": "+1h", "title": "x"}))
        state = journal.states_from(0, 10)[0]
        assert (state.status, state.before, state.resolved, state.carried) == (
            RowStatus.PENDING,
            None,
            None,
            False,
        )


def test_a_job_read_with_another_separator_is_a_changed_job(tmp_path: Path) -> None:
    """The same bytes read with ';' instead of ',' are other rows: refused without --force."""
    with held(tmp_path) as journal:
        semicolons = JobBinding(str(tmp_path / "job.csv"), "sha-1", "csv", "sandbox", 2, ";")
        assert journal.job_changed(semicolons)
        with pytest.raises(JournalError, match="separated by ',', not ';'"):
            journal.bind(semicolons, force=False)
        journal.bind(semicolons, force=True)
        journal.sync_rows(two_rows(), changed=True)  # the separator is kept with the rows
        assert journal.meta["job_delimiter"] == ";"


def test_every_row_is_in_the_journal_before_anything_is_sent(tmp_path: Path) -> None:
    """The job's row count and every row are recorded when the run starts."""
    rows = [ValidatedRow(line, f"m{line}", {"title": "t"}) for line in range(2, 2027)]
    with held(tmp_path, rows) as journal:
        assert journal.counts()[RowStatus.PENDING] == 2025
        assert len(list(journal.rows())) == 2025


def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    """status/export/run on another program's database say so and change not one byte."""
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE notes (x)")
    db.commit()
    db.close()
    before = other.read_bytes()
    for opening in (Journal.open_read_only, Journal.open_for_run):
        with pytest.raises(JournalError, match="not a bulkpatch journal"):
            opening(other)
    assert other.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        "other.db"
    ]


def test_not_a_journal_is_a_clear_error(tmp_path: Path) -> None:
    """Opening some other file says it is not a journal; a missing one says so too."""
    other = tmp_path / "notes.txt"
    other.write_text("hello, this is not sqlite" * 100)
    with pytest.raises(JournalError, match="not a bulkpatch journal"):
        Journal.open_read_only(other)
    with pytest.raises(JournalError, match="no journal"):
        Journal.open_read_only(tmp_path / "absent.journal")


def test_a_journal_from_a_newer_bulkpatch_is_refused(tmp_path: Path) -> None:
    """A schema version this bulkpatch does not know is refused, not misread."""
    with held(tmp_path):
        pass
    db = sqlite3.connect(tmp_path / "j.journal")
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    for opening in (Journal.open_read_only, Journal.open_for_run):
        with pytest.raises(JournalError, match="newer bulkpatch"):
            opening(tmp_path / "j.journal")


@pytest.mark.parametrize("cut", [100, 4096, 3 * 4096])
def test_a_cut_journal_is_named_damaged(tmp_path: Path, cut: int) -> None:
    """A journal missing its last bytes (or whole pages) is refused as damaged, never half
    read, never called foreign."""
    rows = [ValidatedRow(line, f"m{line}", {"title": "t" * 100}) for line in range(2, 400)]
    with held(tmp_path, rows):
        pass
    path = tmp_path / "j.journal"
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = path.read_bytes()
    path.write_bytes(data[:-cut])
    with pytest.raises(JournalError, match="damaged"):
        Journal.open_read_only(path)
    with pytest.raises(JournalError, match="damaged"):
        Journal.open_for_run(path)


@pytest.mark.parametrize("opening", ["for_run", "read_only"])
def test_version_1_journals_are_migrated(tmp_path: Path, opening: str) -> None:
    """A journal of the first schema gets its target from its runs and the new columns;
    rows once "removed" go (to ``retired`` when they were read, so maybe sent), and a
    before-value without its outcome counts as sent. Opened to read (status, export, an undo
    preview), it is read the same, migrated in memory, and the file is left as it was."""
    path = tmp_path / "old.journal"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE rows (line INTEGER PRIMARY KEY, meeting_id TEXT NOT NULL, status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, http_status INTEGER, tracking_id TEXT, error TEXT,
            finished_at TEXT, body TEXT, before TEXT);
        CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, ended_at TEXT,
            outcome TEXT, options TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
            throttled INTEGER NOT NULL DEFAULT 0);
        INSERT INTO meta VALUES ('schema', '1'), ('job_hash', 'sha-1'), ('job_path', 'job.csv');
        INSERT INTO rows (line, meeting_id, status) VALUES (2, 'm1', 'succeeded');
        INSERT INTO rows (line, meeting_id, status) VALUES (3, 'm2', 'removed');
        INSERT INTO rows (line, meeting_id, status, before) VALUES (4, 'm3', 'pending', '{}');
        INSERT INTO rows (line, meeting_id, status, before) VALUES (5, 'm4', 'removed', '{}');
        INSERT INTO runs (started_at, options, pid, host)
            VALUES ('2026-11-01T00:00:00Z', '{"baseUrl": "https://WebexAPIs.com/v1/"}', 1, 'h');
        """
    )
    db.close()
    written = path.read_bytes()
    open_journal = Journal.open_for_run if opening == "for_run" else Journal.open_read_only
    with open_journal(path) as journal:
        assert journal.meta["schema"] == str(SCHEMA_VERSION)
        assert journal.meta["target"] == "https://webexapis.com/v1"
        assert [r.status for r in journal.rows()] == [RowStatus.SUCCEEDED, RowStatus.PENDING]
        assert sorted((r.line, r.retired) for r in journal.undo_rows()) == [
            (2, False),
            (4, False),
            (5, True),
        ]
        assert journal.retired_count() == 1
        assert [s.sent for s in journal.states_from(0, 10)] == [False, True]
    assert (path.read_bytes() == written) is (opening == "read_only")


def immutable(path: Path) -> bool:
    """Make a file immutable (even for root) where the file system allows it."""
    result = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    return result.returncode == 0


def test_a_journal_that_cannot_be_written_fails_with_its_path(tmp_path: Path) -> None:
    """A write refused by the system becomes JournalFailed naming the journal; what was
    committed before stays."""
    with held(tmp_path) as journal:
        journal.record(Outcome(2, RowStatus.SUCCEEDED, 1))
        journal.flush()
    path = tmp_path / "j.journal"
    wal = tmp_path / "j.journal-wal"  # where a WAL-mode journal writes
    with Journal.open_for_run(path) as journal:
        if not immutable(wal):
            pytest.skip("chattr +i is not available here")
        try:
            journal.record(Outcome(3, RowStatus.SUCCEEDED, 1))
            with pytest.raises(JournalFailed, match=r"cannot write to the journal .*j\.journal"):
                journal.flush()
        finally:
            subprocess.run(["chattr", "-i", str(wal)], check=True)
    with Journal.open_read_only(path) as journal:
        assert journal.counts()[RowStatus.SUCCEEDED] == 1


def test_a_journal_on_read_only_media_can_still_be_read(tmp_path: Path) -> None:
    """status and export read a journal whose folder cannot be written (no -shm can be made)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    with held(folder):
        pass
    if not immutable(folder):
        pytest.skip("chattr +i is not available here")
    try:
        with Journal.open_read_only(folder / "j.journal") as journal:
            assert journal.counts()[RowStatus.PENDING] == 2
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_default_path_sits_beside_the_job() -> None:
    """jobs/x.csv -> jobs/x.csv.journal; the sandbox's own: jobs/x.csv.sandbox.journal."""
    assert default_journal_path(Path("jobs/x.csv")) == Path("jobs/x.csv.journal")
    assert default_journal_path(Path("jobs/x.csv"), sandbox=True) == Path(
        "jobs/x.csv.sandbox.journal"
    )


def test_opening_keeps_sqlites_own_locks(tmp_path: Path) -> None:
    """Opening a journal for a run never closes a descriptor of SQLite's files (that would drop
    SQLite's locks, and a `status` elsewhere would then take the live journal's shared memory
    for its own): the run still holds its lock on the -shm file."""
    locks = Path("/proc/locks")
    if not locks.exists():
        pytest.skip("no /proc/locks here")
    with held(tmp_path):
        pass  # the journal exists now, in WAL mode
    path = tmp_path / "j.journal"
    with Journal.open_for_run(path) as journal:
        journal.record(Outcome(2, RowStatus.SUCCEEDED, 1))
        journal.flush()
        shm = Path(f"{path}-shm").stat().st_ino
        held_by_us = [
            line
            for line in locks.read_text().splitlines()
            if f" {os.getpid()} " in line and line.split()[5].endswith(f":{shm}")
        ]
    assert held_by_us, "SQLite's lock on the -shm file is gone"
