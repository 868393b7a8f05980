"""The engine: rows in, PATCHes out, every outcome into the journal.

``plan_rows`` skips what the journal says is done; ``run_rows`` sends the rest through a pool
of workers in an anyio task group, one shared :class:`AdaptiveLimiter`, retries by
:mod:`bulkpatch.policy`, and a group committer that makes each outcome durable before its
worker takes the next row. Rows of the same
meeting go in file order, one at a time. Everything it touches is passed in: sender, journal,
limiter, clock, logger, so tests drive it without a network or sleeping.
"""

from __future__ import annotations

import functools
import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import anyio
from structlog.typing import FilteringBoundLogger

from bulkpatch.client import Reply
from bulkpatch.errors import TransportError
from bulkpatch.journal import Journal, Outcome, stored_body
from bulkpatch.limiter import AdaptiveLimiter, Clock
from bulkpatch.model import MASK, SECRET_FIELDS, ValidatedRow
from bulkpatch.policy import Backoff, FailureLimit, Verdict, judge, throttle_pause

_PLAN_BATCH = 500


class Sender(Protocol):
    """What sends one patch (the real one is :class:`bulkpatch.client.MeetingsClient`)."""

    async def patch(self, meeting_id: str, body: dict[str, Any]) -> Reply: ...


class Refresher(Protocol):
    """What renews the access token after a 401 (the real one is :class:`bulkpatch.auth.TokenRefresher`)."""

    @property
    def generation(self) -> int: ...

    async def refresh(self, refused_generation: int) -> bool: ...


class StopReason(StrEnum):
    """Why a run ended."""

    FINISHED = "finished"
    INTERRUPTED = "interrupted"
    AUTH = "auth"
    FORBIDDEN = "forbidden"
    FAILURES = "too_many_failures"
    DEADLINE = "deadline"


@dataclass(frozen=True, slots=True)
class Planned:
    """A row to send."""

    line: int
    meeting_id: str
    body: dict[str, Any]


@dataclass(frozen=True)
class RunSettings:
    """How a run behaves (the CLI fills it from flags, environment and config)."""

    concurrency: int = 8
    max_attempts: int = 5
    backoff: Backoff = field(default_factory=Backoff)
    max_consecutive_403: int = 20
    drain_timeout: float = 10.0
    random_seed: int | None = None
    max_failures: FailureLimit | None = None
    deadline: datetime | None = None


@dataclass
class RunCounts:
    """What this run has done so far (the journal holds the totals)."""

    to_send: int = 0
    succeeded: int = 0
    failed: int = 0
    requests: int = 0
    retries: int = 0
    throttled: int = 0

    @property
    def done(self) -> int:
        """Rows that reached an outcome in this run."""
        return self.succeeded + self.failed


@dataclass
class Stopper:
    """Ask a run to stop: ``request`` lets in-flight requests finish, ``abort`` does not wait."""

    requested: anyio.Event = field(default_factory=anyio.Event)
    aborted: anyio.Event = field(default_factory=anyio.Event)
    reason: StopReason = StopReason.FINISHED

    def request(self, reason: StopReason) -> None:
        """Stop taking rows; the first reason given is the one kept."""
        if not self.requested.is_set():
            self.reason = reason
            self.requested.set()

    def abort(self) -> None:
        """Stop now, abandoning in-flight requests (their rows stay pending)."""
        self.request(StopReason.INTERRUPTED)
        self.aborted.set()


def plan_rows(
    rows: Iterable[ValidatedRow], journal: Journal, *, retry_failed: bool
) -> Iterator[Planned]:
    """The rows still to send, each committed to the journal before it is handed out.

    New rows are added as ``pending`` (``invalid`` when they have errors, which only happens
    with --skip-invalid). A row whose meeting or changes differ from what the journal holds
    (a changed job file run with --force) is reset to ``pending``.
    """
    batch: list[tuple[int, str, str, dict[str, Any] | None, str | None]] = []
    ready: list[Planned] = []
    resuming = journal.has_rows()
    for row in rows:
        known = journal.known(row.line) if resuming else None
        if known is not None and known[1] == row.meeting_id and known[2] == stored_body(row.body):
            status = known[0]
            if status == "pending" or (status == "failed" and retry_failed):
                ready.append(Planned(row.line, row.meeting_id, row.body or {}))
        elif row.body is None:
            batch.append((row.line, row.meeting_id, "invalid", None, row.error))
        else:
            batch.append((row.line, row.meeting_id, "pending", row.body, None))
            ready.append(Planned(row.line, row.meeting_id, row.body))
        if len(ready) >= _PLAN_BATCH or len(batch) >= _PLAN_BATCH:
            journal.add_rows(batch)
            batch.clear()
            yield from ready
            ready.clear()
    journal.add_rows(batch)
    yield from ready


def scrub_secrets(text: str | None, body: dict[str, Any]) -> str | None:
    """The text with any secret value of the body masked (an API message may quote it)."""
    if not text:
        return text
    for name in SECRET_FIELDS:
        value = body.get(name)
        if isinstance(value, str) and value:
            text = text.replace(value, MASK)
    return text


class _MeetingTurns:
    """Rows of one meeting take turns in file order; a meeting nobody waits for costs no lock.

    The first row of a meeting goes at once; later ones queue behind it, and each release
    hands the meeting straight to the next in line (FIFO), so file order holds.
    """

    __slots__ = ("_queues",)

    def __init__(self) -> None:
        self._queues: dict[str, deque[anyio.Event]] = {}

    async def take(self, meeting_id: str) -> None:
        """Wait for this meeting's turn."""
        queue = self._queues.get(meeting_id)
        if queue is None:
            self._queues[meeting_id] = deque()
            return
        turn = anyio.Event()
        queue.append(turn)
        try:
            await turn.wait()
        except BaseException:
            if turn in queue:
                queue.remove(turn)
            else:  # the turn was handed over just as we were cancelled: pass it on
                self.give_back(meeting_id)
            raise

    def give_back(self, meeting_id: str) -> None:
        """End this row's turn: the next row of the meeting, if any, goes now."""
        queue = self._queues[meeting_id]
        if queue:
            queue.popleft().set()
        else:
            del self._queues[meeting_id]


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
    turns: _MeetingTurns = field(default_factory=_MeetingTurns)
    committer: _Committer = field(init=False)
    consecutive_403: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.committer = _Committer(self.journal)

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
        if limit is not None and limit.exceeded(self.counts.failed, self.counts.done):
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


class _Committer:
    """Group commit: outcomes that finish together are committed in one transaction.

    A worker takes its next row only once its outcome is committed, so at any moment the rows
    that a crash would send again are at most the ones in flight: never more than
    ``concurrency``. Commits run on the event loop, like every other use of the journal.
    """

    __slots__ = ("_batch", "_done", "_journal", "_wake")

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._batch: list[Outcome] = []
        self._done = anyio.Event()
        self._wake = anyio.Event()

    async def commit(self, outcome: Outcome) -> None:
        self._batch.append(outcome)
        done = self._done
        self._wake.set()
        await done.wait()

    def drain(self) -> None:
        """Commit what a cancelled run left waiting (its workers no longer wait for it)."""
        for outcome in self._batch:
            self._journal.record(outcome)
        self._batch = []
        self._journal.flush()

    async def run(self) -> None:
        """Commit whatever is waiting, as long as the run goes."""
        while True:
            await self._wake.wait()
            for _ in range(2):  # let workers finishing about now join this batch: fewer commits
                await anyio.sleep(0)
            batch, done = self._batch, self._done
            self._batch, self._done, self._wake = [], anyio.Event(), anyio.Event()
            for outcome in batch:
                self._journal.record(outcome)
            self._journal.flush()
            done.set()


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


async def _produce(
    run: _Run, rows: Iterable[Planned], send: anyio.abc.ObjectSendStream[Planned]
) -> None:
    async with send:
        for row in rows:
            run.counts.to_send += 1
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
    if reply is not None and reply.status == 423 and reply.retry_after is not None:
        wait, reason = reply.retry_after, "Retry-After (423 Locked)"
    elif reply is not None and reply.status == 423:
        wait, reason = (
            max(1.0, run.settings.backoff.delay(attempt, run.rng)),
            "backoff (423 without usable Retry-After)",
        )
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
    pause, reason = throttle_pause(
        reply.retry_after, run.limiter.episodes + 1, run.settings.backoff, run.rng
    )
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
