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
    #: No longer in the job file (a changed file run with --force) and never done: not pending.
    REMOVED = "removed"


#: Every status, in the order summaries list them.
STATUSES = tuple(RowStatus)

#: Rows that are done: never sent again on resume (failed ones only with --retry-failed).
DONE = frozenset({RowStatus.SUCCEEDED, RowStatus.SKIPPED})

#: Rows that make a finished run exit 1: work the job asked for that did not happen.
NOT_DONE = frozenset({RowStatus.PENDING, RowStatus.FAILED, RowStatus.INVALID})


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one row in one run."""

    line: int
    status: RowStatus
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
