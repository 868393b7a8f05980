"""The journal's tables, its schema version, and the migrations from each older version.

Every journal carries its version in ``meta.schema``. Opening one for a run migrates it to
:data:`SCHEMA_VERSION` in one transaction; a journal from a newer bulkpatch is refused rather
than misread. Opened to read (``status``, ``export``, an undo preview), an older journal is
migrated in a copy held in memory, and the file stays as it was.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from bulkpatch.config import SANDBOX_TARGET, target_name
from bulkpatch.errors import ConfigError

SCHEMA_VERSION = 4

#: The columns of a job row, in order: ``rows`` holds them, keyed by line; ``retired`` holds
#: them too, for done rows no longer in the job file (a changed file run with --force).
_ROW_COLUMNS = (
    ("line", "INTEGER"),  # declared by each table with its key
    ("meeting_id", "TEXT NOT NULL"),
    ("status", "TEXT NOT NULL"),
    ("attempts", "INTEGER NOT NULL DEFAULT 0"),
    ("http_status", "INTEGER"),
    ("tracking_id", "TEXT"),
    ("error", "TEXT"),
    ("finished_at", "TEXT"),
    ("body", "TEXT"),
    ("before", "TEXT"),
    ("digest", "TEXT"),
    ("before_at", "TEXT"),
    ("after", "TEXT"),
    ("resolved", "TEXT"),
    ("before_by", "TEXT"),
)
#: Every column of a job row, as a SELECT list (``retired`` read as ``rows`` are).
ROW_COLUMN_NAMES = ", ".join(name for name, _ in _ROW_COLUMNS)


def _row_table(name: str, keys: tuple[str, ...], extra: tuple[str, ...] = ()) -> str:
    """CREATE TABLE for a table of job rows: its key columns (``line`` among them), the rest."""
    declarations = [
        *keys,
        *(f"{column} {kind}" for column, kind in _ROW_COLUMNS if column != "line"),
        *extra,
    ]
    return f"CREATE TABLE {name} (\n    " + ",\n    ".join(declarations) + "\n)"


_RETIRED = _row_table(
    "retired",
    ("id INTEGER PRIMARY KEY", "line INTEGER NOT NULL"),
    ("retired_at TEXT NOT NULL",),
)

_TABLES = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    _row_table("rows", ("line INTEGER PRIMARY KEY",)),
    _RETIRED,
    "CREATE INDEX rows_status ON rows (status)",
    """CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    outcome TEXT,
    options TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    throttled INTEGER NOT NULL DEFAULT 0
)""",
)

_JOURNAL_TABLES = frozenset({"meta", "rows", "runs"})


def version_of(db: sqlite3.Connection) -> int | None:
    """The schema version of an open database, or None when it is not a bulkpatch journal."""
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        return 0  # an empty database: a journal about to be made
    if not tables >= _JOURNAL_TABLES:
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    try:
        # Version 1 wrote its version only once a job was bound.
        return int(row[0]) if row else 1
    except ValueError:
        return None


def _from_1(db: sqlite3.Connection) -> None:
    """Version 2: a per-row digest of the real patch, and the target the journal is bound to.

    A version-1 journal's target is the one its runs used. Its rows have no digest, so a
    changed job file run with --force sends them again (PATCH is idempotent).
    """
    columns = {row[1] for row in db.execute("PRAGMA table_info(rows)")}
    if "digest" not in columns:
        db.execute("ALTER TABLE rows ADD COLUMN digest TEXT")
    last = db.execute("SELECT options FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    if last is not None:
        base_url = json.loads(last[0]).get("baseUrl")
        try:
            target = base_url if base_url == SANDBOX_TARGET else target_name(str(base_url))
        except ConfigError:
            return  # bound to its target at its next run
        db.execute("INSERT OR IGNORE INTO meta VALUES ('target', ?)", (target,))


def _from_2(db: sqlite3.Connection) -> None:
    """Version 3: when the before-values were read, what the API held after, resolved times."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(rows)")}
    for column in ("before_at", "after", "resolved"):
        if column not in columns:
            db.execute(f"ALTER TABLE rows ADD COLUMN {column} TEXT")


def _from_3(db: sqlite3.Connection) -> None:
    """Version 4: done rows that left the job are kept apart (``retired``), rows no longer
    carry a ``removed`` status, and before-values say whether a run or a plan took them (a
    version-3 journal's are taken as a run's: its resume sends such rows again, which is safe)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(rows)")}
    if "before_by" not in columns:
        db.execute("ALTER TABLE rows ADD COLUMN before_by TEXT")
    db.execute("UPDATE rows SET before_by = 'run' WHERE before IS NOT NULL")
    db.execute(_RETIRED.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
    # A "removed" row with before-values was read, so maybe sent (killed in flight), before it
    # left the job: its meeting may hold its change, which undo must still find.
    kept = ", ".join(name for name, _ in _ROW_COLUMNS if name != "status")
    db.execute(
        f"INSERT INTO retired (status, {kept}, retired_at) SELECT 'pending', {kept}, "
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM rows "
        "WHERE status = 'removed' AND before IS NOT NULL"
    )
    db.execute("DELETE FROM rows WHERE status = 'removed'")


#: From version N to N + 1.
_MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _from_1,
    2: _from_2,
    3: _from_3,
}


def upgrade(db: sqlite3.Connection, version: int) -> None:
    """Create the tables of a new journal, or migrate an older one, in one transaction."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if version == 0:
            for statement in _TABLES:  # one by one: executescript would commit first
                db.execute(statement)
        for step in range(max(version, 1), SCHEMA_VERSION):
            _MIGRATIONS[step](db)
        db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
