"""What ``pull`` makes of each item its listings gave: a job row, a snapshot line, or a reason.

Every listed item is kept (on disk) with what became of it, so the summary accounts for the
whole listing: the rows written, and each item left out with its reason. A meeting listed
again (another page, or another host's listing: the API lists a host's meetings and those they
are invited to) is written once, its first listing's copy. An item that is no meeting object
is passed over. A meeting whose ``--fields`` have no value, or whose values the offline rules
would refuse as a change (a series that started in the past, for ``start``), has no row: the
job, run unchanged, must change nothing and validate; it stays in the snapshot.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from bulkpatch.export import atomic_output, neutralise, runs_as_formula
from bulkpatch.jobfile import JobFormat
from bulkpatch.jobwriter import OutRow, flatten, from_line, nest, value_at, write_rows
from bulkpatch.model import SECRET_FIELDS, JobRow, Severity, check_row, mask_secrets

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
#: Why a listed meeting has no row: none of ``--fields`` has a value on it, or the offline
#: rules refuse every value it has as a change.
NoRow = Literal["no value", "refused"]


@dataclass(frozen=True)
class Tally:
    """What became of every item the listings gave: the rows, and the rest by reason."""

    listed: int = 0
    rows: int = 0
    #: The same meeting listed again (another page, another host's listing): written once.
    repeated: int = 0
    #: Items that are not meeting objects (no ``id``).
    not_meetings: int = 0
    #: Meetings with no value for any of ``--fields``.
    no_value: int = 0
    #: Meetings whose every value for ``--fields`` the offline rules refuse as a change.
    refused: int = 0

    @property
    def meetings(self) -> int:
        """The distinct meetings listed: the snapshot's lines."""
        return self.listed - self.repeated - self.not_meetings

    @property
    def left_out(self) -> int:
        """Listed items that are no row of the job."""
        return self.listed - self.rows


def pulled_row(
    meeting: dict[str, Any], fields: tuple[str, ...], host: str | None, now: datetime
) -> OutRow | NoRow:
    """The job row of one meeting: current values the rules accept as a change; else why none.

    With a host (an admin's pull), ``hostEmail`` is filled too: the reference's way to patch
    a meeting "on behalf of the real meeting host". It is no field of ``--fields``: a row with
    nothing else would change nothing, and is left out like one with nothing at all.
    """
    wanted = [*fields, *(["hostEmail"] if host is not None and "hostEmail" not in fields else [])]
    flat = {path: value_at(meeting, path) for path in wanted}
    flat = {path: value for path, value in flat.items() if value is not None}
    if not flat.keys() & set(fields):
        return "no value"
    for _ in range(len(flat) + 1):
        refused = _refused_paths(str(meeting["id"]), flat, now)
        if not refused:
            break
        flat = {path: value for path, value in flat.items() if path not in refused}
        if not flat.keys() & set(fields):
            return "refused"
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


#: Each meeting's first listing (by host, then as listed): the one that is written.
_FIRSTS = """
    SELECT * FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY id ORDER BY host, seq) AS copy
        FROM got WHERE id IS NOT NULL
    ) WHERE copy = 1
"""


class Collected:
    """What the hosts gave, kept on disk (a private temporary SQLite file) until it is written.

    Hosts are pulled side by side and finish in any order; the files list them in host order,
    each host's meetings in the order the API gave them, whatever the size of the site.
    """

    def __init__(self) -> None:
        self._db = sqlite3.connect("")
        self._db.execute(
            "CREATE TABLE got (host INTEGER, seq INTEGER PRIMARY KEY, id TEXT, row TEXT, "
            "reason TEXT, meeting TEXT)"
        )

    def __enter__(self) -> Collected:
        return self

    def __exit__(self, *_: object) -> None:
        self._db.close()

    def add(self, host: int, meeting_id: str, row: OutRow | NoRow, meeting: str) -> None:
        """One listed meeting: its row (or why it has none) and its snapshot line."""
        text = (
            None if isinstance(row, str) else json.dumps([row.meeting_id, row.changes, row.notes])
        )
        reason = row if isinstance(row, str) else None
        self._db.execute(
            "INSERT INTO got (host, id, row, reason, meeting) VALUES (?, ?, ?, ?, ?)",
            (host, meeting_id, text, reason, meeting),
        )

    def add_other(self, host: int) -> None:
        """A listed item that is no meeting object: counted, never written."""
        self._db.execute("INSERT INTO got (host) VALUES (?)", (host,))

    def tally(self) -> Tally:
        """What became of every listed item (the same whether or not the files are written)."""
        (listed,) = self._db.execute("SELECT COUNT(*) FROM got").fetchone()
        (others,) = self._db.execute("SELECT COUNT(*) FROM got WHERE id IS NULL").fetchone()
        firsts = dict(
            self._db.execute(
                f"SELECT COALESCE(reason, 'row'), COUNT(*) FROM ({_FIRSTS}) GROUP BY 1"
            ).fetchall()
        )
        distinct = sum(firsts.values())
        return Tally(
            listed=listed,
            rows=firsts.get("row", 0),
            repeated=listed - others - distinct,
            not_meetings=others,
            no_value=firsts.get("no value", 0),
            refused=firsts.get("refused", 0),
        )

    def write(
        self, output: Path, snapshot: Path, fmt: JobFormat, columns: list[str], *, private: bool
    ) -> int:
        """Write the snapshot, then the job file if any row is left; return the CSV cells a
        spreadsheet would run as formulas.

        A job with no row would not validate: with every meeting left out, only the snapshot is
        written.
        """
        with atomic_output(snapshot, [output], private=private) as out:
            for (meeting,) in self._db.execute(
                f"SELECT meeting FROM ({_FIRSTS}) ORDER BY host, seq"
            ):
                out.write(meeting + "\n")
        formulas = _Formulas()
        if self.tally().rows:
            written = self._rows()
            if fmt is JobFormat.CSV:
                written = formulas.guarded(written, columns)
            with atomic_output(output, [snapshot], private=private) as out:
                write_rows(written, out, fmt, columns, NOTES)
        return formulas.cells

    def _rows(self) -> Iterator[OutRow]:
        query = f"SELECT row FROM ({_FIRSTS}) WHERE row IS NOT NULL ORDER BY host, seq"
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


def columns_of(fields: tuple[str, ...], with_host: bool) -> list[str]:
    """The job's field columns: ``--fields``, and ``hostEmail`` in an admin's pull."""
    return [*fields, "hostEmail"] if with_host and "hostEmail" not in fields else list(fields)
