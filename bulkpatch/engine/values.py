"""The engine's values and the protocols of what it is given."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import anyio

from bulkpatch.client import Reply, Request
from bulkpatch.clock import Clock
from bulkpatch.policy import FailureLimit, Limits, StopReason

__all__ = [
    "Clock",
    "Pacer",
    "Planned",
    "Refresher",
    "RunCounts",
    "RunSettings",
    "Sender",
    "StopReason",
    "Stopper",
]


class Sender(Protocol):
    """What sends one request (the real one is :class:`bulkpatch.client.MeetingsClient`)."""

    async def send(self, request: Request) -> Reply: ...


class Refresher(Protocol):
    """What renews the access token after a 401 (the real one is :class:`bulkpatch.auth.TokenRefresher`)."""

    @property
    def generation(self) -> int: ...

    async def refresh(self, refused_generation: int) -> bool: ...


class Pacer(Protocol):
    """The shared rate limiter as the engine uses it (one per lane: reads, writes)."""

    @property
    def paused_for(self) -> float: ...

    @property
    def rate(self) -> float: ...

    @property
    def episodes(self) -> int: ...

    @property
    def throttled(self) -> int: ...

    async def acquire(self) -> None: ...

    def on_success(self) -> None: ...

    def on_throttle(self, pause: float) -> bool: ...

    def hold(self, seconds: float) -> None: ...


#: The pacer of a lane ("read" for GETs, "write" for PATCHes).
Lanes = Callable[[str], Pacer]


@dataclass(frozen=True, slots=True)
class Planned:
    """A row to send, with what the journal already knows of its meeting.

    ``before``: the values of the fields it changes, read by a fresh plan (None: read them
    now), or committed by a run before its PATCH (``sent``: the PATCH may have landed, so it
    is sent again without a read, and these stay the original values). ``resolved``: absolute start/end its relative values came to in an earlier run or
    plan. ``expect``: what the meeting must still hold for the row to be sent (undo's drift
    guard). ``earlier``: the before-values an earlier version of this row kept (a job
    changed under ``--force``), which moved the meeting or may have: its offsets resolve
    from these times (unless ``resolved`` holds what they came to), never from the meeting
    moved already, and these stay the before-values.
    """

    line: int
    meeting_id: str
    body: dict[str, Any]
    before: dict[str, Any] | None = None
    resolved: dict[str, Any] | None = None
    expect: dict[str, Any] | None = None
    sent: bool = False
    earlier: dict[str, Any] | None = None
    #: Failed before as an offset row behind a move of its meeting (a retry fails it so again).
    behind_a_move: bool = False
    #: An occurrence whose series another row of the job reschedules: sent after every other row.
    behind_series_move: bool = False

    def gone_as_warned(self, http_status: int | None) -> bool:
        """Whether an answer is the 404 validate warned of: an occurrence behind its series'
        move, whose id names nothing once the move is made."""
        return self.behind_series_move and http_status == 404


@dataclass(frozen=True)
class RunSettings:
    """How a run behaves (the CLI fills it from flags, environment and config)."""

    concurrency: int = 8
    limits: Limits = field(default_factory=Limits)
    drain_timeout: float = 10.0
    random_seed: int | None = None
    max_failures: FailureLimit | None = None
    deadline: datetime | None = None
    #: Read each meeting before its PATCH, keeping the before-values (what undo restores).
    snapshot: bool = True
    #: A row whose meeting already holds its values is ``skipped``, not sent.
    skip_unchanged: bool = True
    #: Send rows whose meeting no longer holds what ``expect`` says (undo --force).
    ignore_drift: bool = False


@dataclass
class RunCounts:
    """What this run has done so far (the journal holds the totals)."""

    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    conflicts: int = 0
    requests: int = 0
    reads: int = 0
    retries: int = 0
    throttled: int = 0
    #: Seconds requests spent held by a Retry-After or a backoff.
    waited: float = 0.0

    @property
    def done(self) -> int:
        """Rows that reached an outcome in this run."""
        return self.succeeded + self.failed + self.skipped + self.conflicts


@dataclass
class Stopper:
    """Ask a run to stop: ``request`` lets in-flight requests finish, ``abort`` does not wait."""

    requested: anyio.Event = field(default_factory=anyio.Event)
    aborted: anyio.Event = field(default_factory=anyio.Event)
    reason: StopReason = StopReason.FINISHED
    #: What the user should know about the stop (a redirect's Location, when requests may resume).
    detail: str = ""

    def request(self, reason: StopReason, detail: str = "") -> None:
        """Stop taking rows; the first reason given is the one kept."""
        if not self.requested.is_set():
            self.reason = reason
            self.detail = detail
            self.requested.set()

    def abort(self) -> None:
        """Stop now, abandoning in-flight requests (their rows stay pending)."""
        self.request(StopReason.INTERRUPTED)
        self.aborted.set()
