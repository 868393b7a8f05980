"""Every statement the journal runs goes through :class:`Statements`: no ``sqlite3`` error
leaves it (each becomes :class:`~bulkpatch.errors.JournalFailed`, naming the journal), and
every write is one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bulkpatch.errors import JournalFailed
from bulkpatch.journal.opening import sqlite_reason

#: Rows read or inserted per statement: memory stays flat however long the job.
BATCH = 5_000


class Statements:
    """The journal's connection, and the only ways to run SQL on it."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self._db = db

    def _read(self, query: str, params: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self._db.execute(query, params).fetchall()
        except sqlite3.Error as exc:
            raise JournalFailed(sqlite_reason(self.path, "read", exc)) from None

    def _write(self, query: str, params: tuple[Any, ...] = ()) -> int:
        return self._write_script([(query, params)])

    def _write_many(self, query: str, rows: list[tuple[Any, ...]]) -> None:
        self._in_transaction(lambda: self._db.executemany(query, rows))

    def _write_script(self, statements: list[tuple[str, tuple[Any, ...]]]) -> int:
        last = 0

        def run() -> None:
            nonlocal last
            for query, params in statements:
                last = self._db.execute(query, params).lastrowid or 0

        self._in_transaction(run)
        return last

    def _insert(self, values: Iterator[tuple[Any, ...]], table: str) -> None:
        query = f"INSERT INTO {table} (line, meeting_id, status, body, error, digest) VALUES (?, ?, ?, ?, ?, ?)"

        def run() -> None:
            while batch := [row for _, row in zip(range(BATCH), values, strict=False)]:
                self._db.executemany(query, batch)

        self._in_transaction(run)

    def _in_transaction(self, work: Callable[[], object]) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                work()
            except BaseException:
                if self._db.in_transaction:  # SQLite may have rolled back already (disk full)
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise JournalFailed(sqlite_reason(self.path, "write to", exc)) from None
