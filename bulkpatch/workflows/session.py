"""What every workflow that talks to the API shares: the target, the client, the pipeline."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from structlog.typing import FilteringBoundLogger

from bulkpatch.auth import TokenRefresher
from bulkpatch.client import MeetingsClient, Request, Timeouts
from bulkpatch.config import SANDBOX_TARGET, Settings, check_base_url, target_name
from bulkpatch.engine import Pipeline, Stopper
from bulkpatch.journal import Journal
from bulkpatch.limiter import Pacing, SystemClock, default_state_dir, open_pacing, token_identity
from bulkpatch.policy import Backoff, Limits, StopReason
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
    #: The lanes' pacing: the rate found, 429s, time held (``pacing.report()``).
    pacing: Pacing


async def bind_organisation(session: Session, journal: Journal, log: FilteringBoundLogger) -> bool:
    """Tie the journal to the organisation of the token (GET /v1/people/me); False if stopped.

    A token that may not read its own person (403, 404: no such scope), or whose person names
    no organisation, leaves a new journal bound to the base URL only, with a warning; a journal
    already bound to an organisation is refused, since nothing shows the token belongs to it.
    Any other failure (5xx, no answer) stops before a row is sent.
    """
    streaks = session.pipeline.streaks
    final = await session.pipeline.send(Request("GET", "people/me"), purpose="identity")
    if final is None:
        return False
    session.pipeline.streaks = streaks  # the rows' own 403s and 404s are what stop a run
    status = final.reply.status if final.reply is not None else None
    me = final.reply.payload if final.ok and final.reply is not None else None
    org_id = me.get("orgId") if isinstance(me, dict) else None
    if isinstance(org_id, str) and org_id:
        journal.bind_org(org_id)
        return True
    if not final.ok and status not in _NO_SCOPE:
        detail = f"GET /v1/people/me: {_clause(final.error or f'HTTP {status}')}; nothing was sent"
        log.error("journal.org_unreadable", error=detail)
        session.pipeline.stopper.request(StopReason.IDENTITY, detail)
        return False
    why = final.error or "no orgId in the answer"
    journal.require_no_org(f"this token's organisation cannot be read ({why})")
    log.warning(
        "journal.org_unknown",
        hint="GET /v1/people/me did not say which organisation the token belongs to; the "
        "journal is bound to the base URL only",
        error=final.error or None,
    )
    return True


#: Answers to GET /v1/people/me that mean the token may not read it, not that the API failed.
_NO_SCOPE = frozenset({403, 404})


def _clause(message: str) -> str:
    """A server's message made to go on as part of a sentence: its closing period dropped."""
    text = message.rstrip()
    return text[:-1].rstrip() if text.endswith(".") and not text.endswith("..") else text


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
        with open_pacing(
            clock=clock,
            ceiling=settings.max_rate,
            target=target.name,
            identity=token_identity(
                credentials.access_token,
                client_id=credentials.client_id,
                refresh_token=credentials.refresh_token,
            ),
            # The emulator is new each time, with a token of its own: nothing worth learning.
            state_dir=None
            if target.is_sandbox
            else settings.state_dir or default_state_dir(os.environ),
        ) as pacing:
            if pacing.warning:
                log.warning("pacing.state_unusable", hint=pacing.warning)
            refresher = (
                TokenRefresher(client, credentials, log) if credentials.can_refresh else None
            )
            pipeline = Pipeline(
                client, pacing.lane, clock, log, limits_of(settings), stopper, refresher=refresher
            )
            yield Session(client, pipeline, redactor, pacing)
