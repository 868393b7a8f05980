"""`bulkpatch pull`: the site's meetings into an editable job file (and a snapshot)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import anyio
import click
import structlog
from structlog.typing import FilteringBoundLogger

from bulkpatch.cli.common import (
    EXIT_NOT_FINISHED,
    EXIT_OK,
    EXIT_ROWS_FAILED,
    command_path,
    common_options,
    exits_cleanly,
    main,
    plural,
    say,
)
from bulkpatch.cli.progress import reading_view
from bulkpatch.cli.remote import (
    RemoteFlags,
    handle_signals,
    read_token,
    remote_options,
    remote_settings,
)
from bulkpatch.clock import SystemClock
from bulkpatch.config import Settings
from bulkpatch.engine import Stopper, StopReason
from bulkpatch.errors import ConfigError
from bulkpatch.jobfile import JobFormat, job_format
from bulkpatch.model.timing import calendar_problem, parse_iso8601
from bulkpatch.redact import printable
from bulkpatch.sidefiles import read_side_file
from bulkpatch.tokens import Credentials
from bulkpatch.workflows import Target
from bulkpatch.workflows.pull import DEFAULT_FIELDS, PullOptions, PullReport, default_range, pull
from bulkpatch.workflows.pulled import Tally


@main.command("pull")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The job file to write (.csv, .jsonl or .ndjson), atomically.",
)
@click.option(
    "--host-email",
    "host_emails",
    multiple=True,
    help="An admin: the meetings of this host (repeat for more).",
)
@click.option(
    "--hosts-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="An admin: the meetings of every host in this file (one email a line, # comments).",
)
@click.option("--all-hosts", is_flag=True, help="An admin: the meetings of everyone (List People).")
@click.option(
    "--from",
    "start",
    help="Meetings from this moment on (ISO 8601; default: now). Always sent.",
)
@click.option("--to", "end", help="Meetings before this moment (default: a year from --from).")
@click.option(
    "--type",
    "kinds",
    type=click.Choice(["series", "occurrences", "both"]),
    default="series",
    show_default=True,
    help="Meeting series, their scheduled occurrences, or both.",
)
@click.option(
    "--scheduled-type",
    type=click.Choice(["meeting", "webinar"]),
    help="Only meetings or webinars (personal room meetings cannot be patched: not listed).",
)
@click.option(
    "--state",
    type=click.Choice(
        ["active", "scheduled", "ready", "lobby", "inProgress", "ended", "missed", "expired"]
    ),
    help="Only meetings in this state.",
)
@click.option(
    "--fields",
    default=",".join(DEFAULT_FIELDS),
    show_default=True,
    help="Columns to pre-fill with current values, comma-separated (dotted for nested fields).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["csv", "jsonl"]),
    help="csv or jsonl [default: from the --output name].",
)
@click.option(
    "--snapshot",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where the full meeting objects go [default: OUTPUT.snapshot.jsonl].",
)
@click.option(
    "--include-secrets",
    is_flag=True,
    help="Allow secret fields (password) in --fields and keep secrets in the snapshot (0600).",
)
@remote_options
@common_options
@exits_cleanly
def pull_command(
    output: Path,
    host_emails: tuple[str, ...],
    hosts_file: Path | None,
    all_hosts: bool,
    start: str | None,
    end: str | None,
    kinds: str,
    scheduled_type: str | None,
    state: str | None,
    fields: str,
    output_format: str | None,
    snapshot: Path | None,
    include_secrets: bool,
    remote: RemoteFlags,
    config_path: Path | None,
    log_format: str | None,
    verbose: int,
) -> int:
    """List meetings into a job file, ready to edit and run; it changes nothing as written.

    Each row is a meeting: its meetingId, the --fields filled with current values, and #notes
    (title, start, host, type, state). An admin lists other hosts' meetings with --host-email,
    --hosts-file or --all-hosts (the rows then carry hostEmail: the API's way to patch on
    behalf of the host). A snapshot of the full meeting objects goes beside the job:
    `bulkpatch sandbox --seed` takes it, so a trial meets the site's real states. Exit 0 when
    everything was read, 1 when some hosts could not be, 2 on a usage error, 3 when the pull
    was stopped (nothing is written then).

    \b
    Example:
      bulkpatch pull -o lobby.csv --fields unlockedMeetingJoinSecurity,enabledJoinBeforeHost
      bulkpatch pull -o team.jsonl --hosts-file team.txt --type both --from 2027-01-01
    """
    settings, display = remote_settings(
        config_path,
        log_format,
        verbose,
        remote,
    )
    log: FilteringBoundLogger = structlog.get_logger("bulkpatch")
    options = _options(
        output,
        output_format,
        [*host_emails, *(_hosts_in(hosts_file) if hosts_file else [])],
        all_hosts,
        start,
        end,
        kinds,
        scheduled_type,
        state,
        fields,
        snapshot,
        include_secrets,
    )
    credentials = read_token(settings, log)
    report = anyio.run(_execute, options, settings, credentials, display.bar, log)
    return _summarise(report, own=not options.hosts and not options.all_hosts)


def _options(
    output: Path,
    output_format: str | None,
    hosts: list[str],
    all_hosts: bool,
    start: str | None,
    end: str | None,
    kinds: str,
    scheduled_type: str | None,
    state: str | None,
    fields: str,
    snapshot: Path | None,
    include_secrets: bool,
) -> PullOptions:
    fmt = job_format(output)
    if output_format is not None and JobFormat(output_format) is not fmt:
        raise ConfigError(f"--format {output_format} does not match the name {output}")
    if all_hosts and hosts:
        raise click.UsageError("--all-hosts lists every host: leave out --host-email/--hosts-file")
    now = datetime.now(UTC)
    low, high = default_range(now)
    moment_from = _moment(start, "--from") or low
    moment_to = _moment(end, "--to") or (moment_from + (high - low))
    return PullOptions(
        output=output,
        start=moment_from,
        end=moment_to,
        fields=tuple(name.strip() for name in fields.split(",") if name.strip()),
        hosts=_each_once(hosts),
        all_hosts=all_hosts,
        kinds=kinds,  # type: ignore[arg-type]  # click.Choice gave one of the three
        scheduled_type=scheduled_type,
        state=state,
        include_secrets=include_secrets,
        snapshot=snapshot,
    )


def _each_once(emails: list[str]) -> tuple[str, ...]:
    """Each host once, as first spelt: an email names one person whatever its case."""
    unique: dict[str, str] = {}
    for email in emails:
        unique.setdefault(email.lower(), email)
    return tuple(unique.values())


def _moment(text: str | None, flag: str) -> datetime | None:
    """An ISO 8601 date-time (UTC when it has no offset) or a date (its midnight, UTC)."""
    if text is None:
        return None
    moment = parse_iso8601(text) or parse_iso8601(f"{text.strip()}T00:00")
    if moment is None:
        why = calendar_problem(text, needs_time=False)
        raise click.BadParameter(
            f"{text!r} has the right format, but {why}"
            if why
            else f"expected an ISO 8601 date or date-time, not {text!r}",
            param_hint=flag,
        )
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _hosts_in(path: Path) -> list[str]:
    emails = []
    for line in read_side_file(path, "hosts file").splitlines():
        email = line.split("#", 1)[0].strip()
        if email:
            if "@" not in email:
                raise ConfigError(f"{path}: {email!r} is not an email address")
            emails.append(email)
    return emails


async def _execute(
    options: PullOptions,
    settings: Settings,
    credentials: Credentials,
    bar: bool,
    log: FilteringBoundLogger,
) -> PullReport:
    stopper = Stopper()
    with reading_view(bar, log, SystemClock(), "Pulling") as view:
        async with anyio.create_task_group() as group:
            group.start_soon(handle_signals, stopper, log)
            group.start_soon(view.tick)
            report = await pull(
                options,
                settings,
                credentials,
                Target.api(settings.base_url),
                log=log,
                stopper=stopper,
                on_progress=lambda p: view.update(p.hosts_done, p.hosts, p.meetings),
            )
            group.cancel_scope.cancel()
    return report


def _summarise(report: PullReport, *, own: bool) -> int:
    """The summary; ``own`` when the token's own meetings were listed (no host option)."""
    counts, tally = report.counts, report.tally
    hosts = f" from the listings of {report.hosts:,} people" if report.hosts > 1 else ""
    if report.reason is not StopReason.FINISHED:
        say(f"\nbulkpatch pull stopped ({report.reason.value}): nothing was written")
        if report.detail:
            say(f"  why       {printable(report.detail)}")
        if report.reason is StopReason.REDIRECT:
            say("  next      check --base-url: the server points elsewhere, which is not followed")
        else:
            say("  next      fix that, then run the same command again")
        return EXIT_NOT_FINISHED
    others = f" and {plural(tally.not_meetings, 'other item')}" if tally.not_meetings else ""
    say(
        f"\nPulled {plural(tally.listed - tally.not_meetings, 'meeting')}{others}{hosts} in "
        f"{report.elapsed:.1f} s ({plural(counts.requests, 'request')}, "
        f"{counts.throttled:,} answered 429)"
    )
    if report.written:
        job = (
            f"{report.output}: {plural(tally.rows, 'row')}"
            if tally.rows
            else "not written: every meeting listed was left out (below)"
        )
        say(f"  job       {job}")
    _left_out(tally)
    if report.written:
        if report.formula_cells:
            say(
                f"  warning   {plural(report.formula_cells, 'cell')} start with =, +, - or @: a "
                "spreadsheet may run them as formulas; open the file as text or keep those cells "
                "as text"
            )
        say(
            f"  snapshot  {report.snapshot}: {plural(tally.meetings, 'meeting')} "
            "(bulkpatch sandbox --seed takes it)"
        )
    elif report.failed_hosts:
        say(f"  nothing written: {_failed_listings(report)}")
    elif tally.listed:
        say("  nothing to write: no item listed was a meeting")
    elif own:  # an admin's token has few meetings of its own: the others' are a flag away
        say(
            "  nothing to write: the token's own meetings are none in that range (an admin "
            "lists other hosts' with --all-hosts or --host-email)"
        )
    else:
        say("  nothing to write: no meeting in that range")
    for host, error in report.failed_hosts:
        say(printable(f"  failed    {host}: {error}"))
    if tally.rows and report.written:
        say(
            f"  next      edit {report.output}, then: bulkpatch validate {command_path(report.output)}"
        )
    elif report.failed_hosts:
        say("  next      fix that, then run the same command again")
    return EXIT_ROWS_FAILED if report.failed_hosts else EXIT_OK


def _left_out(tally: Tally) -> None:
    """Every listed item that is no row of the job, counted by reason."""
    if not tally.left_out:
        return
    say(f"  left out  {tally.left_out:,} of the {tally.listed:,} listed:")
    reasons = (
        (
            tally.repeated,
            "listed again (on another page, or in another host's listing): written once",
        ),
        (tally.no_value, "with no value for --fields"),
        (
            tally.refused,
            "whose values for --fields the offline rules refuse as a change (a start in the "
            "past, for one)",
        ),
        (tally.not_meetings, "not meetings (no id): passed over"),
    )
    for count, reason in reasons:
        if count:
            say(f"              {count:,} {reason}")


def _failed_listings(report: PullReport) -> str:
    """Which listings failed: all of them, or some while the others had no meeting."""
    failed = len(report.failed_hosts)
    if failed >= report.hosts:
        return "the listing failed (below)"
    return (
        f"the listing failed for {failed:,} of {plural(report.hosts, 'host')} (below); "
        "the others had no meeting in that range"
    )
