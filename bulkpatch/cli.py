"""The command line: arguments, settings, rendering and exit codes.

The only module that prints or exits. Library errors arrive here as :class:`BulkpatchError`
subclasses and leave as one line on stderr and the exit code SPEC.md gives them; a traceback
is shown only with ``-v``.
"""

from __future__ import annotations

import functools
import json
import os
import random
import signal
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, ParamSpec, TypeVar

import anyio
import click
import structlog

from bulkpatch import __version__
from bulkpatch.config import Settings, load_settings
from bulkpatch.errors import BulkpatchError, ConfigError, JobFileError
from bulkpatch.jobfile import meeting_ids
from bulkpatch.log import configure_logging
from bulkpatch.model import Finding, Severity
from bulkpatch.sandbox import (
    Faults,
    SandboxError,
    SandboxState,
    generate,
    new_state,
    parse_latency,
    running_sandbox,
    seed_from_ids,
)
from bulkpatch.validation import FindingStore, JobSummary, validate_job

EXIT_OK = 0
EXIT_ROWS_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FINISHED = 3

P = ParamSpec("P")
R = TypeVar("R")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="bulkpatch")
def main() -> None:
    """Change many Webex meetings at once, from a CSV or JSON Lines job file.

    \b
    Example:
      bulkpatch validate jobs/site-migration-lobby.csv
    """


def _common_options(command: Callable[P, R]) -> Callable[P, R]:
    """--config, --log-format and -v, accepted by every command."""
    options = [
        click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path, dir_okay=False),
            help="TOML settings file (see config.example.toml).",
        ),
        click.option(
            "--log-format",
            type=click.Choice(["auto", "console", "json"]),
            default=None,
            help="Log layout; auto = console on a terminal, JSON otherwise.",
        ),
        click.option("-v", "--verbose", count=True, help="More detail; tracebacks on errors."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _settings(config_path: Path | None, log_format: str | None, verbose: int) -> Settings:
    settings = load_settings(config_path, os.environ, {"log_format": log_format})
    configure_logging(settings.log_format, verbose)
    return settings


def _exits_cleanly(command: Callable[P, int]) -> Callable[P, NoReturn]:
    """Turn a command's return value into the exit code, and its errors into one clean line."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> NoReturn:
        verbose = bool(kwargs.get("verbose"))
        try:
            code = command(*args, **kwargs)
        except (JobFileError, ConfigError, SandboxError) as exc:
            _fail(exc, EXIT_USAGE, verbose)
        except BulkpatchError as exc:
            _fail(exc, EXIT_NOT_FINISHED, verbose)
        except KeyboardInterrupt:
            click.echo("bulkpatch: interrupted", err=True)
            sys.exit(EXIT_NOT_FINISHED)
        sys.exit(code)

    return wrapper


def _fail(exc: BaseException, code: int, verbose: bool) -> NoReturn:
    if verbose:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    click.echo(f"bulkpatch: error: {exc}", err=True)
    sys.exit(code)


# --- validate ----------------------------------------------------------------------------------


@main.command()
@click.argument("job", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    help="text for people, json for scripts.",
)
@_common_options
@_exits_cleanly
def validate(
    job: Path, output_format: str, config_path: Path | None, log_format: str | None, verbose: int
) -> int:
    """Check every row of JOB against the API's rules, offline; nothing is sent.

    Prints a summary (rows, valid, invalid, warnings, rows per field), then every error and
    warning with its file, line, field, value and rule. Exit 0 when every row is valid
    (warnings allowed), 2 otherwise.

    \b
    Example:
      bulkpatch validate jobs/site-migration-lobby.csv
      bulkpatch validate jobs/reschedule.jsonl --format json > report.json
    """
    _settings(config_path, log_format, verbose)
    with FindingStore() as store:
        summary = validate_job(job, datetime.now(UTC), store)
        render = _render_json if output_format == "json" else _render_text
        render(summary, store.findings())
    return EXIT_OK if summary.ok else EXIT_USAGE


def _render_text(summary: JobSummary, findings: Iterator[Finding]) -> None:
    echo = click.echo
    echo(
        f"{summary.path} ({summary.format.upper()}): {summary.rows} rows, {summary.valid} valid, "
        f"{summary.invalid} invalid, {summary.warnings} warnings"
    )
    if summary.fields:
        echo("\nRows changing each field:")
        width = max(len(name) for name in summary.fields)
        for name, count in summary.fields.most_common():
            echo(f"  {name:<{width}}  {count}")
    if summary.rules:
        echo("\nFindings by rule:")
        for rule, count in summary.rules.most_common():
            echo(f"  {rule:<36}  {count}")
        echo("")
        for finding in findings:
            colour = "red" if finding.severity is Severity.ERROR else "yellow"
            echo(click.style(finding.describe(summary.path), fg=colour))
    echo("")
    if summary.ok:
        echo(
            click.style("OK", fg="green")
            + f": every row is valid. Next: bulkpatch run {summary.path}"
        )
    else:
        echo(
            click.style("INVALID", fg="red")
            + f": {summary.invalid} of {summary.rows} rows have errors. Fix them and validate "
            "again, or run with --skip-invalid to send only the valid rows."
        )


def _render_json(summary: JobSummary, findings: Iterator[Finding]) -> None:
    head: dict[str, Any] = {
        "file": summary.path,
        "format": summary.format.value,
        "rows": summary.rows,
        "valid": summary.valid,
        "invalid": summary.invalid,
        "warnings": summary.warnings,
        "fields": dict(summary.fields.most_common()),
        "rules": dict(summary.rules.most_common()),
    }
    # Streamed one finding at a time: a million findings never sit in memory together.
    click.echo(json.dumps(head, ensure_ascii=False)[:-1] + ', "findings": [', nl=False)
    for index, finding in enumerate(findings):
        line = json.dumps(_finding_json(finding), ensure_ascii=False)
        click.echo(("," if index else "") + "\n  " + line, nl=False)
    click.echo("\n]}")


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "severity": finding.severity.value,
        "line": finding.line,
        "meetingId": finding.meeting_id,
        "field": finding.field,
        "value": finding.value,
        "rule": finding.rule,
        "message": finding.message,
    }


# --- sandbox -----------------------------------------------------------------------------------


def _latency(_: click.Context, __: click.Parameter, value: str) -> tuple[float, float]:
    try:
        return parse_latency(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Loopback address to serve on."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="0 picks a free port.",
)
@click.option(
    "--seed",
    "seed_job",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Create every meeting this job file names.",
)
@click.option(
    "--meetings",
    type=click.IntRange(0),
    default=None,
    help="Generate N meeting series (default 100 without --seed).",
)
@click.option(
    "--random-seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed for generated meetings and faults.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Requests per second per token; beyond it, 429.",
)
@click.option(
    "--burst",
    type=click.IntRange(1),
    default=10,
    show_default=True,
    help="Requests a token may send at once.",
)
@click.option(
    "--latency-ms", default="0", callback=_latency, help="Delay per request: MS or MIN-MAX."
)
@click.option(
    "--fault-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of requests failing with 500/502/503/504 or a dropped connection.",
)
@click.option(
    "--locked-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of requests answered 423 Locked with Retry-After.",
)
@click.option("--token", default=None, help="Accept only this access token (default: any).")
@click.option("--quiet", is_flag=True, help="Do not log every request.")
@_common_options
@_exits_cleanly
def sandbox(
    host: str,
    port: int,
    seed_job: Path | None,
    meetings: int | None,
    random_seed: int,
    rate: float | None,
    burst: int,
    latency_ms: tuple[float, float],
    fault_rate: float,
    locked_rate: float,
    token: str | None,
    quiet: bool,
    config_path: Path | None,
    log_format: str | None,
    verbose: int,
) -> int:
    """Serve a local Webex Meetings emulator on loopback until Ctrl-C.

    It answers GET/PATCH /v1/meetings/{meetingId} as the real API does: the reference's rules,
    Webex error bodies, a trackingid on every response, a rate limit per token, and faults on
    demand. GET /_sandbox/stats shows what it saw.

    \b
    Example:
      bulkpatch sandbox --seed jobs/site-migration-lobby.csv --rate 50 --burst 10
      bulkpatch sandbox --meetings 1000 --fault-rate 0.1 --latency-ms 50-250 --port 0
    """
    _settings(config_path, log_format, verbose)
    now = datetime.now(UTC)
    if seed_job is not None:
        store = seed_from_ids(meeting_ids(seed_job), now)
    else:
        store = generate(100 if meetings is None else meetings, random_seed, now)
    faults = Faults(
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        locked_rate=locked_rate,
        rng=random.Random(random_seed),
    )
    state = new_state(store, rate=rate, burst=burst, token=token, faults=faults)
    if not quiet:
        log = structlog.get_logger("bulkpatch.sandbox")
        state.on_request = lambda method, path, status, tracking: log.info(
            "sandbox.request", method=method, path=path, status=status, trackingId=tracking
        )
    anyio.run(_serve, state, host, port, token)
    return EXIT_OK


async def _serve(state: SandboxState, host: str, port: int, token: str | None) -> None:
    """Serve until SIGINT or SIGTERM; running_sandbox refuses any host that is not loopback."""
    async with running_sandbox(state, host, port) as running:
        example = next(iter(state.store.seeds), "<meetingId>")
        click.echo(f"bulkpatch sandbox: {len(state.store)} meetings at {running.api_url}")
        click.echo(f"export WEBEX_ACCESS_TOKEN={token or 'sandbox-token'}")
        click.echo(
            f'try:   curl -H "Authorization: Bearer $WEBEX_ACCESS_TOKEN" {running.api_url}/meetings/{example}'
        )
        click.echo(f"stats: {running.url}/_sandbox/stats   (Ctrl-C stops)")
        sys.stdout.flush()  # a script or test waiting for the URL must see it now
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                break
    click.echo("bulkpatch sandbox: stopped")
