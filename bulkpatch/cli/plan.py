"""`bulkpatch plan`: what a run would change, field by field, before anything is changed."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import click
import structlog
from structlog.typing import FilteringBoundLogger

from bulkpatch.cli.common import (
    EXIT_NOT_FINISHED,
    EXIT_OK,
    EXIT_USAGE,
    ErrorReport,
    ReportsInJson,
    command_path,
    common_options,
    exits_cleanly,
    file_path,
    json_errors,
    main,
    plural,
    say,
    text_or_json,
)
from bulkpatch.cli.remote import (
    RemoteFlags,
    handle_signals,
    read_token,
    remote_options,
    remote_settings,
)
from bulkpatch.cli.summary import HEADLINES
from bulkpatch.cli.validate import delimiter_option, render_json, render_text, run_hint
from bulkpatch.config import Settings
from bulkpatch.engine import Stopper, StopReason
from bulkpatch.jobfile import DELIMITERS
from bulkpatch.model import MASK, is_secret, show_value
from bulkpatch.model.diff import ABSENT, FieldChange
from bulkpatch.redact import printable
from bulkpatch.tokens import Credentials
from bulkpatch.workflows import PreparedJob, RunOptions, Target, prepare_job
from bulkpatch.workflows.plan import CLASSES, PlanReport, RowPlan, plan_job
from bulkpatch.workflows.run import journal_path_for


def _usage_error_json(message: str) -> None:
    """plan's JSON document of a command line click refused: no row, ``error`` says why."""
    _Json().fail({"error": message}, click.UsageError(message))


@main.command("plan", cls=ReportsInJson, usage_error_json=_usage_error_json)
@click.argument("job", type=file_path())
@click.option(
    "--journal",
    "journal_path",
    type=file_path(),
    help="Journal the before-values go to (default: the one `run` uses, JOB.journal).",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Plan the rows that failed too, and the done rows a retry sends again after them.",
)
@click.option("--force", is_flag=True, help="Plan although the job file changed since its journal.")
@click.option("--all", "show_all", is_flag=True, help="List unchanged rows too.")
@text_or_json
@delimiter_option
@remote_options
@common_options
@exits_cleanly
def plan_command(
    job: Path,
    journal_path: Path | None,
    retry_failed: bool,
    force: bool,
    show_all: bool,
    output_format: str,
    delimiter: str,
    remote: RemoteFlags,
    config_path: Path | None,
    log_format: str | None,
    verbose: int,
) -> int:
    """Read each row's meeting and show what a run would change: current -> new, per field.

    Rows are classed change, unchanged (a run reads them again, then skips them), gone (404) or
    refused (the API would refuse: an instance, an ended or ad-hoc meeting, a value its type
    does not take). Nothing is changed; the before-values go into the job's journal, so a run
    right after sends the changes without reading those meetings again. Exit 0 when planned,
    2 when the job is invalid, 3 when stopped. With --format json, every outcome is one JSON
    document with an "error" key (null when planned; a job that cannot be used, an invalid
    job, a journal of another job... say what is wrong there).

    \b
    Example:
      bulkpatch plan lobby.csv
      bulkpatch plan lobby.csv --format json > plan.json
    """
    with json_errors(output_format, job=str(job), journal=None) as failed:
        json_plan = _Json() if output_format == "json" else None
        if json_plan is not None:
            failed.write = json_plan.fail
        settings, _ = remote_settings(config_path, log_format, verbose, remote)
        log: FilteringBoundLogger = structlog.get_logger("bulkpatch")
        options = RunOptions(journal=journal_path, retry_failed=retry_failed, force=force)
        target = Target.api(settings.base_url)
        failed.known["journal"] = str(journal_path_for(job, options, target))
        with prepare_job(job, datetime.now(UTC), delimiter=DELIMITERS[delimiter]) as prepared:
            if not prepared.summary.ok:
                _invalid(prepared, output_format, failed)
                return EXIT_USAGE
            credentials = read_token(settings, log)
            render = json_plan or _Text(
                show_all,
                _run_command(
                    job, delimiter, journal_path, retry_failed, force, remote, config_path
                ),
            )
            report = anyio.run(
                _execute, prepared, options, settings, credentials, target, render, log
            )
        render.close(report)
    return EXIT_OK if report.reason is StopReason.FINISHED else EXIT_NOT_FINISHED


def _invalid(prepared: PreparedJob, output_format: str, failed: ErrorReport) -> None:
    """An invalid job: validate's report (its JSON one under --format json), nothing read."""
    summary = prepared.summary
    if output_format == "json":
        why = (
            f"{summary.invalid:,} of {plural(summary.rows, 'row')} "
            f"{'has' if summary.invalid == 1 else 'have'} errors: nothing was read; "
            "fix the job first (bulkpatch validate lists them)"
        )
        render_json(summary, prepared.store.findings(), error=why, failed=failed)
    else:
        render_text(summary, prepared.store.findings())
    click.echo("Nothing was read: fix the job first.", err=True)


async def _execute(
    job: PreparedJob,
    options: RunOptions,
    settings: Settings,
    credentials: Credentials,
    target: Target,
    render: _Text | _Json,
    log: FilteringBoundLogger,
) -> PlanReport:
    stopper = Stopper()
    async with anyio.create_task_group() as group:
        group.start_soon(handle_signals, stopper, log)
        report = await plan_job(
            job,
            options,
            settings,
            credentials,
            target,
            log=log,
            stopper=stopper,
            on_row=render.row,
        )
        group.cancel_scope.cancel()
    return report


def _run_command(
    job: Path,
    delimiter: str,
    journal: Path | None,
    retry_failed: bool,
    force: bool,
    remote: RemoteFlags,
    config: Path | None,
) -> str:
    """The run that sends what this plan shows: the job, and every option the plan was given
    that the run shares (its journal, target, token, settings file, ceiling, --force)."""
    given: list[tuple[str, object]] = [
        ("--journal", journal),
        ("--config", config),
        ("--base-url", remote.base_url),
        ("--token-file", remote.token_file),
        ("--max-rate", remote.max_rate),
        ("--concurrency", remote.concurrency),
    ]
    options = "".join(f" {flag} {_shell_word(value)}" for flag, value in given if value)
    flags = " --retry-failed" * retry_failed + " --force" * force
    return f"{run_hint(str(job), delimiter)}{options}{flags}"


def _shell_word(value: object) -> str:
    """An option's value as the shell reads it back: a path as the summaries write one, a
    number as it was typed (``--max-rate 1``, not ``1.0``)."""
    if isinstance(value, Path):
        return command_path(value)
    if isinstance(value, float):  # 1.0 as 1; any other as exactly as it was given
        return str(int(value)) if value.is_integer() else repr(value)
    return shlex.quote(str(value))


def _value(path: str, value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    if value is None:
        return "(removed)"
    return show_value(path, value)


def _change_text(change: FieldChange) -> str:
    return (
        f"{change.path}: {_value(change.path, change.current)} -> {_value(change.path, change.new)}"
    )


class _Text:
    """The plan for people: one line per row that does something, then the totals."""

    def __init__(self, show_all: bool, next_run: str) -> None:
        self._show_all = show_all
        self._next_run = next_run

    def row(self, plan: RowPlan) -> None:
        if plan.klass == "unchanged" and not self._show_all:
            return
        what = "; ".join(_change_text(change) for change in plan.changes)
        detail = " | ".join(part for part in (what, plan.reason) if part)
        say(printable(f"line {plan.line:<6} {plan.meeting_id:<34} {plan.klass:<9} {detail}"))

    def close(self, report: PlanReport) -> None:
        classes = ", ".join(f"{report.classes[k]:,} {k}" for k in CLASSES if report.classes[k])
        finished = report.reason is StopReason.FINISHED
        nothing = "no row to plan" if finished else "stopped before a row was read"
        say(f"\n{report.job}: {classes or nothing}")
        if report.already_done:
            rows = plural(report.already_done, "row")
            say(f"  done      {rows} the journal already holds as done")
        if report.fields:
            fields = ", ".join(f"{name} {count:,}" for name, count in report.fields.most_common())
            say(f"  fields    {fields}")
        if not finished:  # the requests of rows not read yet are not known: no count
            detail = printable(report.detail)
            say(f"  {HEADLINES[report.reason]}{': ' + detail if detail else ''}")
            say("  next      fix that, then plan again (rows read so far keep what they found)")
            return
        say(
            f"  a run     would send {plural(report.patches, 'PATCH request')} and "
            f"{plural(report.reads, 'GET')} ({_reads_text(report)}; the other before-values "
            f"are in {report.journal}){_pace(report)}"
        )
        if report.patches:
            say(f"  next      {self._next_run}")


def _reads_text(report: PlanReport) -> str:
    """Why a run reads what it reads: said plainly, so counting its requests adds up."""
    reasons = ["rows found already set are read again before they are skipped"]
    if report.identity_reads:
        reasons.insert(0, "one is GET /v1/people/me, the token's organisation")
    return "; ".join(reasons)


def _pace(report: PlanReport) -> str:
    """How long those requests take at the rate a run would go at (none without a ceiling)."""
    if report.seconds is None or report.rate is None:
        return ""
    took = "under a second" if report.seconds < 1 else f"about {report.seconds:,.0f} s"
    return f", {took} at {report.rate:g}/s"


#: The keys of the plan's JSON document after its rows, in order.
_TAIL = (
    "job",
    "journal",
    "outcome",
    "classes",
    "fields",
    "alreadyDone",
    "patches",
    "reads",
    "rate",
    "seconds",
    "requests",
    "error",
)


class _Json:
    """The plan for scripts: one JSON document, rows streamed as they come.

    Nothing is printed before the first row, so an error before it is the whole document;
    an error after it closes the document the rows began.
    """

    def __init__(self) -> None:
        self._count = 0

    def row(self, plan: RowPlan) -> None:
        record = {
            "line": plan.line,
            "meetingId": plan.meeting_id,
            "class": plan.klass,
            "reason": plan.reason or None,
            "changes": [
                {
                    "field": change.path,
                    "current": _json_value(change.path, change.current),
                    "new": _json_value(change.path, change.new),
                }
                for change in plan.changes
            ],
        }
        line = json.dumps(record, ensure_ascii=False)
        say(("," if self._count else '{"rows": [') + "\n  " + line, nl=False)
        self._count += 1

    def close(self, report: PlanReport) -> None:
        tail = {
            "job": str(report.job),
            "journal": str(report.journal),
            "outcome": report.reason.value,
            "classes": {klass: report.classes[klass] for klass in CLASSES},
            "fields": dict(report.fields.most_common()),
            "alreadyDone": report.already_done,
            "patches": report.patches,
            "reads": report.reads,
            "rate": report.rate,
            "seconds": report.seconds,
            "requests": report.counts.requests,
            "error": _stop_error(report),
        }
        self._end(tail)

    def fail(self, known: dict[str, Any], _: BaseException) -> None:
        """The document of a plan an error ended: what is known, the rest null, ``error``."""
        self._end(dict.fromkeys(_TAIL) | known)

    def _end(self, tail: dict[str, Any]) -> None:
        start = "" if self._count else '{"rows": ['
        say(start + "\n]," + json.dumps(tail, ensure_ascii=False)[1:])  # the one line end


def _stop_error(report: PlanReport) -> str | None:
    """A plan's ``error``: None when it went through every row, else why it stopped."""
    if report.reason is StopReason.FINISHED:
        return None
    stopped = f"stopped ({report.reason.value})"
    return f"{stopped}: {report.detail}" if report.detail else stopped


def _json_value(path: str, value: Any) -> Any:
    if value is ABSENT:
        return {"absent": True}
    return MASK if is_secret(path) else value
