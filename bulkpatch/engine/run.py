"""The run: planned rows in, PATCHes out, every outcome into the journal.

Workers take rows from a bounded stream, wait their meeting's turn and the shared limiter,
send, judge the answer by :mod:`bulkpatch.policy` and commit the outcome before moving on.
Watchers handle the stop request (drain, then cancel) and the deadline.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import anyio
from structlog.typing import FilteringBoundLogger

from bulkpatch.client import Reply
from bulkpatch.engine.coordination import Committer, MeetingTurns
from bulkpatch.engine.values import (
    Planned,
    Refresher,
    RunCounts,
    RunSettings,
    Sender,
    Stopper,
    StopReason,
)
from bulkpatch.errors import TransportError
from bulkpatch.journal import Journal, Outcome
from bulkpatch.limiter import AdaptiveLimiter, Clock
from bulkpatch.model import MASK, SECRET_FIELDS
from bulkpatch.policy import Verdict, judge, retry_after_wait


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
    sender: Sender
    journal: Journal
    limiter: AdaptiveLimiter
    clock: Clock
    log: FilteringBoundLogger
    settings: RunSettings
    stopper: Stopper
    on_progress: Callable[[RunCounts], None]
    refresher: Refresher | None = None
    counts: RunCounts = field(default_factory=RunCounts)
    turns: MeetingTurns = field(default_factory=MeetingTurns)
    committer: Committer = field(init=False)
    consecutive_403: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.committer = Committer(self.journal)

    async def unless_stopped(self, wait: Callable[[], Awaitable[None]]) -> bool:
        """Run ``wait`` to its end, or give up when a stop is requested; True if it ended."""
        if self.stopper.requested.is_set():
            return False
        finished = False
        async with anyio.create_task_group() as group:

            async def waiting() -> None:
                nonlocal finished
                await wait()
                finished = True
                group.cancel_scope.cancel()

            async def watching() -> None:
                await self.stopper.requested.wait()
                group.cancel_scope.cancel()

            group.start_soon(waiting)
            group.start_soon(watching)
        return finished

    async def finish(
        self, row: Planned, status: str, attempts: int, reply: Reply | None, error: str | None
    ) -> None:
        """Record the row's outcome and wait until it is committed."""
        outcome = Outcome(
            row.line,
            status,
            attempts,
            reply.status if reply else None,
            reply.tracking_id if reply else None,
            scrub_secrets(error, row.body),
            self.clock.wall().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        )
        await self.committer.commit(outcome)
        if status == "succeeded":
            self.counts.succeeded += 1
        else:
            self.counts.failed += 1
        # Checked after every row: a percentage can be exceeded the moment the sample is full.
        limit = self.settings.max_failures
        exceeded = limit is not None and limit.exceeded(self.counts.failed, self.counts.done)
        if exceeded and not self.stopper.requested.is_set():
            self.log.error(
                "run.too_many_failures",
                failed=self.counts.failed,
                done=self.counts.done,
                limit=str(limit),
            )
            self.stopper.request(StopReason.FAILURES)
        self.on_progress(self.counts)

    def past_deadline(self) -> bool:
        """Whether the deadline has come; if so, ask the run to stop."""
        deadline = self.settings.deadline
        if deadline is None or self.clock.wall() < deadline:
            return False
        if not self.stopper.requested.is_set():
            self.log.warning("run.deadline", deadline=deadline.isoformat())
        self.stopper.request(StopReason.DEADLINE)
        return True


async def run_rows(
    rows: Iterable[Planned],
    *,
    sender: Sender,
    journal: Journal,
    limiter: AdaptiveLimiter,
    clock: Clock,
    log: FilteringBoundLogger,
    settings: RunSettings,
    stopper: Stopper,
    on_progress: Callable[[RunCounts], None] = lambda counts: None,
    refresher: Refresher | None = None,
) -> tuple[StopReason, RunCounts]:
    """Send every planned row; return why the run ended and what it did."""
    run = _Run(sender, journal, limiter, clock, log, settings, stopper, on_progress, refresher)
    _resume_pause(run)
    if settings.random_seed is not None:
        run.rng.seed(settings.random_seed)
    async with anyio.create_task_group() as outer:
        outer.start_soon(run.committer.run)
        outer.start_soon(_watch_stop, run, outer.cancel_scope)
        if settings.deadline is not None:
            outer.start_soon(_watch_deadline, run)
        async with anyio.create_task_group() as workers:
            send, receive = anyio.create_memory_object_stream[Planned](settings.concurrency * 2)
            workers.start_soon(_produce, run, rows, send)
            for _ in range(settings.concurrency):
                workers.start_soon(_work, run, receive.clone())
            receive.close()
        outer.cancel_scope.cancel()
    run.committer.drain()
    run.counts.throttled = limiter.throttled
    reason = stopper.reason if stopper.requested.is_set() else StopReason.FINISHED
    return reason, run.counts


def _resume_pause(run: _Run) -> None:
    """Honour a Retry-After that an earlier, interrupted run of this journal was given."""
    until = run.journal.paused_until
    if until is None:
        return
    remaining = (until - run.clock.wall()).total_seconds()
    if remaining > 0:
        run.limiter.hold(remaining)
        run.log.warning(
            "run.resume_pause",
            waitSeconds=round(remaining, 3),
            reason="Retry-After given to an earlier run of this journal",
        )


async def _produce(
    run: _Run, rows: Iterable[Planned], send: anyio.abc.ObjectSendStream[Planned]
) -> None:
    async with send:
        for row in rows:
            if run.stopper.requested.is_set():
                return
            await send.send(row)


async def _work(run: _Run, receive: anyio.abc.ObjectReceiveStream[Planned]) -> None:
    async with receive:
        async for row in receive:
            if run.stopper.requested.is_set() or run.past_deadline():
                return  # the row stays pending: sent again on resume
            await run.turns.take(row.meeting_id)
            try:
                if run.stopper.requested.is_set():
                    return
                await _send_row(run, row)
            finally:
                run.turns.give_back(row.meeting_id)


async def _send_row(run: _Run, row: Planned) -> None:
    settings = run.settings
    attempt = 0
    refreshed = False
    while True:
        # Waiting out a pause must yield to a stop request; a pacing slot is too short to matter.
        if run.limiter.paused_for > 0:
            if not await run.unless_stopped(run.limiter.acquire):
                return
        else:
            await run.limiter.acquire()
        if attempt and (run.stopper.requested.is_set() or run.past_deadline()):
            return  # no retry after a stop request or the deadline: the row stays pending
        attempt += 1
        run.counts.requests += 1
        generation = run.refresher.generation if run.refresher is not None else 0
        try:
            reply: Reply | None = await run.sender.patch(row.meeting_id, row.body)
            status = reply.status if reply else None
            error = reply.message if reply else ""
        except TransportError as exc:
            reply, status, error = None, None, str(exc)
        verdict = judge(status, attempt, settings.max_attempts)
        if verdict is not Verdict.STOP_AUTH:
            refreshed = False  # only a 401 *right after* a refresh means the new token is refused
        if verdict is Verdict.SUCCEEDED:
            run.limiter.on_success()
            run.consecutive_403 = 0
            await run.finish(row, "succeeded", attempt, reply, None)
            run.log.debug(
                "row.succeeded",
                row=row.line,
                meetingId=row.meeting_id,
                status="succeeded",
                attempt=attempt,
                httpStatus=status,
                trackingId=reply and reply.tracking_id,
            )
            return
        log = run.log.bind(row=row.line, meetingId=row.meeting_id)  # only off the happy path
        if verdict is Verdict.STOP_AUTH:
            # One refresh per row: a 401 right after a refresh means the new token is refused too.
            if (
                run.refresher is not None
                and not refreshed
                and await run.refresher.refresh(generation)
            ):
                refreshed = True
                continue
            log.error(
                "run.unauthorized",
                httpStatus=401,
                trackingId=reply and reply.tracking_id,
                error=error,
            )
            run.stopper.request(StopReason.AUTH)
            return
        if reply is not None and reply.status == 429:
            _throttle(run, reply, log)
        if verdict is Verdict.RETRY:
            run.counts.retries += 1
            wait = _retry_wait(run, reply, attempt, log)
            if wait and not await run.unless_stopped(functools.partial(run.clock.sleep, wait)):
                return
            continue
        await run.finish(row, "failed", attempt, reply, error or f"HTTP {status}")
        log.warning(
            "row.failed",
            status="failed",
            attempt=attempt,
            httpStatus=status,
            trackingId=reply and reply.tracking_id,
            error=error,
        )
        _count_forbidden(run, status)
        return


def _retry_wait(run: _Run, reply: Reply | None, attempt: int, log: FilteringBoundLogger) -> float:
    """How long this row waits before its next attempt (429s wait in the shared limiter instead)."""
    if reply is not None and reply.status == 429:
        return 0.0
    if reply is not None and reply.status == 423:
        wait, why = retry_after_wait(reply.retry_after, attempt, run.settings.backoff, run.rng)
        reason = f"{why} (423 Locked)"
    else:
        wait, reason = run.settings.backoff.delay(attempt, run.rng), "backoff"
    log.info(
        "row.retry",
        attempt=attempt,
        httpStatus=reply.status if reply else None,
        waitSeconds=round(wait, 3),
        reason=reason,
    )
    return wait


def _throttle(run: _Run, reply: Reply, log: FilteringBoundLogger) -> None:
    pause, reason = retry_after_wait(
        reply.retry_after, run.limiter.episodes + 1, run.settings.backoff, run.rng
    )
    # Kept in the journal too: a run killed now and resumed must still wait for this moment.
    run.journal.note_pause(run.clock.wall() + timedelta(seconds=pause))
    if run.limiter.on_throttle(pause):
        log.warning(
            "run.throttled",
            httpStatus=429,
            waitSeconds=round(pause, 3),
            reason=reason,
            retryAfter=reply.retry_after_raw,
            newRate=round(run.limiter.rate, 2),
            trackingId=reply.tracking_id,
        )


def _count_forbidden(run: _Run, status: int | None) -> None:
    if status != 403:
        run.consecutive_403 = 0
        return
    run.consecutive_403 += 1
    if run.consecutive_403 >= run.settings.max_consecutive_403:
        run.log.error("run.forbidden", consecutive=run.consecutive_403)
        run.stopper.request(StopReason.FORBIDDEN)


async def _watch_deadline(run: _Run) -> None:
    """Stop at the deadline even when every worker is waiting (say, out a long Retry-After).

    Workers also check the deadline before each row; this covers the case where none is about
    to. It waits in real time on purpose: the deadline is a moment on the wall clock.
    """
    deadline = run.settings.deadline
    if deadline is not None:
        await anyio.sleep(max(0.0, (deadline - run.clock.wall()).total_seconds()))
        run.past_deadline()


async def _watch_stop(run: _Run, scope: anyio.CancelScope) -> None:
    """After a stop request, give in-flight requests ``drain_timeout`` seconds, then cancel."""
    await run.stopper.requested.wait()
    run.log.warning(
        "run.stopping", reason=run.stopper.reason.value, drainSeconds=run.settings.drain_timeout
    )
    with anyio.move_on_after(run.settings.drain_timeout):
        await run.stopper.aborted.wait()
    scope.cancel()
