"""`bulkpatch validate`: check a job file offline and print what is wrong."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import click

from bulkpatch.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    ErrorReport,
    ReportsInJson,
    common_options,
    exits_cleanly,
    file_path,
    json_errors,
    main,
    plural,
    reader_may_leave,
    settings_from,
    text_or_json,
)
from bulkpatch.errors import ConfigError, JobFileError
from bulkpatch.jobfile import DELIMITERS, job_format
from bulkpatch.model import Finding, Severity
from bulkpatch.model.site import SiteProfile, SiteProfileError, load_profile, site_findings
from bulkpatch.sidefiles import read_side_file
from bulkpatch.validation import FindingStore, JobSummary, validate_job


def load_site(path: Path) -> SiteProfile:
    """The site profile at ``path``, or a ConfigError naming the file and the key."""
    try:
        return load_profile(read_side_file(path, "site profile"), str(path))
    except SiteProfileError as exc:
        raise ConfigError(str(exc)) from None


def read_profile(_: click.Context, __: click.Parameter, value: Path | None) -> SiteProfile | None:
    """``--site FILE``: the site profile, or a usage error naming the file and the key."""
    if value is None:
        return None
    try:
        return load_site(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None


_SITE_HELP = "A site profile (TOML): password rules, tracking codes, session types, admins."
site_option = click.option(
    "--site",
    type=click.Path(path_type=Path, dir_okay=False),
    callback=read_profile,
    help=_SITE_HELP,
)


delimiter_option = click.option(
    "--delimiter",
    type=click.Choice(list(DELIMITERS)),
    default=",",
    show_default=True,
    help="What separates a CSV job's cells: , or ; (Excel where the decimal mark is a comma) or tab.",
)


def _usage_error_json(message: str) -> None:
    """validate's JSON report of a command line click refused: no job read, ``error`` says why."""
    render_json_error(None, message, None, errors_only=False)


@main.command(cls=ReportsInJson, usage_error_json=_usage_error_json)
@click.argument("job", type=file_path())
@click.option("--site", "site_path", type=file_path(), help=_SITE_HELP)  # read in the command
@text_or_json
@click.option(
    "--errors-only",
    is_flag=True,
    help="List the errors alone; warnings are still counted in the summary.",
)
@delimiter_option
@common_options
@exits_cleanly
def validate(
    job: Path,
    site_path: Path | None,
    output_format: str,
    errors_only: bool,
    delimiter: str,
    config_path: Path | None,
    log_format: str | None,
    verbose: int,
) -> int:
    """Check every row of JOB against the API's rules, offline; nothing is sent.

    Prints a summary (rows, valid, invalid, warnings, rows per field), then every error and
    warning with its file, line, field, value and rule; with --errors-only, the errors alone
    (the summary still counts the warnings, and says they were left out). Exit 0 when every
    row is valid (warnings allowed), 2 otherwise, also when a reader such as `head` stops
    early. With --site, the site profile's rules too (password complexity, tracking codes,
    session types). With --format json, a job file that cannot be read at all (missing,
    unreadable, a folder) is a JSON report too, and so is a --config or --site that cannot be
    read: its "error" names what is wrong, exit 2.

    \b
    Example:
      bulkpatch validate jobs/site-migration-lobby.csv
      bulkpatch validate big-job.csv --errors-only
      bulkpatch validate jobs/reschedule-with-timezones.jsonl --format json > report.json
      bulkpatch validate jobs/tracking-codes.csv --site site.toml
      bulkpatch validate jobs/saved-by-excel.csv --delimiter ';'
    """
    with json_errors(output_format) as failed:
        failed.write = lambda report, error: render_json_error(
            job, report["error"], error if isinstance(error, JobFileError) else None, errors_only
        )
        settings_from(config_path, log_format, verbose)
        site = load_site(site_path) if site_path is not None else None
        only = Severity.ERROR if errors_only else None
        with FindingStore(keep_rows=site is not None) as store:
            summary = validate_job(
                job, datetime.now(UTC), store, delimiter=DELIMITERS[delimiter], workers=None
            )
            if site is not None:
                _apply_site(summary, store, site)
            with reader_may_leave():
                if output_format == "json":
                    render_json(summary, store.findings(only=only), errors_only, failed=failed)
                else:
                    render_text(summary, store.findings(only=only), delimiter, errors_only)
    return EXIT_OK if summary.ok else EXIT_USAGE


def _apply_site(summary: JobSummary, store: FindingStore, site: SiteProfile) -> None:
    """The site profile's findings for every valid row, counted into the summary.

    (Once validation.validate_job takes the profile, this loop belongs there.)
    """
    for row in list(store.kept_rows()):
        if row.body is None:
            continue  # an invalid row: its API errors come first
        found = site_findings(row.line, row.meeting_id, row.body, site)
        for finding in found:
            store.add(finding)
            summary.rules[f"{finding.severity}:{finding.rule}"] += 1
            summary.warnings += finding.severity is Severity.WARNING
        if any(finding.severity is Severity.ERROR for finding in found):
            summary.valid -= 1
            summary.invalid += 1


def run_hint(job: str, delimiter: str) -> str:
    """The command that runs a job, with the ``--delimiter`` (by name) it was read with."""
    option = "" if delimiter == "," else f" --delimiter {shlex.quote(delimiter)}"
    return f"bulkpatch run {shlex.quote(job)}{option}"


def render_text(
    summary: JobSummary,
    findings: Iterator[Finding],
    delimiter: str = ",",
    errors_only: bool = False,
) -> None:
    """The summary, then ``findings`` (only the errors when ``errors_only``), then the verdict."""
    echo = click.echo
    left_out = " (left out by --errors-only)" if errors_only and summary.warnings else ""
    echo(
        f"{summary.path} ({summary.format.upper()}): {plural(summary.rows, 'row')}, "
        f"{summary.valid:,} valid, {summary.invalid:,} invalid, "
        f"{plural(summary.warnings, 'warning')}{left_out}"
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
        _echo_findings(findings, summary.path)
    echo("")
    if summary.ok:
        echo(
            click.style("OK", fg="green")
            + f": every row is valid. Next: {run_hint(summary.path, delimiter)}"
        )
    else:
        echo(
            click.style("INVALID", fg="red")
            + f": {summary.invalid} of {summary.rows} rows have errors. Fix them and validate "
            "again, or run with --skip-invalid to send only the valid rows."
        )


def _echo_findings(findings: Iterator[Finding], path: str) -> None:
    """One line a finding, written a thousand at a time: a million findings print in seconds."""
    colours = {Severity.ERROR: "red", Severity.WARNING: "yellow"}
    while chunk := list(islice(findings, 1000)):
        lines = (click.style(f.describe(path), fg=colours[f.severity]) for f in chunk)
        click.echo("\n".join(lines))


def render_json(
    summary: JobSummary,
    findings: Iterator[Finding],
    errors_only: bool = False,
    error: str | None = None,
    failed: ErrorReport | None = None,
) -> None:
    """One JSON document: the summary, then ``findings`` (only the errors when ``errors_only``).

    ``error`` says why a command that validated the job went no further (``plan``: nothing
    was read); validate itself leaves it null, as the findings say what is wrong. It comes
    last, so that an error while the findings stream out (Ctrl-C) closes this document with
    it, through ``failed``, rather than print a second one after half of this one.
    """
    head: dict[str, Any] = {
        "file": summary.path,
        "format": summary.format.value,
        "rows": summary.rows,
        "valid": summary.valid,
        "invalid": summary.invalid,
        "warnings": summary.warnings,
        "fields": dict(summary.fields.most_common()),
        "rules": dict(summary.rules.most_common()),
        "errorsOnly": errors_only,
        "warningsOmitted": summary.warnings if errors_only else 0,
    }
    # Streamed a thousand findings at a time: a million never sit in memory together.
    click.echo(json.dumps(head, ensure_ascii=False)[:-1] + ', "findings": [', nl=False)
    if failed is not None:
        failed.write = lambda report, _: _close_findings(report["error"])
    separator = "\n  "
    while chunk := list(islice(findings, 1000)):
        lines = (json.dumps(_finding_json(finding), ensure_ascii=False) for finding in chunk)
        click.echo(separator + ",\n  ".join(lines), nl=False)
        separator = ",\n  "
    _close_findings(error)
    if failed is not None:  # closed: an error from here on goes to stderr alone
        failed.write = lambda report, _: None


def _close_findings(error: str | None) -> None:
    """End the findings and the document: ``], "error": ...}``."""
    click.echo("\n], " + json.dumps({"error": error}, ensure_ascii=False)[1:])


def render_json_error(
    job: Path | None, message: str, error: JobFileError | None, errors_only: bool
) -> None:
    """The JSON report of a job that could not be validated: the report's keys, no counts.

    A script reads every outcome the same way: ``error`` says what is wrong (``message``, the
    line stderr gets too), and when it is the job file, the one finding places it (line,
    field, rule) as a row's error would be placed.
    """
    try:
        fmt: str | None = job_format(job).value if job is not None else None
    except JobFileError:
        fmt = None  # the name itself is what is wrong
    findings = []
    if error is not None:
        finding = Finding(Severity.ERROR, error.line, error.field, error.rule, error.message)
        # line null: the file as a whole (it could not be opened, or its name is wrong)
        findings.append(_finding_json(finding) | {"line": error.line or None})
    report = {
        "file": str(job) if job is not None else None,
        "format": fmt,
        "rows": None,
        "valid": None,
        "invalid": None,
        "warnings": None,
        "fields": {},
        "rules": {f"error:{found['rule']}": 1 for found in findings},
        "errorsOnly": errors_only,
        "warningsOmitted": 0,
        "error": message,
        "findings": findings,
    }
    click.echo(json.dumps(report, ensure_ascii=False))


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
