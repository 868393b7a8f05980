"""What every workflow that talks to the API shares: the target, the client, the pipeline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from structlog.typing import FilteringBoundLogger

from bulkpatch.auth import TokenRefresher
from bulkpatch.client import MeetingsClient, Timeouts
from bulkpatch.config import SANDBOX_TARGET, Settings, check_base_url, target_name
from bulkpatch.engine import Pipeline, Stopper
from bulkpatch.engine.values import Pacer
from bulkpatch.limiter import AdaptiveLimiter, SystemClock
from bulkpatch.policy import Backoff, Limits
from bulkpatch.redact import Redactor
from bulkpatch.tokens import Credentials


@dataclass(frozen=True)
class Target:
    """Where requests go, and the name a journal knows that place by."""

    base_url: str
    name: str

    @classmethod
    def api(cls, base_url: str) -> Target:
        """The real API (or any server) at ``base_url``."""
        return cls(check_base_url(base_url), target_name(base_url))

    @classmethod
    def sandbox(cls, base_url: str) -> Target:
        """bulkpatch's own emulator, whatever port it listens on this time."""
        return cls(check_base_url(base_url), SANDBOX_TARGET)

    @property
    def is_sandbox(self) -> bool:
        """Whether this is the emulator."""
        return self.name == SANDBOX_TARGET


@dataclass(frozen=True)
class Session:
    """An open client and the pipeline every request of a workflow goes through."""

    client: MeetingsClient
    pipeline: Pipeline
    redactor: Redactor


def limits_of(settings: Settings) -> Limits:
    """The decision limits the settings give."""
    return Limits(
        max_attempts=settings.max_attempts,
        backoff=Backoff(settings.backoff_base, settings.backoff_cap),
        max_retry_after=settings.max_retry_after,
        max_consecutive_403=settings.max_consecutive_403,
        max_connection_failures=settings.max_connection_failures,
        max_initial_404=settings.max_initial_404,
    )


@asynccontextmanager
async def open_session(
    settings: Settings,
    credentials: Credentials,
    target: Target,
    *,
    log: FilteringBoundLogger,
    stopper: Stopper,
) -> AsyncIterator[Session]:
    """A client to ``target`` with the run's secrets known to its redactor, and its pipeline."""
    redactor = Redactor(
        [credentials.access_token, credentials.refresh_token, credentials.client_secret]
    )
    timeouts = Timeouts(connect=settings.connect_timeout, total=settings.request_timeout)
    async with MeetingsClient(
        target.base_url,
        credentials.access_token,
        concurrency=settings.concurrency,
        timeouts=timeouts,
        redactor=redactor,
    ) as client:
        clock = SystemClock()
        limiter = AdaptiveLimiter(settings.max_rate, clock)

        def lanes(_: str) -> Pacer:
            return limiter

        refresher = TokenRefresher(client, credentials, log) if credentials.can_refresh else None
        pipeline = Pipeline(
            client, lanes, clock, log, limits_of(settings), stopper, refresher=refresher
        )
        yield Session(client, pipeline, redactor)
