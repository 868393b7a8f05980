"""`bulkpatch status` and `bulkpatch export`: read a journal, send nothing."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import click

from bulkpatch.cli.common import (
    EXIT_OK,
    common_options,
    exits_cleanly,
    main,
    settings_from,
    text_or_json,
)
from bulkpatch.errors import ConfigError
from bulkpatch.export import write_as_job, write_results
from bulkpatch.journal import STATUSES, Journal, RunRecord

journal_argument = click.argument("journal", type=click.Path(path_type=Path, dir_okay=False))


@main.command()
@journal_argument
@text_or_json
@common_options
@exits_cleanly
def status(
    journal: Path,
    output_format: str,
    config_path: Path | None,
    log_format: str | None,
    verbose: int,
) -> int:
    """Show a journal: rows by outcome, rate, last errors, and whether the run finished.

    Reads the journal only; works while a run holds it.

    \b
    Example:
      bulkpatch status jobs/site-migration-lobby.csv.journal
      bulkpatch status nightly.journal --format json
    """
    settings_from(config_path, log_format, verbose)
    with Journal.open(journal, lock=False) as opened:
        report = _status_report(opened)
    if output_format == "json":
        click.echo(json.dumps(report, indent=2))
        return EXIT_OK
    counts = report["counts"]
    click.echo(f"{journal}: job {report['job']}")
    click.echo(f"  rows      {report['rows']}: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES))
    last = report["lastRun"]
    if last:
        click.echo(
            f"  last run  #{last['id']} {last['startedAt']} -> {last['endedAt'] or 'still running or killed'}, {last['outcome'] or 'no outcome'}, {last['throttled']} answered 429"
        )
    if report["rowsPerSecond"] is not None:
        click.echo(f"  rate      {report['rowsPerSecond']} rows/s over the runs")
    click.echo(
        f"  finished  {'yes' if report['finished'] else 'no: run the same command again to continue'}"
    )
    for error in report["lastErrors"]:
        click.echo(
            f"  line {error['row']}: {error['meetingId']} {error['status']} HTTP {error['httpStatus']}: {error['error']}"
        )
    return EXIT_OK


def _status_report(journal: Journal) -> dict[str, Any]:
    counts = journal.counts()
    runs = journal.runs()
    last = runs[-1] if runs else None
    return {
        "journal": str(journal.path),
        "job": journal.meta.get("job_path"),
        "rows": sum(counts.values()),
        "counts": counts,
        "finished": bool(last and last.outcome == "finished" and counts["pending"] == 0),
        "rowsPerSecond": _rate(runs, counts),
        "lastRun": _run_json(last) if last else None,
        "runs": len(runs),
        "lastErrors": [
            {
                "row": r.line,
                "meetingId": r.meeting_id,
                "status": r.status,
                "httpStatus": r.http_status,
                "error": r.error,
            }
            for r in journal.last_errors()
        ],
    }


def _run_json(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "startedAt": run.started_at,
        "endedAt": run.ended_at,
        "outcome": run.outcome,
        "throttled": run.throttled,
        "options": run.options,
    }


def _rate(runs: list[RunRecord], counts: dict[str, int]) -> float | None:
    seconds = sum(
        (
            datetime.fromisoformat(run.ended_at) - datetime.fromisoformat(run.started_at)
        ).total_seconds()
        for run in runs
        if run.ended_at
    )
    done = counts["succeeded"] + counts["failed"]
    return round(done / seconds, 2) if seconds > 0 and done else None


@main.command()
@journal_argument
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["csv", "jsonl"]),
    default="csv",
    show_default=True,
    help="Results as CSV or JSON Lines.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write here instead of stdout.",
)
@click.option(
    "--only", type=click.Choice(STATUSES), default=None, help="Only rows with this outcome."
)
@click.option(
    "--as-job",
    is_flag=True,
    help="With --only: write those rows back as a job file, in the input's format.",
)
@common_options
@exits_cleanly
def export(
    journal: Path,
    output_format: str,
    output: Path | None,
    only: str | None,
    as_job: bool,
    config_path: Path | None,
    log_format: str | None,
    verbose: int,
) -> int:
    """Write per-row outcomes of a journal, in job-file order.

    Columns: row, meetingId, status, httpStatus, attempts, trackingId, error, finishedAt.
    Cells a spreadsheet would run as a formula are neutralised. --only failed --as-job writes
    the failed rows back as a job file, ready to fix and run again.

    \b
    Example:
      bulkpatch export jobs/site-migration-lobby.csv.journal -o results.csv
      bulkpatch export nightly.journal --only failed --as-job -o fix.csv
    """
    settings_from(config_path, log_format, verbose)
    if as_job and only is None:
        raise ConfigError("--as-job needs --only STATUS (for example --only failed)")
    with Journal.open(journal, lock=False) as opened, ExitStack() as stack:
        out: TextIO = (
            stack.enter_context(output.open("w", encoding="utf-8", newline=""))
            if output
            else sys.stdout
        )
        if only is not None and as_job:
            count, fmt = write_as_job(opened, only, out)
            click.echo(
                f"{count} {only} rows written as a {fmt.upper()} job{f' to {output}' if output else ''}",
                err=True,
            )
        else:
            count = write_results(opened.rows(only=only), out, output_format)
            click.echo(f"{count} rows exported{f' to {output}' if output else ''}", err=True)
    return EXIT_OK
