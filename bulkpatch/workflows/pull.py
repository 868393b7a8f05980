"""``pull``: the site's meetings into an editable job file, and a snapshot of them.

Lists meetings with List Meetings (``GET /v1/meetings``), host by host for an admin, every page,
through the one request pipeline (the read lane). Each meeting becomes a row: its id, the
chosen fields filled with their current values, and ``#`` notes for context (see
:mod:`bulkpatch.workflows.pulled`, which also accounts for every listed item that is no row).
Run unchanged, the file is a valid job that changes nothing. A snapshot of the full meeting
objects (JSON Lines, what ``bulkpatch sandbox --seed`` reads) is written beside it. Both files
are written atomically: an interrupted pull leaves no half file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import anyio
from structlog.typing import FilteringBoundLogger

from bulkpatch.config import Settings
from bulkpatch.engine import Pipeline, RunCounts, Stopper, StopReason
from bulkpatch.errors import ConfigError
from bulkpatch.export import check_output
from bulkpatch.jobfile import JobFormat
from bulkpatch.model import FIELDS, SECRET_FIELDS
from bulkpatch.tokens import Credentials
from bulkpatch.workflows.listing import MEETINGS_PAGE, Listing, ListingFailed, pages, people_emails
from bulkpatch.workflows.pulled import Collected, Tally, columns_of, pulled_row, snapshot_line
from bulkpatch.workflows.session import Target, open_session

Kinds = Literal["series", "occurrences", "both"]
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
    #: Items listed so far (a meeting listed twice counts twice).
    meetings: int = 0


@dataclass(frozen=True)
class PullReport:
    """How a pull ended and what it wrote."""

    reason: StopReason
    detail: str
    #: What became of every item the listings gave: rows, and the rest by reason.
    tally: Tally
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
    with Collected() as collected:
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
        tally = collected.tally()
        written = reason is StopReason.FINISHED and tally.meetings > 0
        formulas = 0
        if written:
            formulas = collected.write(
                options.output,
                options.snapshot_path,
                options.format,
                columns_of(options.fields, bool(options.hosts or options.all_hosts)),
                private=options.include_secrets,
            )
        return PullReport(
            reason,
            stopper.detail,
            tally,
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
    collected: Collected
    progress: PullProgress
    on_progress: Callable[[PullProgress], None]
    failed: list[tuple[str, str]]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    async def host(self, index: int, host: str | None) -> None:
        """Every meeting of one host (the token's own when ``host`` is None), as listed."""
        try:
            series: dict[str, None] = {}  # listed first in any case: occurrences are by series
            async for items in pages(self.pipeline, self._listing(host), host=host):
                for meeting in items:
                    if _is_meeting(meeting):
                        series[meeting["id"]] = None
                        if self.options.kinds != "occurrences" and self._in_state(meeting):
                            self._keep(index, host, meeting)
                    else:
                        self._pass_over(index)
            if self.options.kinds in ("occurrences", "both"):
                for series_id in series:
                    listing = self._listing(host, series_id)
                    async for items in pages(self.pipeline, listing, host=host, series=series_id):
                        for meeting in items:
                            if _is_meeting(meeting):
                                self._keep(index, host, meeting)
                            else:
                                self._pass_over(index)
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
        # Series to list occurrences of are listed whatever their state (series are active or
        # not; occurrences are scheduled, ready...): --state picks the meetings written.
        if self.options.state and (series_id is not None or self.options.kinds == "series"):
            query.append(("state", self.options.state))
        if host is not None:
            query.append(("hostEmail", host))
        return Listing("meetings", tuple(query))

    def _in_state(self, meeting: dict[str, Any]) -> bool:
        """Whether a series listed without --state (to find occurrences) is in it."""
        return not self.options.state or meeting.get("state") == self.options.state

    def _keep(self, index: int, host: str | None, meeting: dict[str, Any]) -> None:
        row = pulled_row(meeting, self.options.fields, host, self.now)
        line = snapshot_line(meeting, self.options.include_secrets)
        self.collected.add(index, meeting["id"], row, line)
        self.progress.meetings += 1
        self.on_progress(self.progress)

    def _pass_over(self, index: int) -> None:
        self.collected.add_other(index)


def _is_meeting(item: Any) -> bool:
    """Whether a listed item is a meeting object (a JSON object with a string id)."""
    return isinstance(item, dict) and isinstance(item.get("id"), str)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def default_range(now: datetime) -> tuple[datetime, datetime]:
    """From now to a year ahead: the meetings a bulk change can still reach."""
    start = now.astimezone(UTC).replace(second=0, microsecond=0)
    return start, start + timedelta(days=365)
