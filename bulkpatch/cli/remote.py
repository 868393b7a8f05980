"""What the commands that talk to the API share: their options, the token, and the signals."""

from __future__ import annotations

import functools
import os
import secrets
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import anyio
import click
from structlog.typing import FilteringBoundLogger

from bulkpatch.cli.common import file_path, settings_from, shown_path
from bulkpatch.cli.progress import progress_view
from bulkpatch.clock import SystemClock
from bulkpatch.config import MIN_RATE, Settings
from bulkpatch.engine import Stopper, StopReason
from bulkpatch.log import configure_logging
from bulkpatch.tokens import Credentials, read_credentials
from bulkpatch.workflows import PreparedJob, RunOptions, RunReport, Target, run_job

R = TypeVar("R")

#: Signals that stop a run the way Ctrl-C does (SIGHUP: the terminal went away).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class RemoteFlags:
    """The options of every command that talks to the API, as one value."""

    base_url: str | None
    concurrency: int | None
    max_rate: float | None
    token_file: Path | None
    no_progress: bool
    quiet: bool


def remote_options(command: Callable[..., R]) -> Callable[..., R]:
    """--base-url, --concurrency, --max-rate, --token-file, --no-progress and -q, handed to the
    command as one ``remote: RemoteFlags`` argument."""

    @functools.wraps(command)
    def bundled(
        *args: object,
        base_url: str | None,
        concurrency: int | None,
        max_rate: float | None,
        token_file: Path | None,
        no_progress: bool,
        quiet: bool,
        **kwargs: object,
    ) -> R:
        flags = RemoteFlags(base_url, concurrency, max_rate, token_file, no_progress, quiet)
        return command(*args, remote=flags, **kwargs)

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
            type=click.FloatRange(min=MIN_RATE, max=100_000),
            default=None,
            help="Requests per second, never exceeded [default: none; the API's limit is found].",
        ),
        click.option(
            "--token-file",
            type=file_path(),
            help="Read the access token from this file instead of the environment.",
        ),
        click.option("--no-progress", is_flag=True, help="No progress bar, even on a terminal."),
        click.option(
            "-q", "--quiet", is_flag=True, help="Log only warnings, errors and the summary."
        ),
    ]
    wrapped: Callable[..., R] = bundled
    for option in reversed(options):
        wrapped = option(wrapped)
    return wrapped


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


@dataclass(frozen=True)
class Display:
    """How a command that talks to the API shows itself: a live bar on a terminal, or logs."""

    bar: bool
    verbose: bool
    quiet: bool


def remote_settings(
    config_path: Path | None,
    log_format: str | None,
    verbose: int,
    remote: RemoteFlags,
    **flags: object,
) -> tuple[Settings, Display]:
    """Settings from the common and remote options (and ``flags``); logging set for the display.

    With a progress bar (a terminal, no -v), the console shows warnings and errors only: the
    bar counts 429s and retries, and log lines would push it around.
    """
    settings = settings_from(
        config_path,
        log_format,
        verbose,
        quiet=remote.quiet,
        base_url=remote.base_url,
        concurrency=remote.concurrency,
        max_rate=remote.max_rate,
        token_file=remote.token_file,
        **flags,
    )
    display = Display(not remote.no_progress and sys.stderr.isatty(), bool(verbose), remote.quiet)
    if display.bar and not display.verbose:
        configure_logging(
            settings.log_format,
            0,
            quiet=remote.quiet,
            log_file=settings.log_file,
            console_warnings_only=True,
        )
    return settings, display


async def run_with_progress(
    job: PreparedJob,
    options: RunOptions,
    settings: Settings,
    credentials: Credentials,
    target: Target,
    display: Display,
    log: FilteringBoundLogger,
    *,
    label: str,
) -> RunReport:
    """Run a prepared job with the progress display and the signal handler."""
    stopper = Stopper()
    with progress_view(display.bar, log, SystemClock()) as view:

        def started(journal: Path, resumed: bool, to_send: int) -> None:
            verb = "Resuming" if resumed else "Starting"
            click.echo(f"{verb} {label}: journal {shown_path(journal)}", err=True)
            view.begin(to_send)

        async with anyio.create_task_group() as group:
            group.start_soon(handle_signals, stopper, log)
            group.start_soon(view.tick)
            report = await run_job(
                job,
                options,
                settings,
                credentials,
                target,
                log=log,
                stopper=stopper,
                on_start=started,
                on_progress=view.update,
            )
            group.cancel_scope.cancel()
    return report
