"""The engine's values and the protocols of what it is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import anyio

from bulkpatch.client import Reply
from bulkpatch.policy import Backoff, FailureLimit


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
