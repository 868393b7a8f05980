"""The command line: arguments, settings, rendering and exit codes.

The only module that prints or exits. Library errors arrive here as :class:`BulkpatchError`
subclasses and leave as one line on stderr and the exit code SPEC.md gives them; a traceback
is shown only with ``-v``.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, ParamSpec, TypeVar

import click

from bulkpatch import __version__
from bulkpatch.config import Settings, load_settings
from bulkpatch.errors import BulkpatchError, ConfigError, JobFileError
from bulkpatch.log import configure_logging
from bulkpatch.model import Finding, Severity
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
        except (JobFileError, ConfigError) as exc:
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
