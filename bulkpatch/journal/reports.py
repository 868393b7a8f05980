"""What the journal tells about a job: rows by status, the failures, the runs, and what undo
may take back. Read-only, apart from undo marking the rows it reverted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from bulkpatch.journal import pairing
from bulkpatch.journal.schema import ROW_COLUMN_NAMES
from bulkpatch.journal.statements import BATCH, Statements
from bulkpatch.journal.values import STATUSES, RowRecord, RowStatus, RunRecord, UndoRow

_ROW_COLUMNS = "line, meeting_id, status, attempts, http_status, tracking_id, error, finished_at"


class Reports(Statements):
    """The journal's reports (the :class:`~bulkpatch.journal.Journal` is one)."""

    def undo_rows(self) -> Iterator[UndoRow]:
        """Rows that changed (or may have changed) a meeting and are not reverted, for undo.

        Succeeded rows, and rows whose PATCH was sent without a recorded answer (a run killed
        mid-flight); retired rows too. Oldest change first, so that the first before-value of a
        meeting is the one it had before bulkpatch touched it.
        """
        query = (
            "SELECT meeting_id, line, status, body, before, after, retired, resolved, "
            "COALESCE(finished_at, before_at), COALESCE(before_at, finished_at) AS moment FROM ("
            f"SELECT *, 0 AS retired FROM rows WHERE {pairing.MAY_HAVE_CHANGED} UNION ALL "
            f"SELECT {ROW_COLUMN_NAMES}, 1 FROM retired WHERE {pairing.MAY_HAVE_CHANGED}) "
            "ORDER BY moment IS NULL, moment, retired DESC, line"
        )
        for row in self._read(query):
            yield UndoRow(
                row[0],
                row[1],
                RowStatus(row[2]),
                row[3],
                row[4],
                row[5],
                bool(row[6]),
                row[7],
                row[8],
            )

    def mark_reverted(self, meeting_ids: Iterable[str]) -> None:
        """Note that undo gave these meetings their values back: their rows are ``reverted``."""
        self._write("CREATE TEMP TABLE IF NOT EXISTS reverted (meeting_id TEXT PRIMARY KEY)")
        self._write_many(
            "INSERT OR IGNORE INTO temp.reverted VALUES (?)", [(i,) for i in meeting_ids]
        )
        self._write_script(
            [
                (
                    f"UPDATE {table} SET status = 'reverted' WHERE ({pairing.MAY_HAVE_CHANGED}) "
                    "AND meeting_id IN (SELECT meeting_id FROM temp.reverted)",
                    (),
                )
                for table in ("rows", "retired")
            ]
            + [("DELETE FROM temp.reverted", ())]
        )

    def retired_count(self) -> int:
        """Done rows kept for undo after they left the job file."""
        return int(self._read("SELECT COUNT(*) FROM retired WHERE status != 'reverted'")[0][0])

    def counts(self) -> dict[RowStatus, int]:
        """Rows by status, every status present (zero when none)."""
        found = dict(self._read("SELECT status, COUNT(*) FROM rows GROUP BY status"))
        return {status: found.get(status.value, 0) for status in STATUSES}

    def rows(self, only: RowStatus | None = None) -> Iterator[RowRecord]:
        """Rows in job-file order, optionally of one status (read in batches)."""
        after = 0
        condition, extra = ("", ()) if only is None else ("AND status = ?", (only.value,))
        while True:
            batch = self._read(
                f"SELECT {_ROW_COLUMNS} FROM rows WHERE line > ? {condition} ORDER BY line LIMIT ?",
                (after, *extra, BATCH),
            )
            for row in batch:
                yield _row_record(row)
            if len(batch) < BATCH:
                return
            after = batch[-1][0]

    def last_errors(self, limit: int = 5) -> list[RowRecord]:
        """The most recent failures."""
        query = (
            f"SELECT {_ROW_COLUMNS} FROM rows WHERE status IN ('failed', 'invalid') "
            "ORDER BY finished_at DESC, line DESC LIMIT ?"
        )
        return [_row_record(row) for row in self._read(query, (limit,))]

    def finished_between(self, start: str, end: str | None) -> tuple[int, str | None]:
        """How many rows got an outcome from ``start`` on (up to ``end``), and the last moment."""
        query = "SELECT COUNT(*), MAX(finished_at) FROM rows WHERE finished_at >= ?"
        params: tuple[str, ...] = (start,)
        if end is not None:
            query += " AND finished_at <= ?"
            params = (start, end)
        count, last = self._read(query, params)[0]
        return int(count), last

    def runs(self) -> list[RunRecord]:
        """Every run, oldest first."""
        query = "SELECT id, started_at, ended_at, outcome, options, throttled FROM runs ORDER BY id"
        return [
            RunRecord(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in self._read(query)
        ]


def _row_record(row: tuple[Any, ...]) -> RowRecord:
    return RowRecord(row[0], row[1], RowStatus(row[2]), *row[3:])
