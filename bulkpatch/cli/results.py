"""`bulkpatch status` and `bulkpatch export`: read a journal, send nothing, change nothing."""

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
    ReportsInJson,
    common_options,
    exits_cleanly,
    file_path,
    json_errors,
    main,
    plural,
    settings_from,
    text_or_json,
)
from bulkpatch.errors import ConfigError, JournalError
from bulkpatch.export import (
    atomic_output,
    check_as_job_output,
    protected_paths,
    write_as_job,
    write_results,
)
from bulkpatch.journal import RARE, STATUSES, Journal, RowStatus, RunRecord, default_journal_path
from bulkpatch.journal.files import looks_like_sqlite, not_a_file
from bulkpatch.redact import printable

journal_argument = click.argument("journal", type=file_path())
_JOB_SUFFIXES = (".csv", ".jsonl", ".ndjson")


def open_journal(path: Path) -> Journal:
    """A journal, read-only, given its own path or its job file's path."""
    return Journal.open_read_only(_journal_path(path))


def _journal_path(path: Path) -> Path:
    """JOURNAL as given, or the journal of a job file (the real run's, else the sandbox's)."""
    if path.suffix.lower() not in _JOB_SUFFIXES or (path.is_file() and looks_like_sqlite(path)):
        return path
    candidates = (default_journal_path(path), default_journal_path(path, sandbox=True))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    for candidate in candidates:
        there = not_a_file(candidate)
        if there != "nothing":  # something stands there that is no journal: say what
            raise JournalError(
                f"{path} is a job file, and its journal path {candidate} holds no journal: "
                f"it is {there}; move that aside, or name the journal to read"
            )
    given = not_a_file(path)
    if given not in (None, "nothing"):  # not a job file either: say what it is
        raise JournalError(f"{path} is {given}, not a journal or a job file")
    raise JournalError(
        f"{path} is a job file, and neither {default_journal_path(path)} nor "
        f"{default_journal_path(path, sandbox=True)} exists: has it been run yet?"
    )


def _usage_error_json(message: str) -> None:
    """status's JSON document of a command line click refused: no journal read, ``error``."""
    click.echo(json.dumps(_UNKNOWN | {"error": message}, indent=2))


@main.command(cls=ReportsInJson, usage_error_json=_usage_error_json)
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

    JOURNAL is the journal, or the job file it was made for. Reads only, changes nothing;
    works while a run holds the journal. With --format json, a journal that cannot be read
    is a JSON document too: its "error" says why (null otherwise), exit 2.

    \b
    Example:
      bulkpatch status jobs/site-migration-lobby.csv
      bulkpatch status jobs/site-migration-lobby.csv.sandbox.journal --format json
    """
    with json_errors(output_format, journal=str(journal)) as failed:
        failed.write = lambda known, _: click.echo(json.dumps(_UNKNOWN | known, indent=2))
        settings_from(config_path, log_format, verbose)
        with open_journal(journal) as opened:
            report = _status_report(opened)
    if output_format == "json":
        click.echo(json.dumps(report, indent=2))
        return EXIT_OK
    counts = report["counts"]
    click.echo(f"{report['journal']}: job {report['job']}")
    click.echo(f"  target    {report['target'] or 'not bound yet'}")
    shown = [s for s in STATUSES if s not in RARE or counts[s]]
    click.echo(f"  rows      {report['rows']:,}: " + ", ".join(f"{counts[s]:,} {s}" for s in shown))
    if report["retired"]:
        retired = plural(report["retired"], "done row")
        click.echo(f"  retired   {retired} no longer in the job (kept for undo)")
    last = report["lastRun"]
    if last:
        ended = last["endedAt"] or (
            "still running" if report["heldBy"] else "killed before it could end"
        )
        click.echo(
            f"  last run  #{last['id']} {last['startedAt']} -> {ended}, "
            f"{last['outcome'] or 'no outcome'}, {last['throttled']:,} answered 429"
        )
    if report["heldBy"]:
        click.echo(f"  held by   {report['heldBy']}")
    if report["rowsPerSecond"] is not None:
        click.echo(f"  rate      {report['rowsPerSecond']} rows/s while runs were sending")
    if report["finished"]:
        click.echo("  finished  yes")
    elif report["heldBy"]:  # the command again would be refused while it holds the journal
        click.echo("  finished  no: a run or an undo holds the journal now (held by, above)")
    else:
        click.echo("  finished  no: run the same command again to continue")
    for error in report["lastErrors"]:
        http = f"HTTP {error['httpStatus']}: " if error["httpStatus"] is not None else ""
        click.echo(
            printable(
                f"  line {error['row']}: {error['meetingId']} {error['status']} {http}{error['error']}"
            )
        )
    return EXIT_OK


def _status_report(journal: Journal) -> dict[str, Any]:
    counts = journal.counts()
    runs = journal.runs()
    last = runs[-1] if runs else None
    meta = journal.meta
    job_rows = int(meta.get("job_rows", 0)) or sum(counts.values())
    return {
        "journal": str(journal.path),
        "job": meta.get("job_path"),
        "target": meta.get("target"),
        "rows": job_rows,
        "counts": {str(status): count for status, count in counts.items()},
        "retired": journal.retired_count(),
        "finished": bool(last and last.outcome == "finished" and counts[RowStatus.PENDING] == 0),
        "rowsPerSecond": _rate(journal, runs),
        "heldBy": journal.holder(),
        "lastRun": _run_json(last) if last else None,
        "runs": len(runs),
        "lastErrors": [
            {
                "row": r.line,
                "meetingId": r.meeting_id,
                "status": str(r.status),
                "httpStatus": r.http_status,
                "error": r.error,
            }
            for r in journal.last_errors()
        ],
        "error": None,
    }


#: The status document of a journal that could not be read: every key, nothing known.
_UNKNOWN: dict[str, Any] = dict.fromkeys(
    (
        "journal",
        "job",
        "target",
        "rows",
        "counts",
        "retired",
        "finished",
        "rowsPerSecond",
        "heldBy",
        "lastRun",
        "runs",
        "lastErrors",
        "error",
    )
)


def _run_json(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "startedAt": run.started_at,
        "endedAt": run.ended_at,
        "outcome": run.outcome,
        "throttled": run.throttled,
        "options": run.options,
    }


def _rate(journal: Journal, runs: list[RunRecord]) -> float | None:
    """Rows per second while sending, from the rows' own times: a killed run counts as long as
    its rows show it went on, not zero seconds (which inflated the rate)."""
    rows, seconds = 0, 0.0
    for run in runs:
        count, last = journal.finished_between(run.started_at, run.ended_at)
        end = run.ended_at or last
        if not count or end is None:
            continue
        rows += count
        seconds += (_moment(end) - _moment(run.started_at)).total_seconds()
    return round(rows / seconds, 2) if seconds > 0 else None


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@main.command()
@journal_argument
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["csv", "jsonl"]),
    default=None,
    help="Results as CSV (the default) or JSON Lines; --as-job writes the job's own format.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write here (atomically) instead of stdout; never onto the job or the journal.",
)
@click.option(
    "--only",
    type=click.Choice([s.value for s in STATUSES]),
    default=None,
    help="Only rows with this outcome.",
)
@click.option(
    "--as-job",
    is_flag=True,
    help="With --only and -o: write those rows back as a job file, in the input's format.",
)
@common_options
@exits_cleanly
def export(
    journal: Path,
    output_format: str | None,
    output: Path | None,
    only: str | None,
    as_job: bool,
    config_path: Path | None,
    log_format: str | None,
    verbose: int,
) -> int:
    """Write per-row outcomes of a journal, in job-file order, every row of the job included.

    Columns: row, meetingId, status, httpStatus, attempts, trackingId, error, finishedAt.
    Cells a spreadsheet would run as a formula are neutralised; on a terminal, control
    characters from the server are shown escaped. --only failed --as-job -o FILE writes the
    failed rows back as a job file in the job's own format (an -o name or --format of the
    other one is refused). Run on its own, that file skips the later rows of the same
    meetings: to send failed rows again in file order, run the job with --retry-failed.
    JOURNAL may also be the job file it was made for.

    \b
    Example:
      bulkpatch export jobs/site-migration-lobby.csv.journal -o results.csv
      bulkpatch export nightly.journal --only failed --as-job -o nightly.failed.csv
    """
    settings_from(config_path, log_format, verbose)
    if as_job and only is None:
        raise ConfigError("--as-job needs --only STATUS (for example --only failed)")
    if output == Path("-"):
        output = None  # the usual spelling of standard output, never a file named "-"
    if as_job and output is None:
        raise click.UsageError(
            "--as-job needs -o FILE: the job's rows hold their passwords as written, and the "
            "console never shows those (the file is written owner-only)"
        )
    status_wanted = RowStatus(only) if only is not None else None
    with open_journal(journal) as opened, ExitStack() as stack:
        out: TextIO = sys.stdout
        if output is not None:
            if as_job:
                check_as_job_output(opened, output, output_format)
            protected = protected_paths(opened)
            out = stack.enter_context(atomic_output(output, protected, private=as_job))
        if status_wanted is not None and as_job:
            count, fmt = write_as_job(opened, status_wanted, out)
            done = f"{plural(count, f'{only} row')} written as a {fmt.upper()} job"
        else:
            terminal = output is None and sys.stdout.isatty()
            rows = opened.rows(only=status_wanted)
            count = write_results(rows, out, output_format or "csv", terminal=terminal)
            done = f"{plural(count, 'row')} exported"
    # Said only now: the file is in place once the block above has ended without an error.
    # An empty job is still written: a file left by an earlier export must not be run again.
    empty = ": its header only, there is nothing to run" if as_job and not count else ""
    click.echo(f"{done}{f' to {output}' if output else ''}{empty}", err=True)
    return EXIT_OK
