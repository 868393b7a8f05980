"""Validate a whole job file: every row through the offline rules, plus checks across rows.

Memory stays flat however long the file is: findings and the meeting ids seen (for the
"same meetingId twice" warning) go to a private temporary SQLite database, not to lists.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Self

from bulkpatch.errors import JobFileError
from bulkpatch.jobfile import JobFormat, job_format, open_job, read_rows
from bulkpatch.model import CheckedRow, Finding, JobRow, Severity, ValidatedRow, check_row

_BATCH = 5_000


@dataclass(slots=True)
class JobSummary:
    """What validation found, in numbers."""

    path: str
    format: JobFormat
    rows: int = 0
    valid: int = 0
    invalid: int = 0
    warnings: int = 0
    fields: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        """True when every row is valid (warnings allowed)."""
        return self.invalid == 0


class FindingStore:
    """Findings and meeting ids of one validation, kept on disk in a throwaway SQLite file.

    With ``keep_rows`` it also keeps every row's validated body, so that a run sends what was
    validated without reading and checking the file a second time.
    """

    def __init__(self, *, keep_rows: bool = False) -> None:
        # "" asks SQLite for a private temporary file, deleted on close: bounded memory.
        self._db = sqlite3.connect("")
        self._db.executescript(
            """
            CREATE TABLE finding (line INTEGER, seq INTEGER PRIMARY KEY, severity TEXT, field TEXT,
                                  rule TEXT, message TEXT, value TEXT, meeting_id TEXT);
            CREATE TABLE seen (meeting_id TEXT, line INTEGER);
            CREATE TABLE kept (line INTEGER PRIMARY KEY, meeting_id TEXT, body TEXT, error TEXT);
            """
        )
        self._findings: list[tuple[object, ...]] = []
        self._seen: list[tuple[str, int]] = []
        self._kept: list[tuple[int, str, str | None, str | None]] | None = [] if keep_rows else None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self._db.close()

    def add(self, finding: Finding) -> None:
        """Keep one finding."""
        self._findings.append(
            (
                finding.line,
                finding.severity.value,
                finding.field,
                finding.rule,
                finding.message,
                finding.value,
                finding.meeting_id,
            )
        )
        if len(self._findings) >= _BATCH:
            self._flush()

    def see(self, meeting_id: str, line: int) -> None:
        """Note that a row names this meeting."""
        self._seen.append((meeting_id, line))
        if len(self._seen) >= _BATCH:
            self._flush()

    def keep(self, checked: CheckedRow) -> None:
        """Keep a row's validated body (or its errors) for :meth:`kept_rows`."""
        if self._kept is None:
            return
        row = checked.row
        body = None if checked.body is None else json.dumps(checked.body, ensure_ascii=False)
        self._kept.append(
            (
                row.line,
                row.meeting_id,
                body,
                None if body is not None else error_text(checked.findings),
            )
        )
        if len(self._kept) >= _BATCH:
            self._flush()

    def kept_rows(self) -> Iterator[ValidatedRow]:
        """Every kept row in file order."""
        self._flush()
        for line, meeting_id, body, error in self._db.execute(
            "SELECT line, meeting_id, body, error FROM kept ORDER BY line"
        ):
            yield ValidatedRow(line, meeting_id, None if body is None else json.loads(body), error)

    def duplicate_findings(self) -> Iterator[Finding]:
        """A warning for every row whose meetingId an earlier row already named."""
        self._flush()
        self._db.execute("CREATE INDEX seen_id ON seen (meeting_id, line)")
        query = """
            SELECT later.meeting_id, later.line, MIN(earlier.line) FROM seen AS later
            JOIN seen AS earlier ON earlier.meeting_id = later.meeting_id AND earlier.line < later.line
            GROUP BY later.meeting_id, later.line ORDER BY later.line
        """
        for meeting_id, line, first in self._db.execute(query):
            yield Finding(
                Severity.WARNING,
                line,
                "meetingId",
                "duplicate_id",
                f"the same meetingId is on line {first}; the rows are applied in file order",
                None,
                meeting_id,
            )

    def findings(self) -> Iterator[Finding]:
        """Every finding, in file order."""
        self._flush()
        query = "SELECT line, severity, field, rule, message, value, meeting_id FROM finding ORDER BY line, seq"
        for line, severity, field_, rule, message, value, meeting_id in self._db.execute(query):
            yield Finding(Severity(severity), line, field_, rule, message, value, meeting_id)

    def _flush(self) -> None:
        self._db.executemany(
            "INSERT INTO finding (line, severity, field, rule, message, value, meeting_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            self._findings,
        )
        self._db.executemany("INSERT INTO seen VALUES (?, ?)", self._seen)
        self._findings.clear()
        self._seen.clear()
        if self._kept:
            self._db.executemany("INSERT INTO kept VALUES (?, ?, ?, ?)", self._kept)
            self._kept.clear()


def _field_paths(row: JobRow) -> Iterator[str]:
    for name, value in row.changes.items():
        if isinstance(value, dict):
            yield from (f"{name}.{member}" for member in value)
        else:
            yield name


def checked_rows(path: Path, now: datetime) -> Iterator[CheckedRow]:
    """Every row of a job file through the offline rules, in file order, one at a time."""
    fmt = job_format(path)
    with open_job(path) as lines:
        for item in read_rows(lines, fmt, str(path)):
            if isinstance(item, JobRow):
                yield check_row(item, now)
            else:
                yield CheckedRow(JobRow(item.line, item.meeting_id or "", {}), item.findings, None)


def validate_job(path: Path, now: datetime, store: FindingStore) -> JobSummary:
    """Read and check every row of a job file; findings go to ``store``."""
    summary = JobSummary(str(path), job_format(path))
    for checked in checked_rows(path, now):
        row = checked.row
        summary.rows += 1
        summary.fields.update(_field_paths(row))
        if row.meeting_id:
            store.see(row.meeting_id, row.line)
        store.keep(checked)
        summary.valid += checked.is_valid
        summary.invalid += not checked.is_valid
        for finding in checked.findings:
            _count(summary, finding)
            store.add(finding)
    if summary.rows == 0:
        raise JobFileError(str(path), "the job file has no rows", rule="empty")
    for finding in store.duplicate_findings():
        _count(summary, finding)
        store.add(finding)
    return summary


def error_text(findings: Iterable[Finding]) -> str:
    """A row's errors as one line, for the journal and exports."""
    return "; ".join(
        f"{f.field}: {f.message}" if f.field else f.message
        for f in findings
        if f.severity is Severity.ERROR
    )


def _count(summary: JobSummary, finding: Finding) -> None:
    summary.rules[f"{finding.severity}:{finding.rule}"] += 1
    if finding.severity is Severity.WARNING:
        summary.warnings += 1
