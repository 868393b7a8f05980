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
    common_options,
    exits_cleanly,
    main,
    settings_from,
    text_or_json,
)
from bulkpatch.errors import ConfigError
from bulkpatch.jobfile import DELIMITERS
from bulkpatch.model import Finding, Severity
from bulkpatch.model.site import SiteProfile, SiteProfileError, load_profile, site_findings
from bulkpatch.sidefiles import read_side_file
from bulkpatch.validation import FindingStore, JobSummary, validate_job


def read_profile(_: click.Context, __: click.Parameter, value: Path | None) -> SiteProfile | None:
    """``--site FILE``: the site profile, or a usage error naming the file and the key."""
    if value is None:
        return None
    try:
        return load_profile(read_side_file(value, "site profile"), str(value))
    except (ConfigError, SiteProfileError) as exc:
        raise click.BadParameter(str(exc)) from None


site_option = click.option(
    "--site",
    type=click.Path(path_type=Path, dir_okay=False),
    callback=read_profile,
    help="A site profile (TOML): password rules, tracking codes, session types, admins.",
)


delimiter_option = click.option(
    "--delimiter",
    type=click.Choice(list(DELIMITERS)),
    default=",",
    show_default=True,
    help="What separates a CSV job's cells: , or ; (Excel where the decimal mark is a comma) or tab.",
)


@main.command()
@click.argument("job", type=click.Path(path_type=Path, dir_okay=False))
@site_option
@text_or_json
@delimiter_option
@common_options
@exits_cleanly
def validate(
    job: Path,
    site: SiteProfile | None,
    output_format: str,
    delimiter: str,
    config_path: Path | None,
    log_format: str | None,
    verbose: int,
) -> int:
    """Check every row of JOB against the API's rules, offline; nothing is sent.

    Prints a summary (rows, valid, invalid, warnings, rows per field), then every error and
    warning with its file, line, field, value and rule. Exit 0 when every row is valid
    (warnings allowed), 2 otherwise. With --site, the site profile's rules too (password
    complexity, tracking codes, session types).

    \b
    Example:
      bulkpatch validate jobs/site-migration-lobby.csv
      bulkpatch validate jobs/reschedule-with-timezones.jsonl --format json > report.json
      bulkpatch validate jobs/tracking-codes.csv --site site.toml
      bulkpatch validate jobs/saved-by-excel.csv --delimiter ';'
    """
    settings_from(config_path, log_format, verbose)
    with FindingStore(keep_rows=site is not None) as store:
        summary = validate_job(
            job, datetime.now(UTC), store, delimiter=DELIMITERS[delimiter], workers=None
        )
        if site is not None:
            _apply_site(summary, store, site)
        if output_format == "json":
            render_json(summary, store.findings())
        else:
            render_text(summary, store.findings(), delimiter)
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


def render_text(summary: JobSummary, findings: Iterator[Finding], delimiter: str = ",") -> None:
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


def render_json(summary: JobSummary, findings: Iterator[Finding]) -> None:
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
    # Streamed a thousand findings at a time: a million never sit in memory together.
    click.echo(json.dumps(head, ensure_ascii=False)[:-1] + ', "findings": [', nl=False)
    separator = "\n  "
    while chunk := list(islice(findings, 1000)):
        lines = (json.dumps(_finding_json(finding), ensure_ascii=False) for finding in chunk)
        click.echo(separator + ",\n  ".join(lines), nl=False)
        separator = ",\n  "
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
