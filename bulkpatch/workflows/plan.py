"""``plan_job``: read each row's meeting and say what a run would change, before it does.

Every row still to send is read (a GET on the read lane, through the one pipeline) and classed:
``change`` (with each field's current and new value, after the API's own normalisation),
``unchanged`` (the meeting already holds the row's values: a run skips it), ``gone`` (404),
``refused`` (the API would refuse: an instance, an ended or ad-hoc meeting, a value the
meeting's type does not take...). The before-values go into the job's journal, so a run right
after does not read the meetings again. Each row also says what such a run sends for it, so the
plan's request counts are the run's.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import anyio
from structlog.typing import FilteringBoundLogger

from bulkpatch.config import Settings
from bulkpatch.engine import Pipeline, Planned, RunCounts, Stopper, StopReason, plan_rows
from bulkpatch.engine.steps import another_meeting, read_request, resolved_patch, unresolvable
from bulkpatch.journal import Journal, RowStatus, Snapshot
from bulkpatch.model.diff import FieldChange, before_values, changes, encode_values
from bulkpatch.model.relative import relative_parts
from bulkpatch.model.server import refusal
from bulkpatch.tokens import Credentials
from bulkpatch.workflows.run import (
    PreparedJob,
    RunOptions,
    held_journal,
    journal_path_for,
    resent_behind_moves,
)
from bulkpatch.workflows.session import Target, bind_organisation, open_session

CLASSES = ("change", "unchanged", "gone", "refused", "unread")
_FLUSH_EVERY = 500


@dataclass(frozen=True, slots=True)
class Sends:
    """The requests a run right after a plan sends for one row: a GET, a PATCH, each 0 or 1."""

    reads: int = 0
    #: Refused ones included: the API's answer is the row's outcome.
    patches: int = 0


@dataclass(frozen=True, slots=True)
class RowPlan:
    """What a run would do with one row."""

    line: int
    meeting_id: str
    klass: str
    changes: tuple[FieldChange, ...] = ()
    reason: str = ""
    sends: Sends = Sends()


@dataclass
class PlanReport:
    """What a run of the job would do, in numbers."""

    reason: StopReason
    detail: str
    job: Path
    journal: Path
    classes: Counter[str] = field(default_factory=Counter)
    fields: Counter[str] = field(default_factory=Counter)
    already_done: int = 0
    #: GETs and PATCH requests a run right after would send for the rows (see :class:`Sends`).
    row_reads: int = 0
    patches: int = 0
    #: GETs a run sends before any row: the token's person (GET /v1/people/me), whose
    #: organisation the journal is bound to (none on the in-process sandbox).
    identity_reads: int = 0
    counts: RunCounts = field(default_factory=RunCounts)
    elapsed: float = 0.0
    #: Requests per second a run would go at (the ceiling, when there is one).
    rate: float | None = None

    @property
    def reads(self) -> int:
        """GETs a run would send: the token's person, then a meeting found already set (read
        again before it is skipped: it may change meanwhile), one an earlier row also changes,
        one with offsets (they move from the meeting as it is then), one not read or found."""
        return self.identity_reads + self.row_reads

    @property
    def seconds(self) -> float | None:
        """How long a run's requests would take at ``rate``."""
        return (self.patches + self.reads) / self.rate if self.rate else None


async def plan_job(
    job: PreparedJob,
    options: RunOptions,
    settings: Settings,
    credentials: Credentials,
    target: Target,
    *,
    log: FilteringBoundLogger,
    stopper: Stopper | None = None,
    on_row: Callable[[RowPlan], None] = lambda row: None,
) -> PlanReport:
    """Read and class every row still to send; ``on_row`` gets them in file order."""
    stopper = stopper or Stopper()
    started = time.monotonic()
    path = journal_path_for(job.path, options, target)
    report = PlanReport(StopReason.FINISHED, "", job.path, path, rate=settings.max_rate)
    report.identity_reads = 0 if target.is_sandbox else 1  # as run_job binds the journal
    with held_journal(job, options, target, path, log) as (journal, _):
        counts = journal.counts()
        # A retry sends the done rows behind a retried row of their meeting again (file order).
        followers = dict(journal.followers_of_retries()) if options.retry_failed else {}
        # And the done occurrence rows a series' move, sent only now, cancels (sent after it).
        resent = resent_behind_moves(job, journal, options)
        followers |= resent
        rows = plan_rows(
            job.store.kept_rows(), journal, retry_failed=options.retry_failed, also=followers
        )
        async with open_session(settings, credentials, target, log=log, stopper=stopper) as session:
            if target.is_sandbox or await bind_organisation(session, journal, log):
                reader = _Reader(session.pipeline, journal, report, on_row)
                reader.series_moves = dict(job.store.occurrences_behind_moves())
                reader.resent = set(resent)
                await reader.read_all(_first_of_each(rows), settings.concurrency)
        journal.flush()
        report.counts = session.pipeline.counts
    # Done rows a retry does not send again: not "every row not read", which a plan stopped
    # before its first read (an API that does not answer) claimed all done.
    report.already_done = counts[RowStatus.SUCCEEDED] + counts[RowStatus.SKIPPED] - len(followers)
    report.reason = stopper.reason if stopper.requested.is_set() else StopReason.FINISHED
    report.detail = stopper.detail
    report.elapsed = time.monotonic() - started
    return report


def _first_of_each(rows: Iterable[Planned]) -> Iterator[tuple[Planned, int | None]]:
    """Each row, and the line of an earlier row of the same meeting (None for the first)."""
    seen: dict[str, int] = {}
    for row in rows:
        yield row, seen.get(row.meeting_id)
        seen.setdefault(row.meeting_id, row.line)


@dataclass
class _Reader:
    pipeline: Pipeline
    journal: Journal
    report: PlanReport
    on_row: Callable[[RowPlan], None]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: Occurrence rows a run sends last, and the line rescheduling their series.
    series_moves: dict[int, int] = field(default_factory=dict)
    #: Of those, the done ones sent again: their series moves only now.
    resent: set[int] = field(default_factory=set)
    _waiting: dict[int, RowPlan] = field(default_factory=dict)
    _next: int = 0
    _recorded: int = 0

    async def read_all(self, rows: Iterator[tuple[Planned, int | None]], concurrency: int) -> None:
        """Read rows side by side; hand them on in file order."""
        numbered = enumerate(rows)
        stopper = self.pipeline.stopper

        async def worker() -> None:
            for index, (row, earlier) in numbered:
                if stopper.requested.is_set():
                    return
                self._done(index, await self._plan(row, earlier))

        async with anyio.create_task_group() as group:
            for _ in range(concurrency):
                group.start_soon(worker)

    async def _plan(self, row: Planned, earlier: int | None) -> RowPlan | None:
        if problem := unresolvable(row):  # failed unsent, as a run would
            return RowPlan(row.line, row.meeting_id, "refused", reason=problem)
        # An occurrence behind a series' move is gone once an earlier run made the move.
        pipeline = self.pipeline
        send = pipeline.send_expecting_404 if row.line in self.series_moves else pipeline.send
        final = await send(
            read_request(row.meeting_id, row.body), row=row.line, meetingId=row.meeting_id
        )
        if final is None:
            return None
        # What a run sends for a row this plan keeps no before-values of: a read, then the
        # PATCH if the meeting is there to change. A row sent before goes unread (see _sends).
        unread = _sends(row, reads=1, patches=1)
        meeting = final.reply.payload if final.ok and final.reply is not None else None
        if isinstance(meeting, dict) and (mixed_up := another_meeting(row.meeting_id, meeting)):
            return RowPlan(row.line, row.meeting_id, "unread", reason=mixed_up, sends=unread)
        if not isinstance(meeting, dict):
            if final.reply is not None and final.reply.status == 404:
                gone = _sends(row, reads=1, patches=0)
                message = final.reply.message
                return RowPlan(row.line, row.meeting_id, "gone", reason=message, sends=gone)
            return RowPlan(
                row.line, row.meeting_id, "unread", reason=final.error or "", sends=unread
            )
        body, unsendable = resolved_patch(
            row.body, meeting, self.now, resolved=row.resolved, earlier=row.earlier
        )
        if unsendable:  # a run reads the meeting, resolves the offsets again, fails it unsent
            sends = _sends(row, reads=1, patches=0)
            return RowPlan(row.line, row.meeting_id, "refused", reason=unsendable, sends=sends)
        found = tuple(changes(meeting, body))
        refused = refusal(meeting, body, self.now) if found else None
        if row.sent and not refused:  # a run sends it again as it was, unread: a change
            sends = _sends(row, reads=0, patches=1)
            resent = row.line in self.resent
            reason = self._behind_move(row.line) if resent else _sent_again(earlier)
            return RowPlan(row.line, row.meeting_id, "change", found, reason, sends=sends)
        # A run reads the meeting again when this plan keeps no before-values for it (a later
        # row of a meeting: compared as it is then), when it would skip it (never on old
        # news), and for offsets (they move from the meeting as it is then).
        reads = earlier is not None or not found or bool(relative_parts(row.body))
        sends = _sends(row, reads=int(reads), patches=int(bool(found)))
        if earlier is None:  # a later row of the same meeting is read again when it runs
            before = encode_values(before_values(meeting, body))
            self.journal.record_snapshot(
                Snapshot(row.line, before, _stamp(datetime.now(UTC)), by_run=False)
            )
            self._recorded += 1
            if self._recorded % _FLUSH_EVERY == 0:
                self.journal.flush()
        notes = [f"after line {earlier}, which changes the same meeting"] if earlier else []
        notes += [self._behind_move(row.line)] if row.line in self.series_moves else []
        note = "; ".join(notes)
        if refused:  # a run still sends it: the API's answer is the row's outcome
            return RowPlan(row.line, row.meeting_id, "refused", found, refused, sends=sends)
        klass = "change" if found else "unchanged"
        return RowPlan(row.line, row.meeting_id, klass, found, note, sends=sends)

    def _behind_move(self, line: int) -> str:
        """Why an occurrence row goes last, and what becomes of it."""
        again = "sent again " if line in self.resent else "sent "
        return (
            f"{again}after every other row: line {self.series_moves[line]} reschedules its "
            "series, and if that moves it, this edit fails (the move re-stamps or cancels its "
            "occurrences)"
        )

    def _done(self, index: int, plan: RowPlan | None) -> None:
        """Count a row's plan and pass on every one that is now next in file order."""
        if plan is None:
            return  # stopped: the run ends here
        self.report.classes[plan.klass] += 1
        self.report.row_reads += plan.sends.reads
        self.report.patches += plan.sends.patches
        if plan.klass == "change":
            self.report.fields.update(change.path for change in plan.changes)
        self._waiting[index] = plan
        while self._next in self._waiting:
            self.on_row(self._waiting.pop(self._next))
            self._next += 1


def _sends(row: Planned, *, reads: int, patches: int) -> Sends:
    """What a run sends for a row: a row sent before (its PATCH may have landed) goes again
    unread, whatever the meeting holds."""
    return Sends(0, 1) if row.sent else Sends(reads, patches)


def _sent_again(earlier: int | None) -> str:
    """Why a run sends a row again without reading its meeting."""
    if earlier is None:
        return "sent again as before: its PATCH may have landed already"
    return (
        f"sent again after line {earlier}, which changes the same meeting first "
        "(rows of one meeting go in file order)"
    )


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
