"""`bulkpatch run`: validate, then send every row, resumably."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio
import click
import structlog
from structlog.typing import FilteringBoundLogger

from bulkpatch.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    common_options,
    exits_cleanly,
    main,
    plural,
)
from bulkpatch.cli.remote import (
    Display,
    RemoteFlags,
    read_token,
    remote_options,
    remote_settings,
    run_with_progress,
)
from bulkpatch.cli.summary import summarise
from bulkpatch.cli.validate import delimiter_option, render_text
from bulkpatch.client import meeting_path
from bulkpatch.config import Settings, check_base_url
from bulkpatch.jobfile import DELIMITERS
from bulkpatch.log import uses_json
from bulkpatch.model import mask_secrets
from bulkpatch.model.relative import relative_parts
from bulkpatch.policy import parse_deadline, parse_failure_limit
from bulkpatch.redact import printable
from bulkpatch.tokens import Credentials
from bulkpatch.workflows import PreparedJob, RunOptions, RunReport, Target, prepare_job

T = TypeVar("T")


@main.command()
@click.argument("job", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Journal file (default: JOB.journal beside the job; JOB.sandbox.journal with --sandbox).",
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
    "--no-snapshot",
    is_flag=True,
    help="Do not read each meeting before its PATCH (faster; undo cannot revert those rows).",
)
@click.option(
    "--no-skip-unchanged",
    is_flag=True,
    help="Send rows whose meeting already holds their values, too.",
)
@click.option(
    "--sandbox",
    "use_sandbox",
    is_flag=True,
    help="Run against the emulator, started in-process (a new one each run) with the pull "
    "snapshot beside the job (JOB.snapshot.jsonl), else the job's meetings.",
)
@click.option(
    "--max-failures",
    "max_failures",
    help="Stop (exit 3, resumable) past N failed rows, or P% of the rows done (after 100). "
    "An occurrence row not found behind its series' move (validate warns) does not count.",
)
@click.option(
    "--deadline",
    help="Stop taking rows at this local time (06:00) or ISO 8601 moment; exit 3, resumable.",
)
@remote_options
@delimiter_option
@common_options
@exits_cleanly
def run(
    job: Path,
    journal_path: Path | None,
    dry_run: bool,
    skip_invalid: bool,
    retry_failed: bool,
    force: bool,
    no_snapshot: bool,
    no_skip_unchanged: bool,
    use_sandbox: bool,
    max_failures: str | None,
    deadline: str | None,
    remote: RemoteFlags,
    delimiter: str,
    config_path: Path | None,
    log_format: str | None,
    verbose: int,
) -> int:
    """Validate JOB, then PATCH every row; running it again continues where it stopped.

    Each meeting is read before its PATCH: its values before go to the journal (what `undo`
    restores), and a meeting already in the target state is skipped. Every outcome goes to the
    journal (JOB.journal unless --journal). Exit 0 when every row succeeded or was skipped, 1
    when some failed, 2 when the job is invalid (nothing sent), 3 when the run did not finish
    (the same command continues it). The token comes from $WEBEX_ACCESS_TOKEN or --token-file,
    never from the command line.

    \b
    Example:
      export WEBEX_ACCESS_TOKEN=...
      bulkpatch run jobs/site-migration-lobby.csv --max-rate 5
      bulkpatch run jobs/site-migration-lobby.csv --sandbox      # try it on the emulator first
    """
    if use_sandbox and remote.base_url is not None:
        raise click.UsageError("--sandbox runs against the emulator: leave out --base-url")
    settings, display = remote_settings(
        config_path,
        log_format,
        verbose,
        remote,
        max_failures=max_failures,
        deadline=deadline,
    )
    log: FilteringBoundLogger = structlog.get_logger("bulkpatch")
    check_base_url(settings.base_url)
    now = datetime.now(UTC)
    options = RunOptions(
        journal=journal_path,
        retry_failed=retry_failed,
        force=force,
        skip_invalid=skip_invalid,
        max_failures=_parsed(parse_failure_limit, settings.max_failures, "--max-failures"),
        deadline=_parsed(parse_deadline, settings.deadline, "--deadline", now.astimezone()),
        snapshot=not no_snapshot,
        skip_unchanged=not no_skip_unchanged,
    )
    with prepare_job(job, now, delimiter=DELIMITERS[delimiter], workers=None) as prepared:
        summary = prepared.summary
        if not summary.ok and not skip_invalid:
            render_text(summary, prepared.store.findings())
            click.echo("Nothing was sent.", err=True)
            return EXIT_USAGE
        if summary.warnings:
            log.warning(
                "job.warnings", count=summary.warnings, hint=f"bulkpatch validate {job} lists them"
            )
        if no_snapshot and not dry_run:
            log.warning(
                "run.no_snapshot",
                hint="meetings are not read before their PATCH: undo cannot revert these rows",
            )
        if dry_run:
            return _dry_run(prepared, settings, sandbox=use_sandbox)
        credentials = read_token(settings, log, sandbox=use_sandbox)
        report = anyio.run(
            _execute, prepared, options, settings, credentials, use_sandbox, display, log
        )
    return summarise(report, log if uses_json(settings.log_format) else None)


def _parsed(parse: Callable[..., T], value: str | None, flag: str, *args: Any) -> T | None:
    """A flag's (or config key's) value through its parser; a bad one is a usage error (exit 2)."""
    if value is None:
        return None
    try:
        return parse(value, *args)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=flag) from None


async def _execute(
    job: PreparedJob,
    options: RunOptions,
    settings: Settings,
    credentials: Credentials,
    use_sandbox: bool,
    display: Display,
    log: FilteringBoundLogger,
) -> RunReport:
    async with AsyncExitStack() as stack:
        if use_sandbox:
            target = await stack.enter_async_context(_sandbox(job, credentials))
            log.info("sandbox.started", url=target.base_url)
        else:
            target = Target.api(settings.base_url)
        return await run_with_progress(
            job, options, settings, credentials, target, display, log, label=str(job.path)
        )


#: What a --sandbox dry run names as the base URL: the port is chosen when the trial starts.
SANDBOX_BASE_URL = "http://127.0.0.1:<port of the --sandbox emulator>/v1"


def _sandbox(job: PreparedJob, credentials: Credentials) -> Any:
    """The emulator, in-process on a free loopback port, seeded with the job's meetings."""
    # Imported here: only --sandbox needs the emulator, and importing it costs start-up time.
    from bulkpatch.cli.sandboxing import running_for_job

    return running_for_job(job, credentials.access_token)


def _dry_run(job: PreparedJob, settings: Settings, *, sandbox: bool) -> int:
    count = 0
    # A --sandbox trial goes to an emulator on a loopback port of its own, not to the site.
    base_url = SANDBOX_BASE_URL if sandbox else check_base_url(settings.base_url)
    # In the order a run sends them: occurrences whose series the job reschedules go last.
    for behind in (False, True):
        for row in job.store.kept_rows(behind_series_moves=behind):
            if row.body is None:
                click.echo(f"line {row.line}: skipped (invalid)")
                continue
            body = json.dumps(mask_secrets(row.body), ensure_ascii=False)
            notes = ["sent last: this job reschedules its series"] if behind else []
            if offsets := relative_parts(row.body):
                notes.append(f"{', '.join(offsets)}: offsets, resolved on the meeting when sent")
            note = f" ({'; '.join(notes)})" if notes else ""
            url = f"{base_url}/{meeting_path(row.meeting_id)}"
            click.echo(printable(f"line {row.line}: PATCH {url} {body}{note}"))
            count += 1
    click.echo(f"Dry run: {plural(count, 'PATCH request')} would be sent; nothing was sent.")
    return EXIT_OK
