"""The summary a run ends with: for people on the terminal, and as one log event for machines."""

from __future__ import annotations

from typing import Any

from structlog.typing import FilteringBoundLogger

from bulkpatch.cli.common import (
    EXIT_NOT_FINISHED,
    EXIT_OK,
    EXIT_ROWS_FAILED,
    command_path,
    plural,
    say,
    shown_path,
)
from bulkpatch.engine import StopReason
from bulkpatch.journal import NOT_DONE, RARE, STATUSES, RowStatus
from bulkpatch.redact import printable
from bulkpatch.workflows import RunReport

#: What a command that stopped says first, by why it stopped.
HEADLINES = {
    StopReason.FINISHED: "finished",
    StopReason.INTERRUPTED: "stopped: interrupted",
    StopReason.AUTH: "stopped: the access token was refused (401) and could not be refreshed",
    StopReason.FORBIDDEN: "stopped: too many 403 answers in a row",
    StopReason.FAILURES: "stopped: too many failures",
    StopReason.DEADLINE: "stopped: the deadline was reached",
    StopReason.UNREACHABLE: "stopped: the API host does not answer",
    StopReason.REDIRECT: "stopped: the API answered with a redirect (is the base URL right?)",
    StopReason.NOT_FOUND: "stopped: the first rows all answered 404",
    StopReason.RETRY_AFTER: "stopped: the API asked to wait longer than max_retry_after",
    StopReason.IDENTITY: "stopped before sending: the token's organisation could not be read",
}


def exit_code(report: RunReport) -> int:
    """0 every row done, 1 finished with rows failed or invalid, 3 not finished."""
    if not report.finished:
        return EXIT_NOT_FINISHED
    return EXIT_ROWS_FAILED if any(report.totals[s] for s in NOT_DONE) else EXIT_OK


def summarise(
    report: RunReport, log: FilteringBoundLogger | None, command: str = "bulkpatch run"
) -> int:
    """Print the summary; also log it as one ``run.summary`` event when logs are for machines."""
    code = exit_code(report)
    counts, totals, elapsed = report.counts, report.totals, report.elapsed
    rate = counts.done / elapsed if elapsed > 0 else 0.0
    if log is not None:
        log.info(
            "run.summary",
            outcome=report.reason.value,
            exitCode=code,
            elapsedSeconds=round(elapsed, 3),
            rowsPerSecond=round(rate, 2),
            requests=counts.requests,
            retries=counts.retries,
            throttled=counts.throttled,
            waitedSeconds=round(counts.waited, 3),
            journal=str(report.journal),
            **{status.value: totals[status] for status in STATUSES},
            **report.pacing,
        )
    headline = HEADLINES[report.reason]
    if report.reason is StopReason.FAILURES:
        headline += f" ({counts.failed:,} of {plural(counts.done, 'row')} done this run)"
    say(f"\n{command} {headline}")
    if report.detail:
        say(f"  why       {printable(report.detail)}")
    shown = [s for s in STATUSES if s not in RARE or totals[s]]
    rows = sum(totals.values())
    say(f"  rows      {rows:,}: " + ", ".join(f"{totals[s]:,} {s}" for s in shown))
    say(
        f"  this run  {plural(counts.done, 'row')} in {elapsed:.1f} s ({rate:.1f} rows/s), "
        f"{plural(counts.requests, 'request')}, {plural(counts.retries, 'retry', 'retries')}, "
        f"{counts.throttled:,} answered 429"
    )
    found = report.pacing.get("rateFound")
    if found:
        say(f"  pace      {pace_line(report.pacing, found)}")
    say(f"  journal   {shown_path(report.journal)}")
    say(f"  next      {_next_step(report, command)}")
    return code


def pace_line(pacing: dict[str, Any], found: float) -> str:
    """The rate, whose 429 found the limit (this run's, another run's on the token, none), and
    the seconds the shared Retry-After held every lane (``heldSeconds``).

    A run beside one the API refused is held by that run's Retry-After without a 429 of its
    own: the limit was met, by the other run. A run that started from a learned rate reached
    nothing by a climb: the line says where its pace came from. A held run alone was held by a
    pause an earlier run was given (read from the journal or the token's state file).
    """
    held = pacing.get("heldSeconds") or 0
    shared = (pacing.get("participants") or 1) > 1
    if pacing.get("throttleEpisodes"):
        return f"{found:g}/s found for the token, {held:g} s held by Retry-After"
    if held and shared:
        return (
            f"{found:g}/s, the limit another run on this token found; "
            f"{held:g} s held by that run's Retry-After"
        )
    learned = pacing.get("rateLearned")
    if learned is not None:
        # Not reached by a climb: the run started there, from what runs before it found.
        held_by = f"{held:g} s held by a Retry-After an earlier run was given" if held else ""
        return f"{found:g}/s, from the {learned:g}/s learned on this token (no 429 this run" + (
            f"; {held_by})" if held_by else ")"
        )
    if held:
        return f"{found:g}/s reached; {held:g} s held by a Retry-After an earlier run was given"
    # Without a 429 there is no limit to speak of, only the pace the climb reached.
    together = " by the runs on this token together" if shared else ""
    return f"{found:g}/s reached{together}, no limit met, 0 s held by Retry-After"


def _next_step(report: RunReport, command: str) -> str:
    """What to run next; never a command that would write onto the job file."""
    journal, totals, job = command_path(report.journal), report.totals, report.job
    if not report.finished:
        if report.reason in (StopReason.FORBIDDEN, StopReason.NOT_FOUND):
            return "fix the token or site, then run the same command again with --retry-failed"
        if report.reason is StopReason.DEADLINE:
            # A deadline given as a full moment has passed now, and is refused as such.
            return "run the same command again to continue, with a --deadline still ahead"
        return "run the same command again to continue"
    if command != "bulkpatch run":  # undo: its rows are no file to fix or flags to run again
        for status in (RowStatus.FAILED, RowStatus.INVALID):
            if totals[status]:
                return f"bulkpatch export {journal} --only {status.value}   (what went wrong)"
    why = f"bulkpatch export {journal} --only failed"
    # The rows go again in this journal, with the later rows of their meetings after them in
    # file order: a file of those rows alone would leave such a meeting at their values.
    fix = f"fix the invalid rows in {shown_path(job)} (bulkpatch validate names them), then "
    if totals[RowStatus.FAILED]:
        again = "the same command again with --retry-failed"
        if totals[RowStatus.INVALID]:
            again = f"{fix}{again} --force"
        return f"{again}   (why each failed: {why})"
    if totals[RowStatus.INVALID]:
        return f"{fix}the same command again with --force"
    return f"bulkpatch export {journal} -o {command_path(job.with_name(f'{job.stem}.results.csv'))}"
