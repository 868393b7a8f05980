"""`bulkpatch run`: validate, then send every row, resumably."""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio
import click
import structlog
from structlog.typing import FilteringBoundLogger

from bulkpatch.auth import TokenRefresher
from bulkpatch.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    common_options,
    exits_cleanly,
    main,
    settings_from,
)
from bulkpatch.cli.progress import progress_view
from bulkpatch.cli.summary import summarise
from bulkpatch.cli.validate import delimiter_option, render_text
from bulkpatch.client import MeetingsClient, Timeouts, check_base_url, meeting_url
from bulkpatch.config import Settings
from bulkpatch.engine import RunCounts, RunSettings, Stopper, StopReason, plan_rows, run_rows
from bulkpatch.jobfile import DELIMITERS
from bulkpatch.journal import Journal, default_journal_path, file_hash
from bulkpatch.limiter import AdaptiveLimiter, SystemClock
from bulkpatch.log import uses_json
from bulkpatch.model import mask_secrets
from bulkpatch.policy import Backoff, FailureLimit, parse_deadline, parse_failure_limit
from bulkpatch.sandbox import new_state, running_sandbox, seed_from_ids
from bulkpatch.tokens import Credentials, read_credentials
from bulkpatch.validation import FindingStore, JobSummary, validate_job

T = TypeVar("T")


@dataclass(frozen=True)
class _Job:
    path: Path
    now: datetime
    summary: JobSummary
    store: FindingStore
    settings: Settings
    options: _RunOptions


@main.command()
@click.argument("job", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Journal file (default: JOB.journal beside the job).",
)
@click.option("--base-url", default=None, help="API base URL [default: https://webexapis.com/v1].")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 512),
    default=None,
    help="Requests in flight at once [default: 8].",
)
@click.option(
    "--max-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Requests per second, never exceeded [default: 10].",
)
@click.option("--dry-run", is_flag=True, help="Validate and show what would be sent; send nothing.")
@click.option(
    "--skip-invalid", is_flag=True, help="Send the valid rows; record the invalid ones as invalid."
)
@click.option(
    "--retry-failed", is_flag=True, help="On resume, send rows that failed permanently again."
)
@click.option(
    "--force",
    is_flag=True,
    help="Resume even though the job file changed since the journal was made.",
)
@click.option(
    "--sandbox",
    "use_sandbox",
    is_flag=True,
    help="Run against the emulator, started in-process with the job's meetings.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar, even on a terminal.")
@click.option(
    "--max-failures",
    "max_failures",
    callback=lambda _c, _p, value: _parsed(parse_failure_limit, value),
    help="Stop (exit 3, resumable) past N failed rows, or P% of the rows done (after 100).",
)
@click.option(
    "--deadline",
    help="Stop taking rows at this local time (06:00) or ISO 8601 moment; exit 3, resumable.",
)
@click.option("-q", "--quiet", is_flag=True, help="Log only warnings, errors and the summary.")
@click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read the access token from this file instead of the environment.",
)
@delimiter_option
@common_options
@exits_cleanly
def run(
    job: Path,
    journal_path: Path | None,
    base_url: str | None,
    concurrency: int | None,
    max_rate: float | None,
    dry_run: bool,
    skip_invalid: bool,
    retry_failed: bool,
    force: bool,
    use_sandbox: bool,
    no_progress: bool,
    max_failures: FailureLimit | None,
    deadline: str | None,
    quiet: bool,
    token_file: Path | None,
    delimiter: str,
    config_path: Path | None,
    log_format: str | None,
    verbose: int,
) -> int:
    """Validate JOB, then PATCH every row; running it again continues where it stopped.

    Every outcome goes to the journal (JOB.journal unless --journal). Exit 0 when every row
    succeeded, 1 when some failed, 2 when the job is invalid (nothing sent), 3 when the run did
    not finish (the same command continues it). The token comes from $WEBEX_ACCESS_TOKEN or
    --token-file, never from the command line.

    \b
    Example:
      export WEBEX_ACCESS_TOKEN=...
      bulkpatch run jobs/site-migration-lobby.csv --max-rate 5
      bulkpatch run jobs/site-migration-lobby.csv --sandbox      # try it on the emulator first
    """
    settings = settings_from(
        config_path,
        log_format,
        verbose,
        quiet=quiet,
        base_url=base_url,
        concurrency=concurrency,
        max_rate=max_rate,
    )
    log: FilteringBoundLogger = structlog.get_logger("bulkpatch")
    check_base_url(settings.base_url)
    now = datetime.now(UTC)
    stop_at = _parsed(parse_deadline, deadline, now.astimezone()) if deadline else None
    options = _RunOptions(
        journal_path,
        retry_failed,
        skip_invalid,
        force,
        use_sandbox,
        no_progress,
        max_failures,
        stop_at,
    )
    # The store keeps every validated row, so the run sends what was checked without a second pass.
    with FindingStore(keep_rows=True) as store:
        summary = validate_job(job, now, store, delimiter=DELIMITERS[delimiter], workers=None)
        if not summary.ok and not skip_invalid:
            render_text(summary, store.findings())
            click.echo("Nothing was sent.", err=True)
            return EXIT_USAGE
        if summary.warnings:
            log.warning(
                "job.warnings", count=summary.warnings, hint=f"bulkpatch validate {job} lists them"
            )
        if dry_run:
            return _dry_run(store, settings)
        credentials = _credentials(token_file, settings, use_sandbox, log)
        return _send(_Job(job, now, summary, store, settings, options), credentials, log)


@dataclass(frozen=True)
class _RunOptions:
    journal_path: Path | None
    retry_failed: bool
    skip_invalid: bool
    force: bool
    use_sandbox: bool
    no_progress: bool
    max_failures: FailureLimit | None
    deadline: datetime | None


def _parsed(parse: Callable[..., T], value: str | None, *args: Any) -> T | None:
    """A flag's value through its parser; a bad one is a usage error (exit 2)."""
    if value is None:
        return None
    try:
        return parse(value, *args)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _send(job: _Job, credentials: Credentials, log: FilteringBoundLogger) -> int:
    """Open the journal, send what is left, and summarise."""
    options, settings = job.options, job.settings
    path = options.journal_path or default_journal_path(job.path)
    with Journal.open(path, lock=True, create=True) as journal:
        if journal.stale_holder:
            log.warning(
                "journal.stale_lock",
                holder=journal.stale_holder,
                hint="that run ended without releasing the journal; continuing",
            )
        resuming = journal.bind_job(
            job.path, file_hash(job.path), job.summary.format.value, force=options.force
        )
        click.echo(f"{'Resuming' if resuming else 'Starting'} {job.path}: journal {path}", err=True)
        run_id = journal.start_run(
            {
                "concurrency": settings.concurrency,
                "maxRate": settings.max_rate,
                "baseUrl": "sandbox" if options.use_sandbox else settings.base_url,
                "retryFailed": options.retry_failed,
                "skipInvalid": options.skip_invalid,
                "force": options.force,
            }
        )
        started = time.monotonic()
        reason, counts = anyio.run(_execute, job, journal, credentials, log)
        journal.finish_run(run_id, reason.value, counts.throttled)
        totals = journal.counts()
    elapsed = time.monotonic() - started
    return summarise(
        reason, counts, totals, elapsed, path, log if uses_json(settings.log_format) else None
    )


def _credentials(
    token_file: Path | None, settings: Settings, use_sandbox: bool, log: FilteringBoundLogger
) -> Credentials:
    if use_sandbox:  # a real token has no business in the emulator, even on loopback
        return Credentials(f"sandbox-{secrets.token_hex(8)}", "generated for the sandbox")
    credentials = read_credentials(token_file, os.environ, settings.token_env)
    if credentials.loosely_protected:
        log.warning(
            "token_file.permissions",
            path=str(token_file),
            hint="make it readable by you only: chmod 600",
        )
    return credentials


async def _execute(
    job: _Job, journal: Journal, credentials: Credentials, log: FilteringBoundLogger
) -> tuple[StopReason, RunCounts]:
    settings = job.settings
    clock = SystemClock()
    stopper = Stopper()
    async with AsyncExitStack() as stack:
        base_url = settings.base_url
        if job.options.use_sandbox:
            state = new_state(
                seed_from_ids((row.meeting_id for row in job.store.kept_rows()), job.now),
                token=credentials.access_token,
            )
            sandbox = await stack.enter_async_context(running_sandbox(state))
            base_url = sandbox.api_url
            log.info("sandbox.started", url=base_url)
        timeouts = Timeouts(connect=settings.connect_timeout, total=settings.request_timeout)
        client = await stack.enter_async_context(
            MeetingsClient(
                base_url,
                credentials.access_token,
                concurrency=settings.concurrency,
                timeouts=timeouts,
            )
        )
        done_before = _done_before(journal.counts(), job.options.retry_failed)
        view = stack.enter_context(
            progress_view(
                max(0, job.summary.valid - done_before),
                not job.options.no_progress and sys.stderr.isatty(),
                log,
                clock,
            )
        )
        run_settings = RunSettings(
            concurrency=settings.concurrency,
            max_attempts=settings.max_attempts,
            backoff=Backoff(settings.backoff_base, settings.backoff_cap),
            max_consecutive_403=settings.max_consecutive_403,
            drain_timeout=settings.drain_timeout,
            max_failures=job.options.max_failures,
            deadline=job.options.deadline,
        )
        refresher = TokenRefresher(client, credentials, log) if credentials.can_refresh else None
        async with anyio.create_task_group() as group:
            group.start_soon(_handle_signals, stopper, log)
            group.start_soon(view.tick)
            result = await run_rows(
                plan_rows(job.store.kept_rows(), journal, retry_failed=job.options.retry_failed),
                sender=client,
                journal=journal,
                limiter=AdaptiveLimiter(settings.max_rate, clock),
                clock=clock,
                log=log,
                settings=run_settings,
                stopper=stopper,
                on_progress=view.update,
                refresher=refresher,
            )
            group.cancel_scope.cancel()
        return result


def _done_before(counts: dict[str, int], retry_failed: bool) -> int:
    return counts["succeeded"] + counts["skipped"] + (0 if retry_failed else counts["failed"])


async def _handle_signals(stopper: Stopper, log: FilteringBoundLogger) -> None:
    """First Ctrl-C or SIGTERM: finish in-flight requests and stop. Second: stop now."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
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


def _dry_run(store: FindingStore, settings: Settings) -> int:
    count = 0
    for row in store.kept_rows():
        if row.body is None:
            click.echo(f"line {row.line}: skipped (invalid)")
            continue
        url = meeting_url(settings.base_url, row.meeting_id)
        click.echo(
            f"line {row.line}: PATCH {url} {json.dumps(mask_secrets(row.body), ensure_ascii=False)}"
        )
        count += 1
    click.echo(f"Dry run: {count} PATCH requests would be sent; nothing was sent.")
    return EXIT_OK
