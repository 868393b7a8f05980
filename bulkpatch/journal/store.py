"""The journal itself: one row per job row, every outcome, the runs, bound to a job and a target.

A row is ``succeeded`` only once that outcome is committed here. The engine commits the
outcomes that finish together in one transaction (group commit) before their workers move on;
whatever had not been committed when a run died is simply sent again on resume, which PATCH's
idempotence makes safe. WAL mode with ``synchronous=NORMAL``: a committed outcome survives the
process being killed at any moment.

The journal never holds the token; secret fields of a patch are stored masked, and a change to
one is noticed through a keyed digest of the real patch, never the value itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import sqlite3
from collections.abc import Collection, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, Self

from bulkpatch.errors import JournalError, JournalFailed
from bulkpatch.journal import files, pairing
from bulkpatch.journal.binding import Binding
from bulkpatch.journal.opening import (
    check_integrity,
    check_is_journal,
    connect,
    foreign,
    sqlite_reason,
    upgraded_copy,
)
from bulkpatch.journal.reports import Reports
from bulkpatch.journal.schema import SCHEMA_VERSION, upgrade, version_of
from bulkpatch.journal.statements import BATCH
from bulkpatch.journal.values import (
    Outcome,
    RowState,
    RowStatus,
    Snapshot,
)
from bulkpatch.model import ValidatedRow, mask_secrets


def default_journal_path(job: Path, *, sandbox: bool = False) -> Path:
    """``jobs/x.csv`` -> ``jobs/x.csv.journal`` (``jobs/x.csv.sandbox.journal`` for the emulator)."""
    return job.with_name(f"{job.name}{'.sandbox' if sandbox else ''}.journal")


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


#: The statuses a run with --retry-failed sends.
_TO_SEND_ON_RETRY = ("pending", "reverted", "failed")


class Journal(Binding, Reports):
    """An open journal: held exclusively by this process for a run, or read-only for a report."""

    def __init__(
        self, path: Path, db: sqlite3.Connection, lock: files.JournalLock | None = None
    ) -> None:
        super().__init__(path, db)
        self._lock = lock
        self._pending: list[Outcome] = []
        self._snapshots: list[Snapshot] = []
        #: The changed job's hash and separator, written with its rows by :meth:`sync_rows`.
        self._rebind: dict[str, str] = {}

    def __repr__(self) -> str:
        mode = "held" if self._lock is not None else "read-only"
        return f"<Journal {self.path} {mode} buffered={len(self._pending)}>"

    # --- opening -------------------------------------------------------------------------------

    @classmethod
    def open_for_run(cls, path: Path, *, explicit: bool = True) -> Self:
        """Hold the journal for a run: lock it, create it (0600) or check and migrate it.

        ``explicit``: the user named this path (a symbolic link there is theirs to follow).
        """
        real = files.resolve(path, explicit=explicit)
        lock = files.JournalLock.take(real)
        try:
            if real.exists() and real.stat().st_size:
                check_is_journal(real, path)
            os.close(files.open_owner_only(real))
            db = connect(real, path, read_only=False)
            try:
                version = version_of(db)
                if version is None or version > SCHEMA_VERSION:
                    raise JournalError(foreign(path, version))
                if version < SCHEMA_VERSION:
                    upgrade(db, version)
                check_integrity(db, path)
                for suffix in ("-wal", "-shm"):
                    files.make_owner_only(Path(f"{real}{suffix}"))
            except BaseException:
                db.close()
                raise
        except sqlite3.Error as exc:
            lock.release()
            raise JournalFailed(sqlite_reason(path, "open", exc)) from None
        except BaseException:
            lock.release()
            raise
        return cls(path, db, lock)

    @classmethod
    def open_read_only(cls, path: Path) -> Self:
        """Open a journal to read it: no lock, no change to the file, any known version."""
        there = files.not_a_file(path)
        if there == "nothing":
            raise JournalError(f"no journal at {path}")
        if there is not None:
            raise JournalError(f"no journal at {path}: it is {there}; give the journal file's path")
        # A link is named with its target: the file refused is not the one the name suggests.
        shown = (
            Path(f"{path} (a symbolic link to {path.readlink()})") if path.is_symlink() else path
        )
        check_is_journal(path, shown)
        db = connect(path, shown, read_only=True)
        try:
            check_integrity(db, shown)
            version = version_of(db)
            if version is not None and 0 < version < SCHEMA_VERSION:
                db = upgraded_copy(db, version)
        except BaseException:
            db.close()
            raise
        return cls(path, db)

    @property
    def stale_holder(self) -> str | None:
        """Who held the lock last without releasing it (a run that was killed), if anyone."""
        return self._lock.stale_holder if self._lock is not None else None

    def holder(self) -> str | None:
        """The run holding this journal right now, if any (for status)."""
        return files.holder(Path(os.path.realpath(self.path)))

    def close(self) -> None:
        """Commit what is buffered, then release the file and the lock."""
        try:
            self.flush()
        finally:
            self._db.close()
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- rows ----------------------------------------------------------------------------------

    def sync_rows(self, rows: Iterable[ValidatedRow], *, changed: bool) -> None:
        """Make the journal hold every row of the job, before anything is sent.

        New rows come in ``pending`` (``invalid`` with their errors). With a ``changed`` job
        file, rows are matched to the recorded ones by meeting and patch, not by line (see
        :mod:`bulkpatch.journal.pairing`): a moved row keeps its outcome, an edited one is
        sent again, and a done row that left the file stays known to undo.
        """
        key = bytes.fromhex(self.meta["row_key"])
        if not self._read("SELECT 1 FROM rows LIMIT 1"):
            self._insert(_row_values(rows, key), "rows")
            return
        if not changed and not self._rebind:
            return
        self._write("DROP TABLE IF EXISTS temp.job")
        self._write(
            "CREATE TEMP TABLE job (line INTEGER PRIMARY KEY, meeting_id TEXT, status TEXT, "
            "body TEXT, error TEXT, digest TEXT)"
        )
        self._insert(_row_values(rows, key), "temp.job")
        rebind = [
            ("INSERT OR REPLACE INTO meta VALUES (?, ?)", item) for item in self._rebind.items()
        ]
        self._write_script(pairing.statements(files.utcnow()) + rebind)
        self._rebind = {}

    def keep_file_order_for_retries(self) -> None:
        """Failed rows are to send again: the done rows behind them in their meeting too."""
        self._write_script(pairing.keep_file_order(_TO_SEND_ON_RETRY))

    def followers_of_retries(self) -> list[tuple[int, bool]]:
        """What :meth:`keep_file_order_for_retries` would change, changing nothing.

        ``(line, fails)`` in line order: each done row a retry sends again, and whether it
        would fail instead (an offset row behind a row that moves its meeting).
        """
        script = pairing.followers_query(_TO_SEND_ON_RETRY)
        self._write_script(script.setup)
        try:
            return [(line, bool(fails)) for line, fails in self._read(*script.query)]
        finally:
            self._write_script(script.teardown)

    def done_behind_moves(
        self, pairs: Iterable[tuple[int, int]], to_send: Collection[str]
    ) -> list[int]:
        """Of ``pairs`` (an occurrence row, a row rescheduling its series), the occurrence rows
        done already whose series' row is one to send now (its status in ``to_send``) or
        succeeded after them, in line order.

        An occurrence edited before its series moves is cancelled by the move: a run that
        moves the series only now (a retry, a resume after the series row failed) must send
        such rows again after it, or they stay ``succeeded`` for an edit the server dropped; so
        must a run after one stopped between the move and its occurrence rows. A row sent again
        finishes after the move, so it is sent again once at most.
        """
        self._write("DROP TABLE IF EXISTS temp.behind")
        self._write("CREATE TEMP TABLE behind (line INTEGER, mover INTEGER)")
        try:
            pending = iter(pairs)
            while batch := list(islice(pending, BATCH)):
                self._write_many("INSERT INTO temp.behind VALUES (?, ?)", batch)
            marks = ", ".join("?" * len(to_send))
            found = self._read(
                "SELECT DISTINCT behind.line FROM temp.behind "
                "JOIN rows AS occurrence ON occurrence.line = behind.line "
                "JOIN rows AS mover ON mover.line = behind.mover "
                "WHERE occurrence.status IN ('succeeded', 'skipped') "
                f"AND (mover.status IN ({marks}) OR (mover.status = 'succeeded' "
                "AND occurrence.finished_at < mover.finished_at)) ORDER BY behind.line",
                tuple(to_send),
            )
        finally:
            self._write("DROP TABLE temp.behind")
        return [line for (line,) in found]

    def states_from(self, after_line: int, limit: int) -> list[RowState]:
        """Up to ``limit`` rows after ``after_line``, in line order, as a run needs them."""
        query = (
            "SELECT line, status, before, before_at, resolved, before_by, error = ? FROM rows "
            "WHERE line > ? ORDER BY line LIMIT ?"
        )
        return [
            RowState(
                line,
                RowStatus(status),
                before,
                taken_at,
                resolved,
                by == "run",
                by == "earlier",
                bool(moved),
            )
            for line, status, before, taken_at, resolved, by, moved in self._read(
                query, (pairing.FOLLOWER_MOVED, after_line, limit)
            )
        ]

    def record(self, outcome: Outcome) -> None:
        """Buffer an outcome; it counts once :meth:`flush` has committed it."""
        self._pending.append(outcome)

    def record_snapshot(self, snapshot: Snapshot) -> None:
        """Buffer a row's before-values; the row's PATCH waits until :meth:`flush` commits them."""
        self._snapshots.append(snapshot)

    def flush(self) -> int:
        """Commit every buffered snapshot and outcome in one transaction; return how many."""
        if not self._pending and not self._snapshots:
            return 0
        outcomes, self._pending = self._pending, []
        snapshots, self._snapshots = self._snapshots, []

        def write() -> None:
            # A plan never replaces what a run committed before its PATCH, nor what an earlier
            # version of the row left (see pairing): that is the original.
            self._db.executemany(
                "UPDATE rows SET before = ?, before_at = ?, resolved = ?, before_by = ? "
                "WHERE line = ? AND (? = 'run' OR before_by IS NULL OR before_by = 'plan')",
                [(s.before, s.taken_at, s.resolved, _by(s), s.line, _by(s)) for s in snapshots],
            )
            self._db.executemany(
                "UPDATE rows SET status = ?, attempts = attempts + ?, http_status = ?, "
                "tracking_id = ?, error = ?, finished_at = ?, after = COALESCE(?, after) "
                "WHERE line = ?",
                [
                    (
                        o.status.value,
                        o.attempts,
                        o.http_status,
                        o.tracking_id,
                        o.error,
                        o.finished_at,
                        o.after,
                        o.line,
                    )
                    for o in outcomes
                ],
            )

        self._in_transaction(write)
        return len(outcomes) + len(snapshots)

    # --- runs ----------------------------------------------------------------------------------

    def start_run(self, options: dict[str, Any]) -> int:
        """Note the start of a run with its options (never the token)."""
        values = (
            files.utcnow(),
            json.dumps(options, sort_keys=True),
            os.getpid(),
            socket.gethostname(),
        )
        return self._write(
            "INSERT INTO runs (started_at, options, pid, host) VALUES (?, ?, ?, ?)", values
        )

    def finish_run(self, run_id: int, outcome: str, throttled: int) -> None:
        """Note how a run ended."""
        self.flush()
        self._write(
            "UPDATE runs SET ended_at = ?, outcome = ?, throttled = ? WHERE id = ?",
            (files.utcnow(), outcome, throttled, run_id),
        )


def stored_body(body: dict[str, Any] | None) -> str | None:
    """The patch as the journal keeps it: JSON, secrets masked."""
    if body is None:
        return None
    return json.dumps(mask_secrets(body), sort_keys=True, ensure_ascii=False)


def row_digest(key: bytes, meeting_id: str, body: dict[str, Any] | None) -> str:
    """A keyed digest of the real patch: tells a changed password apart without storing it."""
    text = json.dumps([meeting_id, body], sort_keys=True, ensure_ascii=False)
    return hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]


def _row_values(rows: Iterable[ValidatedRow], key: bytes) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        status = RowStatus.INVALID if row.body is None else RowStatus.PENDING
        yield (
            row.line,
            row.meeting_id,
            status.value,
            stored_body(row.body),
            row.error,
            row_digest(key, row.meeting_id, row.body),
        )


def _by(snapshot: Snapshot) -> str:
    return "run" if snapshot.by_run else "plan"
