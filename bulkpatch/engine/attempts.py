"""The one attempt loop every request goes through: PATCHes of a run, GETs of pull and plan.

Wait for the lane's pacer, send, let :func:`bulkpatch.policy.decide` judge the answer, then
retry (after a backoff, a 423's Retry-After, or a 429's Retry-After that holds everyone),
refresh the token, fail, or stop the run. It returns the final answer to its caller, which
decides what that means for its row; when the run stops first it returns None and the row
stays as it was.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import anyio
from structlog.typing import FilteringBoundLogger

from bulkpatch.client import LONGEST_WAIT, Reply, Request
from bulkpatch.engine.values import Clock, Lanes, Pacer, Refresher, RunCounts, Sender, Stopper
from bulkpatch.errors import ForeignURLError, TransportError
from bulkpatch.policy import Action, Decision, Limits, StopReason, Streaks, decide
from bulkpatch.redact import printable


@dataclass(frozen=True, slots=True)
class Final:
    """How a request ended: its last answer (None: no answer at all), attempts, and any error."""

    reply: Reply | None
    attempts: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The request succeeded (a 2xx)."""
        return self.error is None and self.reply is not None and self.reply.ok


@dataclass
class Pipeline:
    """Sends requests with retries, shared pacing and the run's stop rules."""

    sender: Sender
    lanes: Lanes
    clock: Clock
    log: FilteringBoundLogger
    limits: Limits
    stopper: Stopper
    counts: RunCounts = field(default_factory=RunCounts)
    refresher: Refresher | None = None
    #: Called with the moment a 429 allows requests again (the journal keeps it).
    on_pause: Callable[[datetime], None] = lambda until: None
    #: Whether the run should take no more attempts (the deadline passed, say).
    should_stop: Callable[[], bool] = lambda: False
    rng: random.Random = field(default_factory=random.Random)
    streaks: Streaks = field(default_factory=Streaks)

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

    async def send(self, request: Request, **context: object) -> Final | None:
        """Send until the request is done or failed; None if the run stopped first.

        ``context`` (row, meetingId) goes into the log lines of this request.
        """
        return await self._send(request, context, expects_404=False)

    async def send_expecting_404(self, request: Request, **context: object) -> Final | None:
        """:meth:`send` for a request a 404 may well answer (an occurrence behind its series'
        move): its 404 is no sign that the run's first rows are on another site."""
        return await self._send(request, context, expects_404=True)

    async def _send(
        self, request: Request, context: dict[str, object], *, expects_404: bool
    ) -> Final | None:
        pacer = self.lanes(request.lane)
        attempt = 0
        refreshed = False
        while True:
            # Waiting out a pause must yield to a stop; a pacing slot is too short to matter.
            if pacer.paused_for > 0:
                if not await self.unless_stopped(pacer.acquire):
                    return None
            else:
                await pacer.acquire()
            # Nothing is sent once a stop is asked for (a request may have waited here for its
            # slot while another met a 401 or a redirect); past the deadline, only no retry.
            if self.stopper.requested.is_set() or (attempt and self.should_stop()):
                return None
            attempt += 1
            self.counts.requests += 1
            generation = self.refresher.generation if self.refresher is not None else 0
            reply: Reply | None
            try:
                reply = await self.sender.send(request)
                error = reply.message
            except TransportError as exc:
                reply, error = None, str(exc)
            except ForeignURLError as exc:
                # Nothing was sent: the server's own link points elsewhere, as a redirect does.
                self.counts.requests -= 1
                self.log.bind(**context).error("run.redirected", error=str(exc))
                self.stopper.request(StopReason.REDIRECT, str(exc))
                return None
            status = reply.status if reply is not None else None
            streaks = self.streaks.after(status)
            if expects_404 and status == 404:
                streaks = replace(streaks, initial_404=self.streaks.initial_404)
            self.streaks = streaks
            retry_after = reply.retry_after if reply is not None else None
            decision = decide(status, retry_after, attempt, self.streaks, self.limits, self.rng)
            if decision.action is Action.DONE:
                pacer.on_success()
                return Final(reply, attempt)
            log = self.log.bind(**context)  # only off the happy path
            if decision.action is Action.REFRESH:
                if self.refresher is not None and not refreshed:
                    refreshed = await self.refresher.refresh(generation)
                    if refreshed:
                        continue
                log.error(
                    "run.unauthorized", httpStatus=401, trackingId=_tracking(reply), error=error
                )
                self.stopper.request(StopReason.AUTH)
                return None
            refreshed = False  # only a 401 *right after* a refresh means the new token is refused
            if reply is not None and reply.status == 429:
                self._throttle(pacer, reply, decision, log)
            if decision.action is Action.STOP:
                self._stop(decision, reply, error, log)
                return None
            if decision.action is Action.RETRY:
                if not await self._wait_to_retry(decision, attempt, reply, log):
                    return None
                continue
            self._stop_after_row(decision.stop, log)
            message = error or f"HTTP {status}"
            if decision.reason:
                message += f" ({decision.reason}, longer than max_retry_after)"
            return Final(reply, attempt, message)

    async def _wait_to_retry(
        self, decision: Decision, attempt: int, reply: Reply | None, log: FilteringBoundLogger
    ) -> bool:
        """Wait before the next attempt; False if the run stopped meanwhile."""
        self.counts.retries += 1
        if decision.for_everyone:
            return True  # the pacer holds every request until the Retry-After has passed
        log.info(
            "row.retry",
            attempt=attempt,
            httpStatus=reply.status if reply is not None else None,
            waitSeconds=round(decision.wait, 3),
            reason=decision.reason,
        )
        if not decision.wait:
            return True
        self.counts.waited += decision.wait
        return await self.unless_stopped(functools.partial(self.clock.sleep, decision.wait))

    def _throttle(
        self, pacer: Pacer, reply: Reply, decision: Decision, log: FilteringBoundLogger
    ) -> None:
        """A 429: hold every request until its Retry-After, and slow down."""
        until = self.clock.wall() + timedelta(seconds=decision.wait)
        self.on_pause(until)  # a run killed now and resumed must still wait for this moment
        self.counts.throttled += 1
        if decision.action is Action.STOP:
            return  # no pause to sit out: the run stops
        if pacer.on_throttle(decision.wait):
            self.counts.waited += decision.wait
            log.warning(
                "run.throttled",
                httpStatus=429,
                waitSeconds=round(decision.wait, 3),
                reason=decision.reason,
                retryAfter=reply.retry_after_raw,
                newRate=round(pacer.rate, 2),
                trackingId=reply.tracking_id,
            )

    def _stop(
        self, decision: Decision, reply: Reply | None, error: str, log: FilteringBoundLogger
    ) -> None:
        reason = decision.stop or StopReason.INTERRUPTED
        detail = ""
        if reason is StopReason.REDIRECT and reply is not None:
            detail = f"the server answered {reply.status} pointing to {reply.location or '(no Location)'}"
            log.error("run.redirected", httpStatus=reply.status, location=reply.location)
        elif reason is StopReason.UNREACHABLE:
            detail = f"{self.streaks.no_answer} requests in a row got no answer; the last: {error}"
            log.error("run.unreachable", consecutive=self.streaks.no_answer, error=error)
        elif reason is StopReason.RETRY_AFTER:
            allowed = self.clock.wall() + timedelta(seconds=decision.wait)
            asked = reply.retry_after_raw if reply is not None else None
            # Absurd waits are capped when parsed: the cap is no date the server gave.
            how_long = (
                "more than ten years"
                if decision.wait >= LONGEST_WAIT
                else f"{decision.wait:,.0f} s"
            )
            said = (
                f"Retry-After: {printable(asked)[:80]}"
                if asked
                else f"until {allowed:%Y-%m-%dT%H:%M:%SZ}"
            )
            detail = (
                f"the server asked to wait {how_long} ({said}), more than max_retry_after "
                f"({self.limits.max_retry_after:g} s)"
            )
            log.error(
                "run.retry_after_too_long",
                waitSeconds=round(decision.wait, 3),
                allowedAt=allowed.isoformat(),
                limit=self.limits.max_retry_after,
            )
        self.stopper.request(reason, detail)

    def _stop_after_row(self, stop: StopReason | None, log: FilteringBoundLogger) -> None:
        """A row that fails and also stops the run: many 403s in a row, or a run of 404s at first."""
        if stop is None or self.stopper.requested.is_set():
            return  # rows still in flight when the run stopped: said once is enough
        if stop is StopReason.FORBIDDEN:
            log.error("run.forbidden", consecutive=self.streaks.forbidden)
            self.stopper.request(stop, f"{self.streaks.forbidden} answers in a row were 403")
        elif stop is StopReason.NOT_FOUND:
            log.error("run.not_found", rows=self.streaks.initial_404)
            self.stopper.request(
                stop,
                f"the first {self.streaks.initial_404} rows all answered 404: their meetings are "
                "not on the site this token reaches (wrong site, org or token?)",
            )


def _tracking(reply: Reply | None) -> str | None:
    return reply.tracking_id if reply is not None else None
