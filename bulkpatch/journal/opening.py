"""Opening a journal: refusing what is not one, or is damaged, and reading an older one.

Nothing here writes to a file that is not a bulkpatch journal: it is recognised by its header
and schema version, through a read-only connection, before anything opens it for writing.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from bulkpatch.errors import JournalError, JournalFailed
from bulkpatch.journal import files
from bulkpatch.journal.schema import SCHEMA_VERSION, upgrade, version_of


def connect(real: Path, shown: Path, *, read_only: bool) -> sqlite3.Connection:
    try:
        if read_only:
            return connect_read_only(real)
        db = sqlite3.connect(real, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db
    except sqlite3.Error as exc:
        raise JournalFailed(sqlite_reason(shown, "open", exc)) from None


def upgraded_copy(db: sqlite3.Connection, version: int) -> sqlite3.Connection:
    """An older journal, copied into memory and migrated there; the file stays as it was.

    Read as this version reads a journal; its next run migrates the file for good.
    """
    copy = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    try:
        db.backup(copy)
        upgrade(copy, version)
    except BaseException:
        copy.close()
        raise
    db.close()
    return copy


def connect_read_only(path: Path) -> sqlite3.Connection:
    """Read-only, changing nothing beside the journal either.

    With no write-ahead log data, ``immutable``: SQLite makes no -wal or -shm file, and reads
    from read-only media. With some, it must read it: ``mode=ro`` (which needs the -shm); on
    read-only media where that cannot be, the journal is refused rather than read stale.
    """
    uri = Path(os.path.realpath(path)).as_uri()
    if not files.wal_holds_data(path):
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None)
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
    try:
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        db.close()
        raise JournalError(
            f"cannot read the journal {path}: its latest outcomes are in {path}-wal, which "
            f"SQLite cannot open here ({exc}); copy the journal with its -wal and -shm files "
            "to a folder you can write, and read that copy"
        ) from None
    return db


def check_is_journal(real: Path, shown: Path) -> None:
    """Refuse a file that is not a bulkpatch journal, without changing a byte of it."""
    there = files.not_a_file(real)
    if there is not None:  # a folder, a named pipe...: said as such, never opened
        raise JournalError(f"cannot use the journal {shown}: it is {there}")
    try:
        if not files.looks_like_sqlite(real):
            raise JournalError(foreign(shown, None))
        db = connect_read_only(real)
        try:
            version = version_of(db)
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        # The header said SQLite: a file it cannot read past that is a damaged one.
        raise JournalError(damaged(shown, str(exc))) from None
    except OSError as exc:
        raise JournalError(f"cannot read the journal {shown}: {exc.strerror}") from None
    if version is None or version == 0 or version > SCHEMA_VERSION:
        raise JournalError(foreign(shown, version))
    problem = files.cut_short(real)
    if problem:
        raise JournalError(damaged(shown, problem))


def check_integrity(db: sqlite3.Connection, shown: Path) -> None:
    """SQLite's own check: a cut or damaged file is named as such, never half read."""
    try:
        problems = [row[0] for row in db.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as exc:
        problems = [str(exc)]
    if problems != ["ok"]:
        raise JournalError(damaged(shown, "; ".join(problems)[:300]))


def damaged(shown: Path, problem: str) -> str:
    return (
        f"the journal {shown} is damaged ({problem}); restore it from a backup, or start again "
        "with a new --journal (rows it recorded as succeeded are then sent again)"
    )


def foreign(path: Path, version: int | None, exc: Exception | None = None) -> str:
    if version is not None and version > SCHEMA_VERSION:
        return (
            f"the journal {path} was made by a newer bulkpatch (schema {version}, this one "
            f"knows up to {SCHEMA_VERSION}); upgrade bulkpatch to use it"
        )
    detail = f" ({exc})" if exc is not None else ""
    return f"{path} is not a bulkpatch journal{detail}; bulkpatch left it untouched"


def sqlite_reason(path: Path, doing: str, exc: sqlite3.Error) -> str:
    code = getattr(exc, "sqlite_errorname", None)
    return f"cannot {doing} the journal {path}: {exc}{f' ({code})' if code else ''}"
