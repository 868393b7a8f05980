"""``pull``: the site's meetings into an editable job file, and a snapshot of them.

Lists meetings with List Meetings (``GET /v1/meetings``), host by host for an admin, every page,
through the one request pipeline (the read lane). Each meeting becomes a row: its id, the
chosen fields filled with their current values, and ``#`` notes for context. Run unchanged, the
file is a valid job that changes nothing: a current value the offline rules would refuse as a
change (a series that started in the past, say, for ``start``) is left empty, and a meeting with
nothing left is left out (and counted). A snapshot of the full meeting objects (JSON Lines,
what ``bulkpatch sandbox --seed`` reads) is written beside it. Both files are written
atomically: an interrupted pull leaves no half file.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import anyio
from structlog.typing import FilteringBoundLogger

from bulkpatch.config import Settings
from bulkpatch.engine import Pipeline, RunCounts, Stopper, StopReason
from bulkpatch.errors import ConfigError
from bulkpatch.export import atomic_output, check_output, neutralise, runs_as_formula
from bulkpatch.jobfile import JobFormat
from bulkpatch.jobwriter import OutRow, flatten, from_line, nest, value_at, write_rows
from bulkpatch.model import FIELDS, SECRET_FIELDS, JobRow, Severity, check_row, mask_secrets
from bulkpatch.tokens import Credentials
from bulkpatch.workflows.listing import MEETINGS_PAGE, Listing, ListingFailed, pages, people_emails
from bulkpatch.workflows.session import Target, open_session

Kinds = Literal["series", "occurrences", "both"]
#: The notes every pulled row carries, in this order.
NOTES = ("title", "start", "host", "meetingType", "state")
#: Fields of a meeting object that are secrets: masked in the snapshot unless asked for.
SNAPSHOT_SECRETS = frozenset(
    {
        *SECRET_FIELDS,
        "phoneAndVideoSystemPassword",
        "phoneAndVideoSystemPanelistPassword",
        "hostKey",
    }
)
DEFAULT_FIELDS = ("title",)


@dataclass(frozen=True)
class PullOptions:
    """What to pull, and where to write it."""

    output: Path
    start: datetime
    end: datetime
    fields: tuple[str, ...] = DEFAULT_FIELDS
    hosts: tuple[str, ...] = ()
    all_hosts: bool = False
    kinds: Kinds = "series"
    scheduled_type: str | None = None
    state: str | None = None
    include_secrets: bool = False
    snapshot: Path | None = None

    @property
    def format(self) -> JobFormat:
        """CSV or JSON Lines, by the output's name."""
        return JobFormat.CSV if self.output.suffix.lower() == ".csv" else JobFormat.JSONL

    @property
    def snapshot_path(self) -> Path:
        """Where the full meeting objects go (default: beside the job, ``.snapshot.jsonl``)."""
        return self.snapshot or self.output.with_name(f"{self.output.name}.snapshot.jsonl")


@dataclass
class PullProgress:
    """How far a pull has got."""

    hosts_done: int = 0
    hosts: int = 0
    meetings: int = 0


@dataclass(frozen=True)
class PullReport:
    """How a pull ended and what it wrote."""

    reason: StopReason
    detail: str
    rows: int
    meetings: int
    left_out: int
    hosts: int
    failed_hosts: list[tuple[str, str]]
    counts: RunCounts
    elapsed: float
    output: Path
    snapshot: Path
    written: bool = field(default=False)
    #: CSV cells of the job (meetingId and fields: sent, so kept exact) a spreadsheet would run.
    formula_cells: int = 0


def check_fields(fields: tuple[str, ...], include_secrets: bool) -> None:
    """Refuse fields a job cannot carry (unknown, read-only) and secrets unless asked for."""
    for name in fields:
        if name not in FIELDS:
            raise ConfigError(f"--fields: {name} is not a field of Patch a Meeting")
        if name.rsplit(".", 1)[-1] in SECRET_FIELDS and not include_secrets:
            raise ConfigError(
                f"--fields: {name} is a secret; it is pulled only with --include-secrets "
                "(the file is then readable by you only)"
            )


async def pull(
    options: PullOptions,
    settings: Settings,
    credentials: Credentials,
    target: Target,
    *,
    log: FilteringBoundLogger,
    stopper: Stopper | None = None,
    on_progress: Callable[[PullProgress], None] = lambda progress: None,
) -> PullReport:
    """List the meetings, then write the job file and the snapshot (atomically, both or none)."""
    check_fields(options.fields, options.include_secrets)
    if options.start >= options.end:
        raise ConfigError("--from must be before --to")
    for path in (options.output, options.snapshot_path):
        check_output(path)  # before the first request: a listing is not read in vain
    stopper = stopper or Stopper()
    started = time.monotonic()
    progress = PullProgress()
    with _Collected() as collected:
        async with open_session(settings, credentials, target, log=log, stopper=stopper) as session:
            pipeline = session.pipeline
            hosts: list[str | None] = list(options.hosts) or [None]
            failed: list[tuple[str, str]] = []
            try:
                if options.all_hosts:
                    hosts = list(await people_emails(pipeline))
                progress.hosts = len(hosts)
                on_progress(progress)
                puller = _HostPuller(options, pipeline, collected, progress, on_progress, failed)
                await _each_host(hosts, puller, settings.concurrency)
            except ListingFailed as exc:
                if not exc.stopped:
                    failed.append(("(List People)", str(exc)))
        reason = stopper.reason if stopper.requested.is_set() else StopReason.FINISHED
        written = reason is StopReason.FINISHED and progress.meetings > 0
        rows = left_out = formulas = 0
        if written:
            rows, left_out, formulas = collected.write(
                options, with_host=bool(options.hosts or options.all_hosts)
            )
        return PullReport(
            reason,
            stopper.detail,
            rows,
            progress.meetings,
            left_out,
            progress.hosts,
            failed,
            pipeline.counts,
            time.monotonic() - started,
            options.output,
            options.snapshot_path,
            written,
            formulas,
        )


async def _each_host(hosts: list[str | None], puller: _HostPuller, concurrency: int) -> None:
    """Pull hosts side by side (each host's pages in order), up to ``concurrency`` at once."""
    queue = list(enumerate(hosts))
    queue.reverse()

    async def worker() -> None:
        while queue and not puller.pipeline.stopper.requested.is_set():
            index, host = queue.pop()
            await puller.host(index, host)

    async with anyio.create_task_group() as group:
        for _ in range(min(concurrency, len(hosts))):
            group.start_soon(worker)


@dataclass
class _HostPuller:
    options: PullOptions
    pipeline: Pipeline
    collected: _Collected
    progress: PullProgress
    on_progress: Callable[[PullProgress], None]
    failed: list[tuple[str, str]]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    async def host(self, index: int, host: str | None) -> None:
        """Every meeting of one host (the token's own when ``host`` is None), each once."""
        kept: set[str] = (
            set()
        )  # a meeting listed twice (pages that shifted, or overlap) is kept once
        try:
            series: dict[str, None] = {}  # listed first in any case: occurrences are by series
            async for items in pages(self.pipeline, self._listing(host), host=host):
                for meeting in items:
                    if isinstance(meeting, dict) and isinstance(meeting.get("id"), str):
                        series[meeting["id"]] = None
                    if self.options.kinds != "occurrences":
                        self._keep(index, host, meeting, kept)
            if self.options.kinds in ("occurrences", "both"):
                for series_id in series:
                    listing = self._listing(host, series_id)
                    async for items in pages(self.pipeline, listing, host=host, series=series_id):
                        for meeting in items:
                            self._keep(index, host, meeting, kept)
        except ListingFailed as exc:
            if not exc.stopped:
                self.failed.append((host or "(your own meetings)", str(exc)))
        self.progress.hosts_done += 1
        self.on_progress(self.progress)

    def _listing(self, host: str | None, series_id: str | None = None) -> Listing:
        query: list[tuple[str, str]] = [
            ("from", _iso(self.options.start)),
            ("to", _iso(self.options.end)),
            ("max", str(MEETINGS_PAGE)),
        ]
        if series_id is not None:
            query += [("meetingSeriesId", series_id), ("meetingType", "scheduledMeeting")]
        else:
            # current=false: a series with its own start and end, not its next occurrence's.
            query += [("meetingType", "meetingSeries"), ("current", "false")]
            if self.options.scheduled_type:
                query.append(("scheduledType", self.options.scheduled_type))
        if self.options.state:
            query.append(("state", self.options.state))
        if host is not None:
            query.append(("hostEmail", host))
        return Listing("meetings", tuple(query))

    def _keep(self, index: int, host: str | None, meeting: Any, kept: set[str]) -> None:
        if not isinstance(meeting, dict) or not isinstance(meeting.get("id"), str):
            return
        if meeting["id"] in kept:
            return
        kept.add(meeting["id"])
        row = pulled_row(meeting, self.options.fields, host, self.now)
        self.collected.add(index, row, snapshot_line(meeting, self.options.include_secrets))
        self.progress.meetings += 1
        self.on_progress(self.progress)


def pulled_row(
    meeting: dict[str, Any], fields: tuple[str, ...], host: str | None, now: datetime
) -> OutRow | None:
    """The job row of one meeting: current values the rules accept as a change; None if none.

    With a host (an admin's pull), ``hostEmail`` is filled too: the reference's way to patch
    a meeting "on behalf of the real meeting host".
    """
    wanted = [*fields, *(["hostEmail"] if host is not None and "hostEmail" not in fields else [])]
    flat = {path: value_at(meeting, path) for path in wanted}
    flat = {path: value for path, value in flat.items() if value is not None}
    for _ in range(len(flat) + 1):
        if not flat:
            return None
        refused = _refused_paths(str(meeting["id"]), flat, now)
        if not refused:
            break
        flat = {path: value for path, value in flat.items() if path not in refused}
    notes = {
        "title": str(meeting.get("title", "")),
        "start": str(meeting.get("start", "")),
        "host": str(meeting.get("hostEmail", "")),
        "meetingType": str(meeting.get("meetingType", "")),
        "state": str(meeting.get("state", "")),
    }
    return OutRow(str(meeting["id"]), nest(flat), notes)


def _refused_paths(meeting_id: str, flat: dict[str, Any], now: datetime) -> set[str]:
    """The pre-filled paths the offline rules refuse for this meeting (none: the row is valid)."""
    checked = check_row(JobRow(0, meeting_id, nest(flat)), now)
    errors = {f.field for f in checked.findings if f.severity is Severity.ERROR}
    if not errors:
        return set()
    refused = {path for path in flat if any(_concerns(error, path) for error in errors)}
    if refused & {"start", "end"}:
        refused |= {"start", "end"} & set(flat)  # a reschedule is both ends or neither
    return refused or set(flat)  # an error that names no pre-filled field: keep none


def _concerns(error_field: str, path: str) -> bool:
    """Whether an error on ``error_field`` is about the value at ``path`` (or inside it)."""
    return (
        error_field == path
        or error_field.startswith((f"{path}.", f"{path}["))
        or path.startswith(f"{error_field}.")
    )


def snapshot_line(meeting: dict[str, Any], include_secrets: bool) -> str:
    """The meeting object as JSON, its secrets masked unless asked for."""
    shown = meeting if include_secrets else mask_secrets(meeting, SNAPSHOT_SECRETS)
    return json.dumps(shown, ensure_ascii=False, sort_keys=False)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def default_range(now: datetime) -> tuple[datetime, datetime]:
    """From now to a year ahead: the meetings a bulk change can still reach."""
    start = now.astimezone(UTC).replace(second=0, microsecond=0)
    return start, start + timedelta(days=365)


class _Collected:
    """What the hosts gave, kept on disk (a private temporary SQLite file) until it is written.

    Hosts are pulled side by side and finish in any order; the files list them in host order,
    each host's meetings in the order the API gave them, whatever the size of the site.
    """

    def __init__(self) -> None:
        self._db = sqlite3.connect("")
        self._db.execute(
            "CREATE TABLE got (host INTEGER, seq INTEGER PRIMARY KEY, row TEXT, meeting TEXT)"
        )

    def __enter__(self) -> _Collected:
        return self

    def __exit__(self, *_: object) -> None:
        self._db.close()

    def add(self, host: int, row: OutRow | None, meeting: str) -> None:
        text = None if row is None else json.dumps([row.meeting_id, row.changes, row.notes])
        self._db.execute(
            "INSERT INTO got (host, row, meeting) VALUES (?, ?, ?)", (host, text, meeting)
        )

    def write(self, options: PullOptions, *, with_host: bool) -> tuple[int, int, int]:
        """Write the snapshot, then the job file if any row is left.

        Returns (rows, meetings left out, CSV cells a spreadsheet would run as formulas). A job
        with no row would not validate: with every meeting left out, only the snapshot is
        written.
        """
        with atomic_output(
            options.snapshot_path, [options.output], private=options.include_secrets
        ) as out:
            for (meeting,) in self._db.execute("SELECT meeting FROM got ORDER BY host, seq"):
                out.write(meeting + "\n")
        (total,) = self._db.execute("SELECT COUNT(*) FROM got").fetchone()
        (rows,) = self._db.execute("SELECT COUNT(*) FROM got WHERE row IS NOT NULL").fetchone()
        formulas = _Formulas()
        if rows:
            columns = _columns(options.fields, with_host)
            written = self._rows()
            if options.format is JobFormat.CSV:
                written = formulas.guarded(written, columns)
            with atomic_output(
                options.output, [options.snapshot_path], private=options.include_secrets
            ) as out:
                write_rows(written, out, options.format, columns, NOTES)
        return int(rows), int(total) - int(rows), formulas.cells

    def _rows(self) -> Iterator[OutRow]:
        query = "SELECT row FROM got WHERE row IS NOT NULL ORDER BY host, seq"
        for (text,) in self._db.execute(query):
            yield from_line(text)


class _Formulas:
    """CSV rows made safe to open in a spreadsheet where that changes nothing sent.

    A ``#`` note is never sent, so one that a spreadsheet would run as a formula gets a leading
    apostrophe. The meetingId and the field cells are sent exactly as written: they are kept,
    and counted for a warning.
    """

    def __init__(self) -> None:
        self.cells = 0

    def guarded(self, rows: Iterator[OutRow], columns: list[str]) -> Iterator[OutRow]:
        for row in rows:
            flat = flatten(row.changes, columns)
            sent = [row.meeting_id, *(v for v in flat.values() if isinstance(v, str))]
            self.cells += sum(runs_as_formula(text) for text in sent)
            notes = {name: neutralise(text) for name, text in row.notes.items()}
            yield OutRow(row.meeting_id, row.changes, notes)


def _columns(fields: tuple[str, ...], with_host: bool) -> list[str]:
    return [*fields, "hostEmail"] if with_host and "hostEmail" not in fields else list(fields)
