"""The run: planned rows in, PATCHes out through the pipeline, every outcome into the journal.

Workers take rows from a bounded stream, wait their meeting's turn, send through the
:class:`Pipeline` (pacing, retries, stop rules) and commit the outcome before moving on.
Watchers handle the stop request (drain, then cancel) and the deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
from structlog.typing import FilteringBoundLogger

from bulkpatch.client import LONGEST_WAIT, Reply
from bulkpatch.engine.attempts import Pipeline
from bulkpatch.engine.coordination import Committer, MeetingTurns
from bulkpatch.engine.steps import take_row
from bulkpatch.engine.values import Planned, RunCounts, RunSettings, StopReason
from bulkpatch.journal import Journal, Outcome, RowStatus
from bulkpatch.model import MASK, SECRET_FIELDS


def scrub_secrets(text: str | None, body: dict[str, Any]) -> str | None:
    """The text with any secret value of the body masked (an API message may quote it)."""
    if not text:
        return text
    for name in SECRET_FIELDS:
        value = body.get(name)
        if isinstance(value, str) and value:
            text = text.replace(value, MASK)
    return text


@dataclass
class _Run:
    pipeline: Pipeline
    journal: Journal
    settings: RunSettings
    on_progress: Callable[[RunCounts], None]
    turns: MeetingTurns = field(default_factory=MeetingTurns)
    committer: Committer = field(init=False)
    #: Occurrence rows not found behind their series' move: failed, as foretold, not failing.
    foretold: int = 0

    def __post_init__(self) -> None:
        self.committer = Committer(self.journal)
        self.pipeline.should_stop = self.past_deadline

    @property
    def counts(self) -> RunCounts:
        return self.pipeline.counts

    @property
    def log(self) -> FilteringBoundLogger:
        return self.pipeline.log

    def now(self) -> str:
        """The wall clock as the journal writes moments."""
        return self.pipeline.clock.wall().isoformat(timespec="milliseconds").replace("+00:00", "Z")

    async def finish(
        self,
        row: Planned,
        status: RowStatus,
        attempts: int,
        reply: Reply | None,
        error: str | None,
        after: str | None,
    ) -> None:
        """Record the row's outcome and wait until it is committed."""
        outcome = Outcome(
            row.line,
            status,
            attempts,
            reply.status if reply else None,
            reply.tracking_id if reply else None,
            scrub_secrets(error, row.body),
            self.now(),
            after,
        )
        await self.committer.commit(outcome)
        counted = {
            RowStatus.SUCCEEDED: "succeeded",
            RowStatus.SKIPPED: "skipped",
            RowStatus.CONFLICT: "conflicts",
        }.get(status, "failed")
        setattr(self.counts, counted, getattr(self.counts, counted) + 1)
        if status is RowStatus.FAILED and row.gone_as_warned(outcome.http_status):
            self.foretold += 1
        fields = {
            "row": row.line,
            "meetingId": row.meeting_id,
            "status": status.value,
            "attempt": attempts,
            "httpStatus": reply.status if reply else None,
            "trackingId": reply.tracking_id if reply else None,
        }
        if status in (RowStatus.FAILED, RowStatus.CONFLICT):
            self.log.warning(f"row.{status.value}", **fields, error=outcome.error)
        else:
            self.log.debug(f"row.{status.value}", **fields)
        self._check_failure_limit()
        self.on_progress(self.counts)

    def _check_failure_limit(self) -> None:
        # Checked after every row: a percentage can be exceeded the moment the sample is full.
        # The rows a series' move left without an occurrence fail together at the end of a
        # run: no sign that something is going wrong, and counted, every resume stopped there.
        limit = self.settings.max_failures
        stopper = self.pipeline.stopper
        failed, done = self.counts.failed - self.foretold, self.counts.done - self.foretold
        exceeded = limit is not None and limit.exceeded(failed, done)
        if exceeded and not stopper.requested.is_set():
            self.log.error(
                "run.too_many_failures",
                failed=self.counts.failed,
                done=self.counts.done,
                limit=str(limit),
            )
            stopper.request(StopReason.FAILURES)

    def past_deadline(self) -> bool:
        """Whether the deadline has come; if so, ask the run to stop."""
        deadline = self.settings.deadline
        if deadline is None or self.pipeline.clock.wall() < deadline:
            return False
        if not self.pipeline.stopper.requested.is_set():
            self.log.warning("run.deadline", deadline=deadline.isoformat())
        self.pipeline.stopper.request(StopReason.DEADLINE)
        return True


async def run_rows(
    rows: Iterable[Planned],
    *,
    pipeline: Pipeline,
    journal: Journal,
    settings: RunSettings,
    on_progress: Callable[[RunCounts], None] = lambda counts: None,
    then: Iterable[Planned] = (),
) -> tuple[StopReason, RunCounts]:
    """Send every planned row; return why the run ended and what it did.

    ``then`` are rows to send only once every row of ``rows`` is done: occurrences whose
    series a row of ``rows`` reschedules. A move cancels an occurrence edited before it, so
    such an edit, sent first, would succeed and then be undone by the move; sent after, it
    meets the series as the move left it and its outcome is the truth.
    """
    run = _Run(pipeline, journal, settings, on_progress)
    stopper = pipeline.stopper
    if settings.random_seed is not None:
        pipeline.rng.seed(settings.random_seed)
    if not _resume_pause(run):
        return stopper.reason, run.counts
    async with anyio.create_task_group() as outer:
        outer.start_soon(run.committer.run)
        outer.start_soon(_watch_stop, run, outer.cancel_scope)
        if settings.deadline is not None:
            outer.start_soon(_watch_deadline, run)
        for wave in (rows, then):
            if stopper.requested.is_set():
                break
            async with anyio.create_task_group() as workers:
                send, receive = anyio.create_memory_object_stream[Planned](settings.concurrency * 2)
                workers.start_soon(_produce, run, wave, send)
                for _ in range(settings.concurrency):
                    workers.start_soon(_work, run, receive.clone())
                receive.close()
        outer.cancel_scope.cancel()
    run.committer.drain()
    reason = stopper.reason if stopper.requested.is_set() else StopReason.FINISHED
    return reason, run.counts


def _moment(until: datetime, remaining: float) -> str:
    """When an earlier run may send again; a wait capped at ten years is no real date."""
    if remaining >= LONGEST_WAIT - 86_400:
        return "more than ten years from now (the server's Retry-After was capped)"
    return f"{until:%Y-%m-%dT%H:%M:%SZ}, {remaining:,.0f} s from now"


def _resume_pause(run: _Run) -> bool:
    """Honour a Retry-After an earlier, interrupted run of this journal was given.

    False when that wait is longer than ``max_retry_after``: the run stops at once, saying when.
    """
    until = run.journal.paused_until
    if until is None:
        return True
    pipeline = run.pipeline
    remaining = (until - pipeline.clock.wall()).total_seconds()
    if remaining <= 0:
        return True
    limit = pipeline.limits.max_retry_after
    if remaining > limit:
        run.log.error(
            "run.retry_after_too_long",
            waitSeconds=round(remaining, 3),
            allowedAt=until.isoformat(),
            limit=limit,
        )
        pipeline.stopper.request(
            StopReason.RETRY_AFTER,
            f"an earlier run was told to wait until {_moment(until, remaining)}, more than "
            f"max_retry_after ({limit:g} s)",
        )
        return False
    pipeline.lanes("write").hold(remaining)  # every lane shares the hold
    run.log.warning(
        "run.resume_pause",
        waitSeconds=round(remaining, 3),
        reason="Retry-After given to an earlier run of this journal",
    )
    return True


async def _produce(
    run: _Run, rows: Iterable[Planned], send: anyio.abc.ObjectSendStream[Planned]
) -> None:
    async with send:
        for row in rows:
            if run.pipeline.stopper.requested.is_set():
                return
            await send.send(row)


async def _work(run: _Run, receive: anyio.abc.ObjectReceiveStream[Planned]) -> None:
    stopper = run.pipeline.stopper
    async with receive:
        async for row in receive:
            if stopper.requested.is_set() or run.past_deadline():
                return  # the row stays pending: sent again on resume
            await run.turns.take(row.meeting_id)
            try:
                if stopper.requested.is_set():
                    return
                await take_row(
                    row, run.pipeline, run.settings, run.committer.commit, run.finish, run.now
                )
            finally:
                run.turns.give_back(row.meeting_id)


async def _watch_deadline(run: _Run) -> None:
    """Stop at the deadline even when every worker is waiting (say, out a long Retry-After).

    Workers also check the deadline before each row; this covers the case where none is about
    to. It waits in real time on purpose: the deadline is a moment on the wall clock.
    """
    deadline = run.settings.deadline
    if deadline is not None:
        await anyio.sleep(max(0.0, (deadline - run.pipeline.clock.wall()).total_seconds()))
        run.past_deadline()


async def _watch_stop(run: _Run, scope: anyio.CancelScope) -> None:
    """After a stop request, give in-flight requests ``drain_timeout`` seconds, then cancel."""
    stopper = run.pipeline.stopper
    await stopper.requested.wait()
    run.log.warning(
        "run.stopping", reason=stopper.reason.value, drainSeconds=run.settings.drain_timeout
    )
    with anyio.move_on_after(run.settings.drain_timeout):
        await stopper.aborted.wait()
    scope.cancel()
