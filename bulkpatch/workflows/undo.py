"""``undo``: the inverse of a run, from the before-values its journal kept.

Every row that succeeded gives its meeting's fields back the values they had before (the
earliest, when several rows changed one meeting). A field that had no value before is removed
where the API allows null (``agenda``, ``recurrence``, ``trackingCodes``, ``integrationTags``);
otherwise it cannot be reverted, nor can a secret (never kept) or a start now in the past: each
is listed. Run with the drift guard, a meeting that no longer holds what bulkpatch set is a
``conflict`` and is left alone (unless forced). Undo of an undo restores the change.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from pathlib import Path
from typing import Any

from bulkpatch.config import SANDBOX_TARGET
from bulkpatch.errors import JobFileError, JournalError, OutputError
from bulkpatch.export import atomic_output, check_output
from bulkpatch.jobfile import JobFormat, job_format
from bulkpatch.jobwriter import OutRow, nest, write_rows
from bulkpatch.journal import Journal, RowStatus, UndoRow, default_journal_path, file_hash
from bulkpatch.journal.files import held_shared
from bulkpatch.model import MASK, NULLABLE_FIELDS, JobRow, Severity, check_row, is_secret
from bulkpatch.model.diff import ABSENT, decode_values, leaves
from bulkpatch.model.relative import with_resolved
from bulkpatch.model.timing import parse_iso8601


@dataclass(frozen=True, slots=True)
class NotRevertible:
    """A field of a meeting undo cannot give back, and why."""

    meeting_id: str
    path: str
    reason: str


@dataclass
class Inverse:
    """The undo of a journal: rows to write, what each meeting must still hold, and the rest."""

    job: Path
    format: JobFormat
    #: Whether the run went to the sandbox (its undo file is named apart).
    sandbox: bool = False
    rows: list[OutRow] = field(default_factory=list)
    expect: dict[str, dict[str, Any]] = field(default_factory=dict)
    not_revertible: list[NotRevertible] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)


def default_undo_path(job: Path, generation: int = 1, *, sandbox: bool = False) -> Path:
    """``jobs/x.csv`` -> ``jobs/x.undo.csv`` (then ``x.undo-2.csv``...): never the job itself.

    A sandbox trial's undo is ``x.sandbox.undo.csv``: it holds the emulator's values, which
    must never stand in for the real run's.
    """
    suffix = "" if generation == 1 else f"-{generation}"
    trial = ".sandbox" if sandbox else ""
    return job.with_name(f"{job.stem}{trial}.undo{suffix}{job.suffix}")


def inverse_of(journal: Journal, now: datetime) -> Inverse:
    """The inverse job of everything the journal's runs changed."""
    meta = journal.meta
    if "job_path" not in meta:
        raise JournalError(f"the journal {journal.path} has no run to undo")
    job = Path(meta["job_path"])
    sandbox = meta.get("target") == SANDBOX_TARGET
    inverse = Inverse(job, JobFormat(meta.get("job_format", "csv")), sandbox)
    by_meeting: dict[str, _Meeting] = {}
    for changed in journal.undo_rows():
        meeting = by_meeting.setdefault(changed.meeting_id, _Meeting(changed.meeting_id))
        meeting.add(changed, inverse.not_revertible)
    columns: dict[str, None] = {}
    for meeting in by_meeting.values():
        row, expect = meeting.inverse(now, inverse.not_revertible)
        if row is None:
            continue
        inverse.rows.append(row)
        inverse.expect[row.meeting_id] = expect
        columns.update(dict.fromkeys(_paths(row.changes)))
    inverse.columns = list(columns)
    return inverse


def inverse_text(inverse: Inverse) -> str:
    """The inverse job as it is written."""
    text = io.StringIO(newline="")
    write_rows(inverse.rows, text, inverse.format, inverse.columns, ("revert",))
    return text.getvalue()


def choose_output(inverse: Inverse, content: str, requested: Path | None) -> tuple[Path, bool]:
    """Where the inverse job goes, and whether it is already there (to resume).

    An undo file whose journal says it was run to the end, as it stands, is used up: the next
    undo goes to a new file (``x.undo-2.csv``) with a journal of its own, and the old pair
    stays as the record of what it did. A file holding anything else (edited by hand, or the
    undo of an earlier state of the run) is never replaced, nor read unless it is a plain file.
    """
    if requested is not None and _format_of(requested) is not inverse.format:
        raise OutputError(
            f"the run's job is {inverse.format.upper()}, and so is its undo: name the file "
            f"{requested.stem}.{inverse.format} (-o {requested} says {requested.suffix or 'no format'})"
        )
    candidates = (
        [requested]
        if requested
        else (default_undo_path(inverse.job, n, sandbox=inverse.sandbox) for n in count(1))
    )
    for output in candidates:
        check_output(output)
        if not output.exists():
            stale = default_journal_path(output)
            if not stale.exists():
                return output, False
            # The file was moved aside and its journal left behind: that journal is another
            # inverse's, and would refuse this one as a changed job.
            if requested:
                raise OutputError(
                    f"{output} is gone but its journal {stale} is still there (the undo file "
                    "moved aside without it?): move that journal too, or give another -o"
                )
            continue
        if _used_up(output):
            if requested:
                raise OutputError(
                    f"{output} has been run to the end already (see "
                    f"{default_journal_path(output)}); give another -o for this undo"
                )
            continue
        if _holds(output, content):
            return output, True
        raise OutputError(
            f"{output} exists and is not this journal's inverse job (edited since, or the undo "
            "of an earlier state of the run): move it aside, or give another -o, and undo again"
        )
    raise AssertionError("unreachable: the candidates never end")


def _format_of(path: Path) -> JobFormat | None:
    try:
        return job_format(path)
    except JobFileError:
        return None


def _holds(output: Path, content: str) -> bool:
    """Whether a plain file holds exactly ``content`` (read only as far as it could match)."""
    limit = len(content.encode("utf-8")) + 1
    with output.open("rb") as handle:
        return handle.read(limit) == content.encode("utf-8")


def write_inverse(content: str, output: Path, protected: Iterable[Path]) -> None:
    """Write the inverse job atomically, owner-only (it may name hosts and values of a site)."""
    with atomic_output(output, protected, private=True) as out:
        out.write(content)


def reverted_meetings(undo_journal: Journal) -> list[str] | None:
    """Meetings an undo run gave their values back (None while the undo is unfinished)."""
    if undo_journal.counts()[RowStatus.PENDING]:
        return None
    done = (RowStatus.SUCCEEDED, RowStatus.SKIPPED)
    return [row.meeting_id for status in done for row in undo_journal.rows(status)]


@contextlib.contextmanager
def runs_kept_off(path: Path) -> Iterator[None]:
    """No run holds the journal at ``path`` while the block reads it and writes the undo file.

    A run holding it now is refused here: its rows still move, so whatever undo read of it
    would be of half the run. A run starting meanwhile is refused by its own lock (exit 3),
    as beside another run: the hold is shared, taken before the journal is opened, kept until
    the block ends. (A check, then the reading, let a run start in between.)
    """
    real = Path(os.path.realpath(path))
    with held_shared(
        real, lambda holder: f"{path} is held by a run right now ({holder}); undo after it ends"
    ):
        yield


def _used_up(output: Path) -> bool:
    """Whether ``output`` was run to the end, as it stands now, by its own journal."""
    journal_path = default_journal_path(output)
    if not journal_path.is_file():
        return False
    with runs_kept_off(journal_path), Journal.open_read_only(journal_path) as journal:
        finished = not journal.counts()[RowStatus.PENDING] and bool(journal.runs())
        return finished and journal.meta.get("job_hash") == file_hash(output)


@dataclass
class _Meeting:
    """What bulkpatch's rows did to one meeting: the first before and last after of each field."""

    meeting_id: str
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    #: When the row whose value ``after`` holds for each field set it.
    after_at: dict[str, str] = field(default_factory=dict)
    host: str | None = None
    lines: list[str] = field(default_factory=list)

    def add(self, row: UndoRow, skipped: list[NotRevertible]) -> None:
        patch: dict[str, Any] = json.loads(row.body) if row.body else {}
        if isinstance(patch.get("hostEmail"), str):
            self.host = patch["hostEmail"]
        line = f"line {row.line}{' (since removed from the job)' if row.retired else ''}"
        self.lines.append(line)
        if row.before is None:
            skipped.append(
                NotRevertible(
                    self.meeting_id,
                    "*",
                    f"{line} was sent without reading the meeting first "
                    "(--no-snapshot): its values before are unknown",
                )
            )
            return
        for path, value in decode_values(row.before).items():
            self.before.setdefault(path, value)  # the earliest row's value is the original
        # A row killed in flight has no answer: what it sent is what the meeting may hold.
        if row.resolved:  # what its offsets came to is what it sent
            patch = with_resolved(patch, json.loads(row.resolved))
        # Rows come in the order they read their meeting; one sent again after a later row of
        # its meeting (run --force keeps file order) set the value last, and is what it holds.
        applied = row.applied_at or ""
        for path, value in (decode_values(row.after) if row.after else _sent(patch)).items():
            if applied >= self.after_at.get(path, ""):
                self.after[path] = value
                self.after_at[path] = applied

    def inverse(
        self, now: datetime, skipped: list[NotRevertible]
    ) -> tuple[OutRow | None, dict[str, Any]]:
        flat: dict[str, Any] = {}
        for path, value in self.before.items():
            reason = _why_not(path, value, now)
            if reason:
                skipped.append(NotRevertible(self.meeting_id, path, reason))
            else:
                flat[path] = None if value is ABSENT else value
        self._keep_whole_reschedule(flat, skipped)
        self._keep_what_validates(flat, now, skipped)
        if not flat:
            return None, {}
        if self.host is not None:
            flat["hostEmail"] = self.host
        # A field bulkpatch did not set (the other end of a reschedule) must still hold its
        # value from before.
        expect = {
            path: self.after[path] if path in self.after else self.before.get(path, ABSENT)
            for path in flat
            if path != "hostEmail"
        }
        notes = {"revert": f"{', '.join(self.lines)} of the run"}
        return OutRow(self.meeting_id, nest(flat), notes), expect

    def _keep_whole_reschedule(self, flat: dict[str, Any], skipped: list[NotRevertible]) -> None:
        """A reschedule goes back whole or not at all."""
        if ("start" in flat) != ("end" in flat):
            for path in ("start", "end"):
                if path in flat:
                    del flat[path]
                    skipped.append(
                        NotRevertible(self.meeting_id, path, "its other end cannot be restored")
                    )

    def _keep_what_validates(
        self, flat: dict[str, Any], now: datetime, skipped: list[NotRevertible]
    ) -> None:
        """Leave out each old value the offline rules refuse; the rest still go back.

        The site may hold a value it took before these rules (a 150-character title, say): the
        undo job must validate, and one such value must not keep the others from going back.
        """
        while flat:
            checked = check_row(JobRow(0, self.meeting_id, nest(flat)), now)
            if checked.is_valid:
                return
            errors = [f for f in checked.findings if f.severity is Severity.ERROR]
            refused = {
                path: f.message for f in errors if (path := _field_of(f.field, flat)) is not None
            }
            if not refused:  # a rule over the whole row: nothing of it can go back
                refused = dict.fromkeys(flat, errors[0].message)
            for path, message in refused.items():
                del flat[path]
                skipped.append(
                    NotRevertible(self.meeting_id, path, f"the old value breaks a rule: {message}")
                )
            self._keep_whole_reschedule(flat, skipped)


def _field_of(finding_field: str, flat: dict[str, Any]) -> str | None:
    """The field of ``flat`` a finding is about: ``trackingCodes[0].name`` is ``trackingCodes``."""
    for path in flat:
        if finding_field == path or finding_field.startswith((f"{path}.", f"{path}[")):
            return path
    return None


def _why_not(path: str, value: Any, now: datetime) -> str:
    """Why a before-value cannot be put back (empty: it can)."""
    if is_secret(path) or value == MASK:
        return "secrets are not kept, so a changed password cannot be put back"
    if value is not ABSENT and MASK in json.dumps(value, ensure_ascii=False):
        return "it quoted a secret, masked when it was read: it cannot be put back as it was"
    if value is ABSENT and path not in NULLABLE_FIELDS:
        return "it had no value before, and the API cannot remove it (it takes no null)"
    if path == "start":
        moment = parse_iso8601(str(value))
        if moment is not None and moment.tzinfo is not None and moment < now:
            return f"the old start {value} is now in the past"
    return ""


def _sent(patch: dict[str, Any]) -> dict[str, Any]:
    """What a row set, from its own patch (when the API's answer was not kept)."""
    return dict(leaves(patch))


def _paths(changes: dict[str, Any]) -> list[str]:
    paths = [path for path, _ in leaves(changes)]
    return [*paths, "hostEmail"] if "hostEmail" in changes else paths
