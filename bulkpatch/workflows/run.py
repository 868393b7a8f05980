"""``run_job``: a validated job, sent row by row through the pipeline, every outcome journaled."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from structlog.typing import FilteringBoundLogger

from bulkpatch.config import Settings
from bulkpatch.engine import (
    Planned,
    RunCounts,
    RunSettings,
    Stopper,
    StopReason,
    plan_rows,
    run_rows,
)
from bulkpatch.jobfile import JobFormat
from bulkpatch.journal import JobBinding, Journal, RowStatus, default_journal_path, file_hash
from bulkpatch.policy import FailureLimit
from bulkpatch.tokens import Credentials
from bulkpatch.validation import FindingStore, JobSummary, validate_job
from bulkpatch.workflows.session import Session, Target, bind_organisation, open_session


@dataclass(frozen=True)
class PreparedJob:
    """A job file read and checked once; its rows are kept for sending."""

    path: Path
    now: datetime
    summary: JobSummary
    store: FindingStore
    #: How CSV cells are separated.
    delimiter: str = ","

    @property
    def format(self) -> JobFormat:
        """CSV or JSONL."""
        return self.summary.format


@contextmanager
def prepare_job(
    path: Path, now: datetime, *, delimiter: str = ",", workers: int | None = 0
) -> Iterator[PreparedJob]:
    """Validate every row of a job file once, keeping the rows for the run.

    ``delimiter`` and ``workers`` are :func:`bulkpatch.validation.validate_job`'s.
    """
    with FindingStore(keep_rows=True) as store:
        summary = validate_job(path, now, store, delimiter=delimiter, workers=workers)
        yield PreparedJob(path, now, summary, store, delimiter)


@dataclass(frozen=True)
class RunOptions:
    """What the user asked of this run, beside the settings."""

    journal: Path | None = None
    retry_failed: bool = False
    force: bool = False
    skip_invalid: bool = False
    max_failures: FailureLimit | None = None
    deadline: datetime | None = None
    #: Read each meeting before its PATCH (what undo restores); --no-snapshot turns it off.
    snapshot: bool = True
    #: Rows already in the target state are skipped; --no-skip-unchanged sends them anyway.
    skip_unchanged: bool = True
    #: Undo's drift guard: by meeting id, what each meeting must still hold to be sent.
    expect: Mapping[str, dict[str, Any]] | None = None
    #: Send rows whose meeting drifted from ``expect`` (undo --force).
    ignore_drift: bool = False
    #: The organisation the token must belong to (undo: the one the undone run changed).
    organisation: str | None = None


@dataclass(frozen=True)
class RunReport:
    """How a run ended: why, what it did, what the journal now holds."""

    reason: StopReason
    detail: str
    job: Path
    counts: RunCounts
    totals: dict[RowStatus, int]
    elapsed: float
    journal: Path
    resumed: bool
    #: The limiter's report: rate found per lane, throttle episodes, time held, runs sharing.
    pacing: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """The run went through every row (some may have failed)."""
        return self.reason is StopReason.FINISHED


def journal_path_for(job: Path, options: RunOptions, target: Target) -> Path:
    """The journal a run uses: --journal, or the default beside the job (its own for the sandbox)."""
    return options.journal or default_journal_path(job, sandbox=target.is_sandbox)


async def run_job(
    job: PreparedJob,
    options: RunOptions,
    settings: Settings,
    credentials: Credentials,
    target: Target,
    *,
    log: FilteringBoundLogger,
    stopper: Stopper | None = None,
    on_start: Callable[[Path, bool, int], None] = lambda journal, resumed, to_send: None,
    on_progress: Callable[[RunCounts], None] = lambda counts: None,
) -> RunReport:
    """Send every row of ``job`` that the journal does not already hold as done.

    ``on_start(journal, resumed, rows_to_send)`` is called once the journal is bound;
    ``on_progress`` after every row. ``stopper`` lets the caller stop the run (signals).
    """
    stopper = stopper or Stopper()
    path = journal_path_for(job.path, options, target)
    with held_journal(job, options, target, path, log) as (journal, resumed):
        if options.retry_failed:
            journal.keep_file_order_for_retries()
        to_send = _rows_to_send(journal.counts(), options.retry_failed)
        on_start(path, resumed, to_send)
        started = time.monotonic()
        async with AsyncExitStack() as stack:
            session = await stack.enter_async_context(
                open_session(settings, credentials, target, log=log, stopper=stopper)
            )
            session.pipeline.on_pause = journal.note_pause
            if options.organisation is not None:
                journal.bind_org(options.organisation)
            # Before any run is recorded: a token of another organisation changes nothing.
            if not target.is_sandbox and not await bind_organisation(session, journal, log):
                return _stopped_early(job, journal, path, resumed, stopper, session)
            run_id = journal.start_run(
                {
                    "concurrency": settings.concurrency,
                    "maxRate": settings.max_rate,
                    "baseUrl": target.name,
                    "retryFailed": options.retry_failed,
                    "skipInvalid": options.skip_invalid,
                    "force": options.force,
                }
            )
            fresh_since = datetime.now(UTC) - timedelta(seconds=settings.plan_max_age)
            resent = resent_behind_moves(job, journal, options)

            def planned(behind_series_moves: bool) -> Iterator[Planned]:
                return plan_rows(
                    job.store.kept_rows(behind_series_moves=behind_series_moves),
                    journal,
                    retry_failed=options.retry_failed,
                    fresh_since=fresh_since,
                    expect=options.expect,
                    retry_conflicts=options.ignore_drift,
                    also=resent if behind_series_moves else None,
                    behind_series_move=behind_series_moves,
                )

            reason, counts = await run_rows(
                planned(False),
                pipeline=session.pipeline,
                journal=journal,
                settings=_run_settings(settings, options, session),
                on_progress=on_progress,
                then=planned(True),
            )
            pacing = session.pacing.report()
        journal.finish_run(run_id, reason.value, counts.throttled)
        totals = journal.counts()
    return RunReport(
        reason,
        stopper.detail,
        job.path,
        counts,
        totals,
        time.monotonic() - started,
        path,
        resumed,
        pacing,
    )


def resent_behind_moves(job: PreparedJob, journal: Journal, options: RunOptions) -> dict[int, bool]:
    """Occurrence rows done already that this run sends again, after the row that moves their
    series only now (see :meth:`Journal.done_behind_moves`), as ``plan_rows``' ``also``."""
    counts = journal.counts()
    if not counts[RowStatus.SUCCEEDED] and not counts[RowStatus.SKIPPED]:
        return {}
    to_send = [RowStatus.PENDING.value, RowStatus.REVERTED.value]
    to_send += [RowStatus.FAILED.value] if options.retry_failed else []
    to_send += [RowStatus.CONFLICT.value] if options.ignore_drift else []
    lines = journal.done_behind_moves(job.store.occurrences_behind_moves(), to_send)
    return dict.fromkeys(lines, False)


@contextmanager
def held_journal(
    job: PreparedJob, options: RunOptions, target: Target, path: Path, log: FilteringBoundLogger
) -> Iterator[tuple[Journal, bool]]:
    """The job's journal, held, bound to this job file and target, holding every row.

    Yields the journal and whether it resumes an earlier run (or follows a plan).
    """
    with Journal.open_for_run(path, explicit=options.journal is not None) as journal:
        if journal.stale_holder:
            log.warning(
                "journal.stale_lock",
                holder=journal.stale_holder,
                hint="that run ended without releasing the journal; continuing",
            )
        binding = JobBinding(
            str(job.path.resolve()),
            file_hash(job.path),
            job.format.value,
            target.name,
            job.summary.rows,
            job.delimiter if job.format is JobFormat.CSV else ",",
        )
        changed = journal.job_changed(binding)
        # Resuming means an earlier run; a plan binds the journal too, but sends nothing.
        resumed = journal.bind(binding, force=options.force) and bool(journal.runs())
        journal.sync_rows(job.store.kept_rows(), changed=changed)
        yield journal, resumed


def _stopped_early(
    job: PreparedJob,
    journal: Journal,
    path: Path,
    resumed: bool,
    stopper: Stopper,
    session: Session,
) -> RunReport:
    """Stopped before the first row (a 401, Ctrl-C): nothing sent, nothing recorded."""
    counts = session.pipeline.counts
    return RunReport(
        stopper.reason, stopper.detail, job.path, counts, journal.counts(), 0.0, path, resumed, {}
    )


def _rows_to_send(counts: dict[RowStatus, int], retry_failed: bool) -> int:
    to_send = counts[RowStatus.PENDING] + counts[RowStatus.REVERTED]
    return to_send + (counts[RowStatus.FAILED] if retry_failed else 0)


def _run_settings(settings: Settings, options: RunOptions, session: Session) -> RunSettings:
    return RunSettings(
        concurrency=settings.concurrency,
        limits=session.pipeline.limits,
        drain_timeout=settings.drain_timeout,
        max_failures=options.max_failures,
        deadline=options.deadline,
        snapshot=options.snapshot or options.expect is not None,
        skip_unchanged=options.skip_unchanged,
        ignore_drift=options.ignore_drift,
    )
