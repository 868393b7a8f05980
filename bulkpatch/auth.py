"""Refreshing the access token mid-run: once per expiry, for all workers together."""

from __future__ import annotations

import dataclasses

import anyio
from structlog.typing import FilteringBoundLogger

from bulkpatch.client import MeetingsClient
from bulkpatch.errors import RemoteError
from bulkpatch.tokens import Credentials, save_credentials


class TokenRefresher:
    """Trades the refresh token for a new access token when the API answers 401.

    Workers say which token generation was refused; the first one to ask refreshes, the others
    wait for it and find the token already new. So one expiry costs one refresh, however many
    requests were in flight.
    """

    __slots__ = ("_client", "_credentials", "_lock", "_log", "refreshes")

    def __init__(
        self, client: MeetingsClient, credentials: Credentials, log: FilteringBoundLogger
    ) -> None:
        self._client = client
        self._credentials = credentials
        self._lock = anyio.Lock()
        self._log = log
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"<TokenRefresher refreshes={self.refreshes}>"

    @property
    def generation(self) -> int:
        """The generation of the token requests carry now."""
        return self._client.token_generation

    async def refresh(self, refused_generation: int) -> bool:
        """Make sure the token is newer than the refused one; False if that cannot be done."""
        async with self._lock:
            if self._client.token_generation != refused_generation:
                return True  # another worker refreshed it while this one waited
            credentials = self._credentials
            if not (
                credentials.refresh_token and credentials.client_id and credentials.client_secret
            ):
                return False
            try:
                grant = await self._client.exchange_refresh_token(
                    credentials.client_id, credentials.client_secret, credentials.refresh_token
                )
            except RemoteError as exc:
                self._log.error("auth.refresh_failed", error=str(exc))
                return False
            self._credentials = dataclasses.replace(
                credentials, access_token=grant.access_token, refresh_token=grant.refresh_token
            )
            self._client.set_token(grant.access_token)
            self.refreshes += 1
            try:
                save_credentials(self._credentials)
            except OSError as exc:
                self._log.warning(
                    "token_file.not_saved",
                    path=str(credentials.file),
                    error=exc.strerror or str(exc),
                    hint="the run goes on with the new token; save it yourself for the next run",
                )
            self._log.info(
                "auth.refreshed",
                refreshes=self.refreshes,
                tokenFile=str(credentials.file) if credentials.file else None,
            )
            return True
