"""What the commands that talk to the API share: their options, the token, and the signals."""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import anyio
import click
from structlog.typing import FilteringBoundLogger

from bulkpatch.config import Settings
from bulkpatch.engine import Stopper, StopReason
from bulkpatch.tokens import Credentials, read_credentials

P = ParamSpec("P")
R = TypeVar("R")

#: Signals that stop a run the way Ctrl-C does (SIGHUP: the terminal went away).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def remote_options(command: Callable[P, R]) -> Callable[P, R]:
    """--base-url, --concurrency, --max-rate, --token-file, --no-progress and -q."""
    options = [
        click.option(
            "--base-url", default=None, help="API base URL [default: https://webexapis.com/v1]."
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(1, 512),
            default=None,
            help="Requests in flight at once [default: 8].",
        ),
        click.option(
            "--max-rate",
            type=click.FloatRange(min=0, min_open=True, max=100_000),
            default=None,
            help="Requests per second, never exceeded [default: none; the API's limit is found].",
        ),
        click.option(
            "--token-file",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Read the access token from this file instead of the environment.",
        ),
        click.option("--no-progress", is_flag=True, help="No progress bar, even on a terminal."),
        click.option(
            "-q", "--quiet", is_flag=True, help="Log only warnings, errors and the summary."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def read_token(
    settings: Settings, log: FilteringBoundLogger, *, sandbox: bool = False
) -> Credentials:
    """The run's credentials: from the environment or the token file (a made-up one for the
    sandbox: a real token has no business in the emulator, even on loopback)."""
    if sandbox:
        return Credentials(f"sandbox-{secrets.token_hex(8)}", "generated for the sandbox")
    credentials = read_credentials(settings.token_file, os.environ, settings.token_env)
    if credentials.loosely_protected:
        log.warning(
            "token_file.permissions",
            path=str(settings.token_file),
            hint="make it readable by you only: chmod 600",
        )
    return credentials


async def handle_signals(stopper: Stopper, log: FilteringBoundLogger) -> None:
    """First Ctrl-C, SIGTERM or SIGHUP: finish in-flight requests and stop. Any second: stop now."""
    with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
        async for received in signals:
            if stopper.requested.is_set():
                log.warning("run.abort", signal=received.name)
                stopper.abort()
                return
            log.warning(
                "run.interrupted",
                signal=received.name,
                hint="finishing requests in flight; press Ctrl-C again to stop at once",
            )
            stopper.request(StopReason.INTERRUPTED)
