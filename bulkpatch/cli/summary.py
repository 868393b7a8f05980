"""The summary a run ends with: for people on the terminal, and as one log event for machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from structlog.typing import FilteringBoundLogger

from bulkpatch.cli.common import EXIT_NOT_FINISHED, EXIT_OK, EXIT_ROWS_FAILED
from bulkpatch.engine import RunCounts, StopReason


def summarise(
    reason: StopReason,
    counts: RunCounts,
    totals: dict[str, int],
    elapsed: float,
    journal: Path,
    log: FilteringBoundLogger | None,
    pacing: dict[str, Any] | None = None,
) -> int:
    """Print the summary; also log it as one ``run.summary`` event when logs are for machines.

    ``pacing`` is the limiter's report (:meth:`bulkpatch.limiter.Pacing.report`): the rate
    found per lane, 429s, throttle episodes and seconds waited.
    """
    finished = reason is StopReason.FINISHED
    unfinished = totals["failed"] + totals["invalid"] + totals["pending"]
    code = (EXIT_ROWS_FAILED if unfinished else EXIT_OK) if finished else EXIT_NOT_FINISHED
    rate = counts.done / elapsed if elapsed > 0 else 0.0
    if log is not None:
        log.info(
            "run.summary",
            outcome=reason.value,
            exitCode=code,
            elapsedSeconds=round(elapsed, 3),
            rowsPerSecond=round(rate, 2),
            requests=counts.requests,
            retries=counts.retries,
            throttled=counts.throttled,
            journal=str(journal),
            **totals,
            **(pacing or {}),
        )
    headline = {
        StopReason.FINISHED: "finished",
        StopReason.INTERRUPTED: "stopped: interrupted",
        StopReason.AUTH: "stopped: the access token was refused (401) and could not be refreshed",
        StopReason.FORBIDDEN: "stopped: too many 403 answers in a row",
        StopReason.FAILURES: f"stopped: too many failures ({counts.failed} of {counts.done} rows done this run)",
        StopReason.DEADLINE: "stopped: the deadline was reached",
    }[reason]
    rows = sum(totals.values())
    click.echo(f"\nbulkpatch run {headline}")
    click.echo(
        f"  rows      {rows}: "
        + ", ".join(
            f"{totals[s]} {s}" for s in ("succeeded", "failed", "invalid", "pending", "skipped")
        )
    )
    click.echo(
        f"  this run  {counts.done} rows in {elapsed:.1f} s ({rate:.1f} rows/s), {counts.requests} requests, {counts.retries} retries, {counts.throttled} answered 429"
    )
    if pacing and pacing["rateFound"]:
        found = ", ".join(f"{rate:g}/s ({lane})" for lane, rate in pacing["rateFound"].items())
        click.echo(f"  pace      {found}, {pacing['waitedSeconds']:g} s waiting out Retry-After")
    click.echo(f"  journal   {journal}")
    if not finished:
        click.echo("  next      run the same command again to continue")
    elif totals["failed"] or totals["invalid"]:
        click.echo(
            f"  next      bulkpatch export {journal} --only failed --as-job -o fix.{_suffix(journal)}   (fix, then run it)"
        )
    else:
        click.echo(f"  next      bulkpatch export {journal} -o results.csv")
    return code


def _suffix(journal: Path) -> str:
    stem = journal.name.removesuffix(".journal")
    return Path(stem).suffix.lstrip(".") or "csv"
