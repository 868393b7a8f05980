"""What a running sandbox holds: its meetings, limits, faults, stats, tokens and clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from bulkpatch.model.site import SiteProfile
from bulkpatch.sandbox.accounts import ADMIN, Identity, identify, org_id
from bulkpatch.sandbox.store import MeetingStore
from bulkpatch.sandbox.traffic import Faults, RateLimits, Stats, TokenIssuer


class SandboxError(Exception):
    """The sandbox cannot start as asked (a non-loopback host, a port in use)."""


@dataclass
class SandboxState:
    """Everything a running sandbox holds; tests change ``faults`` and read ``stats`` directly."""

    store: MeetingStore
    limits: RateLimits
    faults: Faults = field(default_factory=Faults)
    stats: Stats = field(default_factory=Stats)
    token: str | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    tokens: TokenIssuer | None = None
    on_request: Callable[[str, str, int, str], None] | None = None
    users: dict[str, str] = field(default_factory=dict)
    site: SiteProfile | None = None

    def identity(self, token: str | None) -> Identity:
        """Who a token is: a user bound to one host (``users``), else the site admin."""
        if (token or "") not in self.users:
            return Identity(ADMIN, admin=True)
        admins = self.site.admins if self.site is not None else ()
        return identify(token, self.users, admins, self.store.people())

    @property
    def org_id(self) -> str:
        """The organisation everyone here is in: one per admin token (see accounts.org_id)."""
        return org_id(self.token)


STATE = web.AppKey("state", SandboxState)


def new_state(
    store: MeetingStore,
    *,
    rate: float | None = None,
    burst: int = 10,
    token: str | None = None,
    faults: Faults | None = None,
    token_ttl: float | None = None,
    refresh_token: str | None = None,
    token_uses: int | None = None,
    users: dict[str, str] | None = None,
    site: SiteProfile | None = None,
) -> SandboxState:
    """A sandbox state with a real monotonic clock for its rate limits and token lifetimes."""
    tokens = None
    if refresh_token is not None:
        if token is None:
            raise SandboxError(
                "expiring tokens need a first token: give --token with --token-ttl, "
                "--token-uses or --refresh-token"
            )
        tokens = TokenIssuer(token, refresh_token, token_ttl, time.monotonic, token_uses)
    return SandboxState(
        store=store,
        limits=RateLimits(rate, burst, time.monotonic),
        faults=faults or Faults(),
        token=token,
        tokens=tokens,
        users=dict(users or {}),
        site=site,
    )
