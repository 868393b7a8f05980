"""The SQLite journal: one row per job row, every outcome, the runs, and the lock.

A row is ``succeeded`` only once that outcome is committed here. The engine commits the
outcomes that finish together in one transaction (group commit) before their workers move on;
whatever had not been committed when a run died is simply sent again on resume, which PATCH's
idempotence makes safe. WAL mode with
``synchronous=NORMAL``: a committed outcome survives the process being killed at any moment.

The journal never holds the token, and secret fields of a patch are stored masked.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from bulkpatch.errors import JournalBusy, JournalError
from bulkpatch.model import mask_secrets

SCHEMA_VERSION = 1
STATUSES = ("pending", "succeeded", "failed", "invalid", "skipped")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    line INTEGER PRIMARY KEY,
    meeting_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    http_status INTEGER,
    tracking_id TEXT,
    error TEXT,
    finished_at TEXT,
    body TEXT,
    before TEXT
);
CREATE INDEX IF NOT EXISTS rows_status ON rows (status);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    outcome TEXT,
    options TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    throttled INTEGER NOT NULL DEFAULT 0
);
"""


def default_journal_path(job: Path) -> Path:
    """``jobs/x.csv`` -> ``jobs/x.csv.journal``: beside the job, named after it."""
    return job.with_name(f"{job.name}.journal")


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one row in one run."""

    line: int
    status: str
    attempts: int
    http_status: int | None = None
    tracking_id: str | None = None
    error: str | None = None
    finished_at: str | None = None


@dataclass(frozen=True, slots=True)
class RowRecord:
    """One row as the journal holds it (for status and export)."""

    line: int
    meeting_id: str
    status: str
    attempts: int
    http_status: int | None
    tracking_id: str | None
    error: str | None
    finished_at: str | None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run of the journal's job."""

    id: int
    started_at: str
    ended_at: str | None
    outcome: str | None
    options: dict[str, Any]
    throttled: int


class Journal:
    """An open journal file, held exclusively by this process while it is open."""

    def __init__(
        self,
        path: Path,
        db: sqlite3.Connection,
        lock_handle: Any | None,
        stale_holder: str | None = None,
    ) -> None:
        self.path = path
        #: Who held the lock last without releasing it (a run that was killed), if anyone.
        self.stale_holder = stale_holder
        self._db = db
        self._lock = lock_handle
        self._pending: list[Outcome] = []

    def __repr__(self) -> str:
        return f"<Journal {self.path} buffered={len(self._pending)}>"

    # --- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, lock: bool, create: bool = False) -> Self:
        """Open (or create, owner-only) a journal; with ``lock``, refuse if another run holds it."""
        if not path.exists() and not create:
            raise JournalError(f"no journal at {path}")
        if create and not path.parent.is_dir():
            raise JournalError(
                f"cannot create the journal {path}: the folder {path.parent} does not exist"
            )
        lock_handle, stale_holder = _take_lock(path) if lock else (None, None)
        try:
            if create and not path.exists():
                # 0600 from the first byte: the journal names meetings and holds their changes.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            for suffix in ("-wal", "-shm"):
                side = Path(f"{path}{suffix}")
                if side.exists():
                    side.chmod(0o600)
        except sqlite3.DatabaseError as exc:
            if lock_handle is not None:
                lock_handle.close()
            raise JournalError(f"{path} is not a bulkpatch journal ({exc})") from None
        return cls(path, db, lock_handle, stale_holder)

    def close(self) -> None:
        """Commit what is buffered, then release the file and the lock."""
        self.flush()
        self._db.close()
        if self._lock is not None:
            self._lock.truncate(0)
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- the job -------------------------------------------------------------------------------

    @property
    def meta(self) -> dict[str, str]:
        """The job this journal belongs to: path, hash, format."""
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def bind_job(self, job: Path, job_hash: str, job_format: str, *, force: bool) -> bool:
        """Tie the journal to this job file; return True when resuming. A changed file needs force."""
        meta = self.meta
        if not meta:
            self._set_meta(
                job_path=str(job),
                job_hash=job_hash,
                job_format=job_format,
                schema=str(SCHEMA_VERSION),
            )
            return False
        if meta.get("job_hash") != job_hash:
            if not force:
                raise JournalError(
                    f"the journal {self.path} belongs to a different version of the job file "
                    f"(it was made for {meta.get('job_path')}); the file has changed since. "
                    "Pass --force to continue with the changed file (rows whose meeting or "
                    "changes differ are sent again), or use a new --journal"
                )
            self._set_meta(job_path=str(job), job_hash=job_hash)
        return True

    @property
    def paused_until(self) -> datetime | None:
        """The latest Retry-After moment any run was given: a resumed run waits for it too."""
        value = self.meta.get("paused_until")
        return datetime.fromisoformat(value) if value else None

    def note_pause(self, until: datetime) -> None:
        """Remember a Retry-After moment (kept only if later than the one known)."""
        known = self.paused_until
        if known is None or until > known:
            self._set_meta(paused_until=until.isoformat())

    def _set_meta(self, **values: str) -> None:
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

    # --- rows ----------------------------------------------------------------------------------

    def has_rows(self) -> bool:
        """Whether any row was recorded yet (a first run need not look each row up)."""
        return self._db.execute("SELECT 1 FROM rows LIMIT 1").fetchone() is not None

    def known(self, line: int) -> tuple[str, str, str | None] | None:
        """(status, meetingId, stored body) of a row seen before, or None."""
        row = self._db.execute(
            "SELECT status, meeting_id, body FROM rows WHERE line = ?", (line,)
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def add_rows(
        self, rows: Iterable[tuple[int, str, str, dict[str, Any] | None, str | None]]
    ) -> None:
        """Insert or reset rows: (line, meetingId, status, body, error). Secrets are masked."""
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO rows (line, meeting_id, status, body, error, attempts) "
                "VALUES (?, ?, ?, ?, ?, COALESCE((SELECT attempts FROM rows WHERE line = ?), 0))",
                (
                    (line, meeting_id, status, stored_body(body), error, line)
                    for line, meeting_id, status, body, error in rows
                ),
            )

    def record(self, outcome: Outcome) -> None:
        """Buffer an outcome; it counts once :meth:`flush` has committed it."""
        self._pending.append(outcome)

    def flush(self) -> int:
        """Commit every buffered outcome in one transaction; return how many."""
        if not self._pending:
            return 0
        batch, self._pending = self._pending, []
        with self._transaction():
            self._db.executemany(
                "UPDATE rows SET status = ?, attempts = attempts + ?, http_status = ?, tracking_id = ?, "
                "error = ?, finished_at = ? WHERE line = ?",
                (
                    (
                        o.status,
                        o.attempts,
                        o.http_status,
                        o.tracking_id,
                        o.error,
                        o.finished_at,
                        o.line,
                    )
                    for o in batch
                ),
            )
        return len(batch)

    def counts(self) -> dict[str, int]:
        """Rows by status, every status present (zero when none)."""
        found = dict(
            self._db.execute("SELECT status, COUNT(*) FROM rows GROUP BY status").fetchall()
        )
        return {status: found.get(status, 0) for status in STATUSES}

    def rows(self, only: str | None = None) -> Iterator[RowRecord]:
        """Rows in job-file order, optionally of one status."""
        query = "SELECT line, meeting_id, status, attempts, http_status, tracking_id, error, finished_at FROM rows"
        params: tuple[str, ...] = ()
        if only is not None:
            query += " WHERE status = ?"
            params = (only,)
        for row in self._db.execute(query + " ORDER BY line", params):
            yield RowRecord(*row)

    def last_errors(self, limit: int = 5) -> list[RowRecord]:
        """The most recent failures."""
        query = (
            "SELECT line, meeting_id, status, attempts, http_status, tracking_id, error, finished_at FROM rows "
            "WHERE status IN ('failed', 'invalid') ORDER BY finished_at DESC, line DESC LIMIT ?"
        )
        return [RowRecord(*row) for row in self._db.execute(query, (limit,))]

    # --- runs ----------------------------------------------------------------------------------

    def start_run(self, options: dict[str, Any]) -> int:
        """Note the start of a run with its options (never the token)."""
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO runs (started_at, options, pid, host) VALUES (?, ?, ?, ?)",
                (_utcnow(), json.dumps(options, sort_keys=True), os.getpid(), socket.gethostname()),
            )
        return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, outcome: str, throttled: int) -> None:
        """Note how a run ended."""
        self.flush()
        with self._transaction():
            self._db.execute(
                "UPDATE runs SET ended_at = ?, outcome = ?, throttled = ? WHERE id = ?",
                (_utcnow(), outcome, throttled, run_id),
            )

    def runs(self) -> list[RunRecord]:
        """Every run, oldest first."""
        query = "SELECT id, started_at, ended_at, outcome, options, throttled FROM runs ORDER BY id"
        return [
            RunRecord(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5])
            for r in self._db.execute(query)
        ]

    # --- helpers -------------------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    __slots__ = ("_db",)

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


def stored_body(body: dict[str, Any] | None) -> str | None:
    """The patch as the journal keeps it: JSON, secrets masked."""
    return (
        None if body is None else json.dumps(mask_secrets(body), sort_keys=True, ensure_ascii=False)
    )


def _utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _take_lock(path: Path) -> tuple[Any, str | None]:
    """An exclusive lock beside the journal, and the holder a killed run left behind, if any.

    flock: the kernel releases the lock when its process dies, even by SIGKILL, so a dead
    holder never blocks the next run; its note in the file tells us it did not end cleanly.
    """
    lock_path = Path(f"{path}.lock")
    handle = lock_path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise JournalBusy(
            f"the journal {path} is in use by {holder}; wait for that run to end or stop it, "
            "then run the same command again"
        ) from None
    lock_path.chmod(0o600)
    handle.seek(0)
    stale = handle.read().strip() or None
    handle.seek(0)
    handle.truncate(0)
    handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {_utcnow()}")
    handle.flush()
    return handle, stale
