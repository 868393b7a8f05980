"""The job file reader: CSV or JSON Lines in, one :class:`JobRow` or :class:`RowProblem` out per row.

It streams: rows come one at a time from any iterable of text lines, so a file of a million rows
never sits in memory. A broken row becomes a ``RowProblem`` and reading goes on; only a file that
cannot be read at all (wrong kind, bad header) raises :class:`JobFileError`. The file is opened
with ``errors="surrogateescape"`` so that bytes that are not UTF-8 reach the reader as lone
surrogates and become a problem on their own line instead of ending the read.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from bulkpatch.errors import JobFileError
from bulkpatch.model import (
    FIELDS,
    FieldKind,
    Finding,
    JobRow,
    RowProblem,
    Severity,
    show_value,
    unknown_field_message,
)

NOTE_PREFIX = "#"
TRACKING_CODE_PREFIX = "trackingCodes."
_BAD_TEXT = re.compile("[\x00\udc80-\udcff]")


def _is_bad_text(text: str) -> bool:
    """Holds a NUL, or bytes that were not UTF-8 (decoded as lone surrogates)."""
    return "\x00" in text or (not text.isascii() and _BAD_TEXT.search(text) is not None)


_INTEGER = re.compile(r"^[+-]?\d+$")
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


class JobFormat(StrEnum):
    """The two kinds of job file."""

    CSV = "csv"
    JSONL = "jsonl"


_SUFFIXES = {".csv": JobFormat.CSV, ".jsonl": JobFormat.JSONL, ".ndjson": JobFormat.JSONL}


def job_format(path: Path) -> JobFormat:
    """The format a job file's name says it has."""
    try:
        return _SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise JobFileError(
            str(path), "a job file must end in .csv, .jsonl or .ndjson", rule="extension"
        ) from None


@contextmanager
def open_job(path: Path) -> Iterator[TextIO]:
    """Open a job file for :func:`read_rows`: UTF-8 with or without BOM, newlines as written."""
    try:
        handle = path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as exc:
        raise JobFileError(
            str(path), f"cannot read the job file: {exc.strerror}", rule="unreadable"
        ) from exc
    with handle:
        yield handle


def read_rows(lines: Iterable[str], fmt: JobFormat, source: str) -> Iterator[JobRow | RowProblem]:
    """Rows of a job file, in file order; ``source`` names the file in errors."""
    if fmt is JobFormat.CSV:
        return _read_csv(lines, source)
    return _read_jsonl(lines)


def meeting_ids(path: Path) -> Iterator[str]:
    """Every meetingId a job file names, in file order (rows with problems included)."""
    with open_job(path) as lines:
        for item in read_rows(lines, job_format(path), str(path)):
            if item.meeting_id:
                yield item.meeting_id


# --- CSV -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    path: tuple[str, ...]  # () for meetingId, notes and blank headers
    kind: FieldKind | None
    tracking_code: str | None = None


def _read_csv(lines: Iterable[str], source: str) -> Iterator[JobRow | RowProblem]:
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise JobFileError(
            source,
            "the file is empty; a CSV job needs a header row with a meetingId column",
            line=1,
            rule="empty",
        ) from None
    except csv.Error as exc:
        raise JobFileError(
            source, f"the header row is not valid CSV: {exc}", line=1, rule="csv"
        ) from None
    columns = _read_header(header, source)
    id_index = next(i for i, column in enumerate(columns) if column.name == "meetingId")
    last_line = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _problem(last_line + 1, "", "csv", f"not valid CSV: {exc}")
            last_line = reader.line_num
            continue
        line, last_line = last_line + 1, reader.line_num
        if any(cells):
            yield _csv_row(line, cells, columns, id_index)


def _read_header(header: list[str], source: str) -> list[_Column]:
    columns: list[_Column] = []
    problems: list[str] = []
    seen: set[str] = set()
    for position, raw in enumerate(header, start=1):
        name = raw.removeprefix("\ufeff").strip()
        if name and name in seen:
            problems.append(f"column {name!r} appears twice")
        seen.add(name)
        if _is_bad_text(name):
            problems.append(f"column {position} has a name that is not UTF-8 text")
        elif not name or name.startswith(NOTE_PREFIX) or name == "meetingId":
            columns.append(_Column(name, (), None))
        elif name.startswith(TRACKING_CODE_PREFIX) and len(name) > len(TRACKING_CODE_PREFIX):
            columns.append(
                _Column(
                    name, ("trackingCodes",), FieldKind.STRING, name[len(TRACKING_CODE_PREFIX) :]
                )
            )
        elif name in FIELDS:
            columns.append(_Column(name, tuple(name.split(".")), FIELDS[name].kind))
        else:
            rule, message = unknown_field_message(name)
            hint = (
                f" (to keep it as a note, name it {NOTE_PREFIX}{name})"
                if rule == "read_only"
                else ""
            )
            problems.append(f"{message}{hint}")
    if "meetingId" not in seen:
        problems.insert(0, "there is no meetingId column; the header row must name one")
    if problems:
        raise JobFileError(source, "; ".join(problems), line=1, field="header", rule="header")
    return columns


def _csv_row(line: int, cells: list[str], columns: list[_Column], id_index: int) -> JobRow:
    meeting_id = cells[id_index].strip() if id_index < len(cells) else ""
    problems = _Problems(line, meeting_id)
    changes = _Changes()
    if len(cells) > len(columns) and any(cells[len(columns) :]):
        problems.add(
            "",
            "extra_cells",
            f"the row has {len(cells)} cells but the header names {len(columns)} columns",
        )
    for column, cell in zip(columns, cells, strict=False):
        if _is_bad_text(cell):
            problems.add(
                column.name or "meetingId",
                "encoding",
                "the cell is not valid UTF-8 text or holds a NUL character",
            )
        elif column.kind is None:
            if cell.strip() and not column.name:
                problems.add("", "unnamed_column", "a cell has a value under a column with no name")
        elif column.tracking_code is not None:
            if cell:
                changes.add_tracking_code(column.tracking_code, cell)
        else:
            _read_cell(column, cell, changes, problems)
    return problems.row(changes)


def _read_cell(column: _Column, cell: str, changes: _Changes, problems: _Problems) -> None:
    kind = column.kind
    assert kind is not None  # only field columns get here
    text = cell if kind is FieldKind.STRING and cell.strip() != "null" else cell.strip()
    if not text:
        return
    try:
        value = None if text == "null" else parse_cell(text, kind)
    except ValueError as exc:
        problems.add(column.name, "type", str(exc), show_value(column.name, text))
        return
    problems.add_conflict(column.name, changes.set(column.path, value))


def parse_cell(text: str, kind: FieldKind) -> Any:
    """A CSV cell's value for a field of this kind; raises ValueError with a message for people."""
    if kind is FieldKind.BOOLEAN:
        lowered = text.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise ValueError("expected a boolean: true/false, yes/no or 1/0")
    if kind is FieldKind.INTEGER:
        if _INTEGER.match(text):
            return int(text)
        raise ValueError("expected a whole number")
    if kind is FieldKind.JSON:
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"expected a JSON array or object: {exc}") from None
    return text


# --- JSON Lines ------------------------------------------------------------------------------


def _read_jsonl(lines: Iterable[str]) -> Iterator[JobRow | RowProblem]:
    for line, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        if _is_bad_text(text):
            yield _problem(
                line, "", "encoding", "the line is not valid UTF-8 text or holds a NUL character"
            )
            continue
        try:
            record = json.loads(text)
        except (ValueError, RecursionError) as exc:
            yield _problem(line, "", "json", f"not valid JSON: {exc}")
            continue
        yield _jsonl_row(line, record)


def _jsonl_row(line: int, record: Any) -> JobRow | RowProblem:
    if not isinstance(record, dict):
        return _problem(line, "", "json", "each line must be a JSON object with a meetingId")
    meeting_id = record.get("meetingId")
    if not isinstance(meeting_id, str):
        return _problem(line, "meetingId", "required", "meetingId is required and must be a string")
    meeting_id = meeting_id.strip()
    rest = {
        key: value
        for key, value in record.items()
        if key != "meetingId" and not key.startswith(NOTE_PREFIX)
    }
    if "changes" in record:
        given = rest.pop("changes")
        if not isinstance(given, dict):
            return _problem(line, "changes", "type", "changes must be a JSON object", meeting_id)
        if rest:
            return _problem(
                line,
                next(iter(rest)),
                "layout",
                "with a changes object, put every field inside it",
                meeting_id,
            )
        rest = given
    problems = _Problems(line, meeting_id)
    changes = _Changes()
    for key, value in rest.items():
        if key.startswith(TRACKING_CODE_PREFIX) and isinstance(value, str):
            changes.add_tracking_code(key[len(TRACKING_CODE_PREFIX) :], value)
        else:
            path = tuple(key.split(".", 1)) if key in FIELDS else (key,)
            problems.add_conflict(key, changes.set(path, value))
    return problems.row(changes)


# --- shared by both formats -----------------------------------------------------------------


class _Changes:
    """The changes of one row in Patch-body shape, built from whole fields and dotted members."""

    __slots__ = ("_codes", "_from_members", "fields")

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self._from_members: set[str] = set()
        self._codes: list[dict[str, str]] = []

    def set(self, path: tuple[str, ...], value: Any) -> str | None:
        """Place a value; return why it conflicts with one already placed, if it does."""
        name = path[0]
        if len(path) == 1:
            if name in self._from_members:
                return f"{name} is given as a whole and by its members; use one or the other"
            if name in self.fields:
                return f"{name} is given twice"
            self.fields[name] = value
            return None
        if name in self.fields and name not in self._from_members:
            return f"{name} is given as a whole and by its members; use one or the other"
        members = self.fields.setdefault(name, {})
        self._from_members.add(name)
        if path[1] in members:
            return f"{'.'.join(path)} is given twice"
        members[path[1]] = value
        return None

    def add_tracking_code(self, name: str, value: str) -> None:
        """Add a code given as a ``trackingCodes.<Name>`` column or key."""
        self._codes.append({"name": name, "value": value})

    def finish(self) -> str | None:
        """Merge the tracking-code columns into ``trackingCodes``; say why not, if they cannot be."""
        if not self._codes:
            return None
        given = self.fields.get("trackingCodes", [])
        if not isinstance(given, list):
            return (
                "trackingCodes is null or not a list, but trackingCodes.<Name> columns give codes"
            )
        self.fields["trackingCodes"] = [*given, *self._codes]
        return None


class _Problems:
    """The reader's findings for one row."""

    __slots__ = ("findings", "line", "meeting_id")

    def __init__(self, line: int, meeting_id: str) -> None:
        self.line = line
        self.meeting_id = meeting_id
        self.findings: list[Finding] = []

    def add(self, field: str, rule: str, message: str, value: str | None = None) -> None:
        self.findings.append(_finding(self.line, field, rule, message, self.meeting_id, value))

    def add_conflict(self, field: str, conflict: str | None) -> None:
        if conflict is not None:
            self.add(field, "conflict", conflict)

    def row(self, changes: _Changes) -> JobRow:
        """The row with what could be read, and the problems with what could not."""
        self.add_conflict("trackingCodes", changes.finish())
        return JobRow(self.line, self.meeting_id, changes.fields, tuple(self.findings))


# --- helpers ---------------------------------------------------------------------------------


def _finding(
    line: int,
    field: str,
    rule: str,
    message: str,
    meeting_id: str | None = None,
    value: str | None = None,
) -> Finding:
    return Finding(Severity.ERROR, line, field, rule, message, value, meeting_id or None)


def _problem(
    line: int, field: str, rule: str, message: str, meeting_id: str | None = None
) -> RowProblem:
    return RowProblem(line, (_finding(line, field, rule, message, meeting_id),), meeting_id or None)
