"""The journal's values: row statuses, outcomes, and the records status and export read."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class RowStatus(StrEnum):
    """Where a row of the job stands."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INVALID = "invalid"
    SKIPPED = "skipped"
    #: An undo found the meeting changed since bulkpatch set it, and left it alone.
    CONFLICT = "conflict"
    #: Succeeded, then taken back by `undo --run`: a run of the job sends it again.
    REVERTED = "reverted"


#: Every status, in the order summaries list them.
STATUSES = tuple(RowStatus)

#: Statuses that summaries show only when some row has them.
RARE = frozenset({RowStatus.CONFLICT, RowStatus.REVERTED})

#: Rows that are done: never sent again on resume (failed ones only with --retry-failed).
DONE = frozenset({RowStatus.SUCCEEDED, RowStatus.SKIPPED})

#: Rows that make a finished run exit 1: work the job asked for that did not happen.
NOT_DONE = frozenset({RowStatus.PENDING, RowStatus.FAILED, RowStatus.INVALID, RowStatus.CONFLICT})


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one row in one run; ``after``: what the API then held (JSON)."""

    line: int
    status: RowStatus
    attempts: int
    http_status: int | None = None
    tracking_id: str | None = None
    error: str | None = None
    finished_at: str | None = None
    after: str | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a row's meeting held before its PATCH.

    ``before`` is JSON (see :mod:`bulkpatch.model.diff`); ``resolved`` the absolute start and
    end a row's relative values came to (JSON), so a resume never shifts twice. ``by_run``:
    taken by a run, committed before its PATCH was sent (the PATCH may have landed since); a
    plan's (False) only says what the meeting held when it was planned.
    """

    line: int
    before: str
    taken_at: str
    resolved: str | None = None
    by_run: bool = True


@dataclass(frozen=True, slots=True)
class RowState:
    """What a run needs to know of a row the journal holds."""

    line: int
    status: RowStatus
    before: str | None
    taken_at: str | None
    resolved: str | None
    #: The before-values were committed by a run, before a PATCH that may have been sent.
    sent: bool = False
    #: The before-values (and resolved times, if any) are an earlier version's of this row,
    #: which moved the meeting or may have (see :mod:`bulkpatch.journal.pairing`).
    carried: bool = False
    #: Failed unsent: an offset row behind a row of its meeting that moves it again.
    behind_a_move: bool = False


@dataclass(frozen=True, slots=True)
class UndoRow:
    """A row whose change undo may take back: what it sent, what was there before, and after."""

    meeting_id: str
    line: int
    status: RowStatus
    body: str | None
    before: str | None
    after: str | None
    #: No longer in the job file (a changed file run with --force), kept for undo.
    retired: bool = False
    #: The absolute start/end the row's offsets came to (JSON), when it had offsets.
    resolved: str | None = None
    #: When its PATCH was answered (or, never answered, when it was about to be sent): a row
    #: sent again after a later one of its meeting (run --force) set the meeting's value last.
    applied_at: str | None = None


@dataclass(frozen=True, slots=True)
class RowRecord:
    """One row as the journal holds it (for status and export)."""

    line: int
    meeting_id: str
    status: RowStatus
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


@dataclass(frozen=True, slots=True)
class JobBinding:
    """What a journal is the journal of: one version of one job file, against one target.

    ``target`` is the normalised base URL, or ``"sandbox"`` for the emulator, whatever port
    it had: an outcome recorded for one target says nothing about another.
    """

    path: str
    sha256: str
    format: str
    target: str
    rows: int
    #: How CSV cells were separated (export --as-job writes the file back the same way).
    delimiter: str = ","
