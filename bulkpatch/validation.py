"""Validate a whole job file: every row through the offline rules, plus checks across rows.

Memory stays flat however long the file is: findings and the meeting ids seen (for the
"same meetingId twice" warning) go to a private temporary SQLite database, not to lists.

The rules cost tens of microseconds a row, so a large job is checked by worker processes, one
machine core each: this process reads the file into batches of records, the workers turn each
batch into rows, check them and send back a :class:`_Tally` of plain values, and the tallies
are taken in file order, so the result is the same as checking in this process.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import sqlite3
import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, Self

from bulkpatch.errors import JobFileError
from bulkpatch.jobfile import JobFormat, RowMaker, job_format, open_job, read_records
from bulkpatch.model import CheckedRow, Finding, JobRow, Severity, ValidatedRow, check_row

#: A job file at least this large is checked by worker processes; below it, starting them
#: (about half a second: each imports the rules) costs more than they save.
PARALLEL_BYTES = 8 * 1024 * 1024
_MAX_WORKERS = 8  # past this, reading the file in this process is what limits the pace
_CHUNK = 1_000  # records per batch: large enough to pay for the trip to a worker and back

#: An occurrence id (``<series>_<YYYYMMDDTHHMMSSZ>``) as a SQLite GLOB; the stamp is 17
#: characters with its underscore, so the series id is what comes before them.
_OCCURRENCE_GLOB = "*_[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z"
#: An occurrence row's series, in the reschedules (``moved``) by the id before its stamp.
_SERIES_OF_SEEN = "moved.series = substr(seen.meeting_id, 1, length(seen.meeting_id) - 17)"
_LOST_EDIT = (
    "line %d reschedules this occurrence's series: if that moves the series, this occurrence's "
    "own edit cannot be made (the move cancels an edited occurrence and re-stamps the others). "
    "A run sends this row after every other row, so it then fails (404: its id names the old "
    "start) rather than succeed and be cancelled. Leave the series' start, end and recurrence "
    "as they are, or run the series first, then pull its occurrences again "
    "(bulkpatch pull --type occurrences) and edit those"
)
_Shape = tuple[tuple[str, ...], tuple[tuple[str, ...] | None, ...]]
#: The admin's way to act for a host: a column of the job, never a change to the meeting.
ON_BEHALF_OF = "hostEmail"


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


@dataclass(slots=True)
class _Tally:
    """What a batch of checked rows adds to the summary and the store, as plain values.

    Rows of a job mostly change the same fields, so each row adds its shape (field names, and
    member names of objects) to a counter; the dotted paths are spelled out once, at the end.
    """

    keep_rows: bool
    rows: int = 0
    invalid: int = 0
    warnings: int = 0
    shapes: Counter[_Shape] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    findings: list[tuple[Any, ...]] = field(default_factory=list)
    seen: list[tuple[str, int]] = field(default_factory=list)
    kept: list[tuple[int, str, str | None, str | None]] = field(default_factory=list)

    def add(self, checked: CheckedRow) -> None:
        """Count one checked row, and note what the store keeps of it."""
        row = checked.row
        changes = row.changes
        self.rows += 1
        members = tuple([tuple(v) if type(v) is dict else None for v in changes.values()])
        self.shapes[tuple(changes), members] += 1
        if row.meeting_id and not _refused_id(checked):
            self.seen.append((row.meeting_id, row.line))
        if checked.body is None:
            self.invalid += 1
        if self.keep_rows:
            body = None if checked.body is None else json.dumps(checked.body, ensure_ascii=False)
            error = None if body is not None else error_text(checked.findings)
            self.kept.append((row.line, row.meeting_id, body, error))
        for finding in checked.findings:
            self.rules[f"{finding.severity}:{finding.rule}"] += 1
            self.warnings += finding.severity is Severity.WARNING
            self.findings.append(_stored(finding))


def _refused_id(checked: CheckedRow) -> bool:
    """Whether the row's meetingId is refused: it names no meeting, so no order to keep."""
    return checked.body is None and any(
        f.field == "meetingId" and f.severity is Severity.ERROR for f in checked.findings
    )


def _stored(finding: Finding) -> tuple[Any, ...]:
    return (
        finding.line,
        finding.severity.value,
        finding.field,
        finding.rule,
        finding.message,
        finding.value,
        finding.meeting_id,
    )


class FindingStore:
    """Findings and meeting ids of one validation, kept on disk in a throwaway SQLite file.

    With ``keep_rows`` it also keeps every row's validated body, so that a run sends what was
    validated without reading and checking the file a second time.
    """

    def __init__(self, *, keep_rows: bool = False) -> None:
        self.keep_rows = keep_rows
        # "" asks SQLite for a private temporary file, deleted on close: bounded memory.
        self._db = sqlite3.connect("")
        self._db.executescript(
            """
            CREATE TABLE finding (line INTEGER, seq INTEGER PRIMARY KEY, severity TEXT, field TEXT,
                                  rule TEXT, message TEXT, value TEXT, meeting_id TEXT);
            CREATE TABLE seen (meeting_id TEXT, line INTEGER);
            CREATE TABLE kept (line INTEGER PRIMARY KEY, meeting_id TEXT, body TEXT, error TEXT);
            -- The series a job reschedules, and the first line that does; then every line that does.
            CREATE TABLE moved (series TEXT PRIMARY KEY, line INTEGER);
            CREATE TABLE movers (series TEXT, line INTEGER, PRIMARY KEY (series, line));
            """
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self._db.close()

    def add(self, finding: Finding) -> None:
        """Keep one finding."""
        self._add_findings([_stored(finding)])

    def _add_findings(self, rows: Iterable[tuple[Any, ...]]) -> None:
        self._db.executemany(
            "INSERT INTO finding (line, severity, field, rule, message, value, meeting_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def _absorb(self, tally: _Tally) -> None:
        """Keep what a batch of rows gave: findings, meeting ids, and bodies if asked."""
        self._add_findings(tally.findings)
        self._db.executemany("INSERT INTO seen VALUES (?, ?)", tally.seen)
        if self.keep_rows:
            self._db.executemany("INSERT INTO kept VALUES (?, ?, ?, ?)", tally.kept)

    def kept_rows(self, *, behind_series_moves: bool | None = None) -> Iterator[ValidatedRow]:
        """Every kept row in file order; with ``behind_series_moves``, only the occurrence rows
        whose series another row reschedules (True) or only the others (False)."""
        where = ""
        if behind_series_moves is not None:
            negation = "" if behind_series_moves else "NOT "
            where = (
                f"WHERE line {negation}IN (SELECT line FROM finding "
                "WHERE rule = 'occurrence_of_moved_series')"
            )
        for line, meeting_id, body, error in self._db.execute(
            f"SELECT line, meeting_id, body, error FROM kept {where} ORDER BY line"
        ):
            yield ValidatedRow(line, meeting_id, None if body is None else json.loads(body), error)

    def duplicate_findings(self) -> Iterator[Finding]:
        """A warning for every row whose meetingId an earlier row already named.

        One sort of the ids (a window over each id's rows): 30,000 rows of one meeting cost what
        30,000 different meetings do, and only the duplicates come back to Python.
        """
        query = """
            SELECT meeting_id, line, first FROM (
                SELECT meeting_id, line, MIN(line) OVER (PARTITION BY meeting_id) AS first
                FROM seen
            ) WHERE line > first ORDER BY line
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

    def warn_of_lost_occurrence_edits(self) -> int:
        """Warn on every occurrence row whose series another row reschedules; return how many.

        Moving a series (a new start, end or recurrence) cancels every occurrence edited on its
        own, so the occurrence's change is lost whichever lands first: before the move, the move
        cancels it; after it, its id (stamped at the old start) names nothing. A run therefore
        sends these rows last (:meth:`kept_rows`), so such a row fails instead of succeeding
        only to be cancelled. Only a warning: a job pulled with its series and occurrences gives the
        series' times as they are, and a value that does not change moves nothing. The
        reschedules are the rows that drew ``cancels_exceptions``; a row already refused gets no
        warning. It all happens in SQLite, so a million such rows keep memory flat.
        """
        # CROSS JOIN pins the plan to one pass over the ids, each occurrence's series looked up
        # in the reschedules' index: a plan with the reschedules outside scans the ids once per
        # reschedule (a million-row job took minutes).
        self._db.execute(
            "INSERT INTO moved SELECT meeting_id, MIN(line) "
            "FROM finding WHERE rule = 'cancels_exceptions' AND meeting_id NOT GLOB '*_*' "
            "GROUP BY meeting_id"
        )
        self._db.execute(
            "INSERT INTO movers SELECT meeting_id, line FROM finding "
            "WHERE rule = 'cancels_exceptions' AND meeting_id NOT GLOB '*_*'"
        )
        added = self._db.execute(
            "INSERT INTO finding (line, severity, field, rule, message, value, meeting_id) "
            "SELECT seen.line, 'warning', 'meetingId', 'occurrence_of_moved_series', "
            "printf(?, moved.line), NULL, seen.meeting_id FROM seen CROSS JOIN moved "
            f"ON {_SERIES_OF_SEEN} WHERE seen.meeting_id GLOB ? "
            "AND seen.line NOT IN (SELECT line FROM finding WHERE severity = 'error') "
            "ORDER BY seen.line",
            (_LOST_EDIT, _OCCURRENCE_GLOB),
        )
        return added.rowcount

    def occurrences_behind_moves(self) -> Iterator[tuple[int, int]]:
        """Each occurrence row a run sends last (see :meth:`warn_of_lost_occurrence_edits`)
        with each line that reschedules its series: in file order, the first mover last."""
        return self._db.execute(
            "SELECT seen.line, moved.line FROM seen CROSS JOIN movers AS moved ON "
            f"{_SERIES_OF_SEEN} WHERE seen.line IN (SELECT line FROM finding "
            "WHERE rule = 'occurrence_of_moved_series') ORDER BY seen.line, moved.line DESC"
        )

    def findings(self, *, only: Severity | None = None) -> Iterator[Finding]:
        """Every finding in file order, or ``only`` those of one severity (chosen by SQLite)."""
        where = "" if only is None else "WHERE severity = ?"
        query = f"SELECT line, severity, field, rule, message, value, meeting_id FROM finding {where} ORDER BY line, seq"
        rows = self._db.execute(query, () if only is None else (only.value,))
        for line, severity, field_, rule, message, value, meeting_id in rows:
            yield Finding(Severity(severity), line, field_, rule, message, value, meeting_id)


def validate_job(
    path: Path,
    now: datetime,
    store: FindingStore,
    *,
    delimiter: str = ",",
    workers: int | None = 0,
) -> JobSummary:
    """Read and check every row of a job file; findings go to ``store``.

    ``delimiter`` separates a CSV job's cells (``,``, ``;`` or a tab). ``workers`` is how many
    processes check rows: 0 (the default) checks in this one; None picks one per core for a
    job of :data:`PARALLEL_BYTES` or more. Workers are spawned, so a script that starts them
    must keep its own work under ``if __name__ == "__main__":``, as multiprocessing requires.
    """
    summary = JobSummary(str(path), job_format(path))
    shapes: Counter[_Shape] = Counter()
    with open_job(path) as lines:
        make_row, records = read_records(lines, summary.format, str(path), delimiter=delimiter)
        count = _default_workers(path) if workers is None else workers
        batches = iter(lambda: list(islice(records, _CHUNK)), [])
        tallies = (
            _in_workers(count, make_row, now, store.keep_rows, batches)
            if count > 1
            else (_check_batch(make_row, now, store.keep_rows, batch) for batch in batches)
        )
        for tally in tallies:
            store._absorb(tally)
            summary.rows += tally.rows
            summary.invalid += tally.invalid
            summary.warnings += tally.warnings
            summary.rules.update(tally.rules)
            shapes.update(tally.shapes)
    if summary.rows == 0:
        raise JobFileError(str(path), "the job file has no rows", rule="empty")
    summary.valid = summary.rows - summary.invalid
    for (names, members), rows in shapes.items():
        for name, of_object in zip(names, members, strict=True):
            if name == ON_BEHALF_OF:
                continue  # whose meeting it is, not a change to it
            for path_ in [name] if of_object is None else [f"{name}.{m}" for m in of_object]:
                summary.fields[path_] += rows
    for finding in store.duplicate_findings():
        summary.rules[f"{finding.severity}:{finding.rule}"] += 1
        summary.warnings += 1
        store.add(finding)
    if summary.rules["warning:cancels_exceptions"]:
        lost = store.warn_of_lost_occurrence_edits()
        if lost:
            summary.rules["warning:occurrence_of_moved_series"] += lost
            summary.warnings += lost
    return summary


def _check_batch(
    make_row: RowMaker, now: datetime, keep_rows: bool, records: list[tuple[int, Any]]
) -> _Tally:
    """Make and check the rows of a batch of records (in a worker, or in this process)."""
    tally = _Tally(keep_rows)
    for line, record in records:
        item = make_row(line, record)
        if isinstance(item, JobRow):
            tally.add(check_row(item, now))
        else:
            tally.add(CheckedRow(JobRow(item.line, item.meeting_id or "", {}), item.findings, None))
    return tally


def _default_workers(path: Path) -> int:
    if path.stat().st_size < PARALLEL_BYTES:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(cores or 1, _MAX_WORKERS)


def _in_workers(
    count: int,
    make_row: RowMaker,
    now: datetime,
    keep_rows: bool,
    batches: Iterator[list[tuple[int, Any]]],
) -> Iterator[_Tally]:
    """Tallies of the batches, in order, checked by ``count`` worker processes.

    At most two batches per worker are in flight, so memory stays flat however far the reading
    runs ahead. Workers are spawned, not forked: a fork copies whatever threads and locks this
    process holds at that moment.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(count, mp_context=context, initializer=_start_worker) as pool:
        pending: deque[Future[_Tally]] = deque()
        try:
            for batch in batches:
                pending.append(pool.submit(_check_batch, make_row, now, keep_rows, batch))
                if len(pending) >= 2 * count:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _start_worker() -> None:
    """Leave Ctrl-C to the main process (no traceback from each worker); end when it ends.

    A main process stopped by SIGTERM or kill -9 cannot shut its workers down, and a worker
    blocked on sending a result would wait for it forever: a thread watches for its end.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_end_with, args=(parent.sentinel,), daemon=True).start()


def _end_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


def error_text(findings: Iterable[Finding]) -> str:
    """A row's errors as one line, for the journal and exports."""
    return "; ".join(
        f"{f.field}: {f.message}" if f.field else f.message
        for f in findings
        if f.severity is Severity.ERROR
    )
