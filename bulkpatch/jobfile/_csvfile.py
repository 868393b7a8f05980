"""CSV jobs: a header naming the fields, then one record per meeting, Excel quoting.

Quoting is where a CSV reader can be steered: the csv module, stopped part-way through a quoted
cell (a cell over its field limit, a stray quote), would go on at the next line, inside the
cell, and read the cell's text as rows. So every parse error stops the read with a file error,
and the field limit is the row cap, which a separate count enforces for every record.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bulkpatch.errors import JobFileError
from bulkpatch.jobfile._encoding import BOM, bom_problem, undecodable
from bulkpatch.jobfile._rows import (
    NOTE_PREFIX,
    ROW_CAP,
    TRACKING_CODE_PREFIX,
    BadText,
    Changes,
    Problems,
    is_bad_text,
    parse_cell,
    problem,
    shown,
)
from bulkpatch.model import (
    FIELDS,
    FieldKind,
    JobRow,
    RowProblem,
    is_secret,
    show_value,
    unknown_field_message,
)
from bulkpatch.model.relative import SHIFT

if TYPE_CHECKING:
    from _csv import Reader

#: The cell separators a CSV job may use, by the name the --delimiter option gives each.
DELIMITERS = {",": ",", ";": ";", "tab": "\t"}
_DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}


def csv_reader(lines: Iterable[str], delimiter: str = ",") -> Reader:
    """A strict ``csv.reader`` for job files, whose cells may be as long as a whole row.

    The csv module's field limit is one setting for the whole process: it is raised to
    :data:`ROW_CAP` here (never lowered), because a cell refused part-way makes the module
    resume inside the cell.
    """
    if delimiter not in _DELIMITER_NAMES:
        raise ValueError(f"a CSV job's cells are separated by , ; or a tab, not {delimiter!r}")
    if csv.field_size_limit() <= ROW_CAP:
        csv.field_size_limit(ROW_CAP + 1)
    return csv.reader(lines, strict=True, delimiter=delimiter)


@dataclass(frozen=True, slots=True)
class _Column:
    index: int
    name: str
    path: tuple[str, ...]  # () for meetingId, notes and blank headers
    kind: FieldKind | None
    tracking_code: str | None = None


_Plain = tuple[int, str, str | None, FieldKind]  # index, field or object, member, kind


@dataclass(frozen=True, slots=True)
class Layout:
    """What the header says about every record: its columns, and which need work on each row."""

    columns: tuple[_Column, ...]
    active: tuple[_Column, ...]  # field and unnamed columns: the rest matter only for bad text
    id_index: int
    tangled: bool  # tracking-code columns, or an object given whole and by members
    plain: tuple[_Plain, ...] | None  # the field columns, when no column needs special care


class _Record:
    """The first line and the size so far of the record being read."""

    __slots__ = ("size", "start")

    def __init__(self) -> None:
        self.size = 0
        self.start = 1


def _counted(lines: Iterable[str], record: _Record, source: str) -> Iterator[str]:
    """The lines, stopping the read when one record grows past :data:`ROW_CAP` characters."""
    for number, text in enumerate(lines, start=1):
        if not record.size:
            record.start = number
        record.size += len(text)
        if record.size > ROW_CAP:
            raise JobFileError(
                source,
                f"the row that starts on line {record.start} is longer than {ROW_CAP:,} "
                "characters; a job row is far shorter (is a quote never closed, or is this not "
                "a job file?)",
                line=record.start,
                rule="too_long",
            )
        yield text


def csv_records(
    lines: Iterable[str], source: str, delimiter: str
) -> tuple[Layout, Iterator[tuple[int, list[str]]]]:
    """The header's layout (read now), and each non-blank record with its first line."""
    record = _Record()
    reader = csv_reader(_counted(lines, record, source), delimiter)
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
        raise _quoting_error(source, record.start, reader.line_num, exc) from None
    record.size = 0
    return _read_header(header, source, delimiter), _records(reader, record, source)


def _records(reader: Reader, record: _Record, source: str) -> Iterator[tuple[int, list[str]]]:
    try:
        for cells in reader:
            line, record.size = record.start, 0
            if any(cells):
                yield line, cells
    except csv.Error as exc:
        raise _quoting_error(source, record.start, reader.line_num, exc) from None


def _quoting_error(source: str, start: int, line: int, exc: csv.Error) -> JobFileError:
    """The file error for broken CSV: reading on could take a cell's lines for rows."""
    if "end of data" in str(exc):
        message = (
            f"the quoted cell that opens in the row on line {start} is never closed, so the rest "
            "of the file would be one cell; close the quote"
        )
    else:
        where = f"line {line}" if line == start else f"line {line} (in the row from line {start})"
        message = (
            f"broken CSV quoting on {where}: {exc}. A quote inside a quoted cell is written "
            'twice (""). Nothing after it is read: the lines that follow may be the inside of a '
            "cell, not rows"
        )
    return JobFileError(source, message, line=line, rule="csv")


def _read_header(header: list[str], source: str, delimiter: str) -> Layout:
    columns: list[_Column] = []
    problems: list[str] = []
    seen: set[str] = set()
    id_index = 0
    for index, raw in enumerate(header):
        name = raw.removeprefix("\ufeff").strip()
        if name and name in seen:
            problems.append(f"column {name!r} appears twice")
        seen.add(name)
        if is_bad_text(name):
            problems.append(
                undecodable(name, f"the name of column {index + 1}", csv=True, reveal=True)
            )
        elif not name or name.startswith(NOTE_PREFIX) or name == "meetingId":
            columns.append(_Column(index, name, (), None))
            id_index = index if name == "meetingId" else id_index
        elif name.startswith(TRACKING_CODE_PREFIX) and len(name) > len(TRACKING_CODE_PREFIX):
            code = name[len(TRACKING_CODE_PREFIX) :]
            columns.append(_Column(index, name, ("trackingCodes",), FieldKind.STRING, code))
        elif name in FIELDS:
            columns.append(_Column(index, name, tuple(name.split(".")), FIELDS[name].kind))
        elif name == SHIFT:  # not a field: an offset the run resolves into start and end
            columns.append(_Column(index, name, (SHIFT,), FieldKind.STRING))
        else:
            rule, message = unknown_field_message(name)
            hint = (
                f" (to keep it as a note, name it {NOTE_PREFIX}{name})"
                if rule == "read_only"
                else ""
            )
            problems.append(f"{message}{hint}")
    if "meetingId" not in seen:
        _check_delimiter(header, source, delimiter)
        problems.insert(0, "there is no meetingId column; the header row must name one")
    if problems:
        raise JobFileError(source, "; ".join(problems), line=1, field="header", rule="header")
    wholes = {column.path[0] for column in columns if len(column.path) == 1}
    members = {column.path[0] for column in columns if len(column.path) == 2}
    tangled = bool(wholes & members) or any(column.tracking_code for column in columns)
    plain = tuple(
        (c.index, c.path[0], c.path[1] if len(c.path) == 2 else None, c.kind)
        for c in columns
        if c.kind is not None
    )
    return Layout(
        columns=tuple(columns),
        active=tuple(c for c in columns if c.kind is not None or not c.name),
        id_index=id_index,
        tangled=tangled,
        plain=None if tangled or any(not c.name for c in columns) else plain,
    )


def _check_delimiter(header: list[str], source: str, delimiter: str) -> None:
    """A header that names meetingId only inside a cell: the file uses another separator."""
    for name, other in DELIMITERS.items():
        cell = next((cell for cell in header if "meetingId" in cell and other in cell), None)
        if other != delimiter and cell is not None:
            flag = name if other == "\t" else f"'{name}'"
            raise JobFileError(
                source,
                f"the header names meetingId inside the cell {shown(cell[:60])!r}: this file "
                f"separates its cells with {_DELIMITER_NAMES[other]}, not "
                f"{_DELIMITER_NAMES[delimiter]} (Excel saves CSV with semicolons where the "
                f"decimal mark is a comma); run again with --delimiter {flag}",
                line=1,
                field="header",
                rule="delimiter",
            )


_NOTHING: Any = object()  # an empty cell: the field is left as it is


def csv_row(line: int, cells: list[str], layout: Layout) -> JobRow | RowProblem:
    """One record of a CSV job as a row, with a problem for each cell that cannot be read.

    Most rows have nothing wrong and no column that needs care: they take a short path, and
    any surprise on it (a cell that does not read) sends the row down the careful one.
    """
    plain, count = layout.plain, len(cells)
    if (
        plain is None
        or count > len(layout.columns)
        or BOM in cells[0]
        or is_bad_text("".join(cells))
    ):
        return _careful_row(line, cells, layout)
    fields: dict[str, Any] = {}
    for index, top, member, kind in plain:
        if index >= count:
            break
        cell = cells[index]
        if not cell:
            continue
        if kind is _STRING:
            value = None if "null" in cell and cell.strip() == "null" else cell
        else:
            text = cell.strip()
            if not text:
                continue
            try:
                value = None if text == "null" else parse_cell(text, kind)
            except ValueError:
                return _careful_row(line, cells, layout)
        if member is None:
            fields[top] = value
        elif top in fields:
            fields[top][member] = value
        else:
            fields[top] = {member: value}
    id_index = layout.id_index
    return JobRow(line, cells[id_index].strip() if id_index < count else "", fields)


_STRING = FieldKind.STRING


def _careful_row(line: int, cells: list[str], layout: Layout) -> JobRow | RowProblem:
    count = len(cells)
    meeting_id = cells[layout.id_index].strip() if layout.id_index < count else ""
    joined = bom_problem(line, cells[0]) if cells and BOM in cells[0] else None
    if joined is not None:
        # As in a JSON Lines job: the line came with a second file (or a second mark).
        meeting_id = shown(meeting_id.strip(BOM + " \t"))
        if meeting_id.casefold() == "meetingid":
            joined = (
                f"line {line} repeats the header row, after a byte order mark (U+FEFF): two "
                "files were joined into one; delete the line and validate again"
            )
            meeting_id = ""
        return problem(line, "", "encoding", joined, meeting_id)
    bad = is_bad_text("".join(cells))
    if bad:
        meeting_id = shown(meeting_id)
    problems = Problems(line, meeting_id)
    width = len(layout.columns)
    if count > width and any(cells[width:]):
        problems.add(
            "", "extra_cells", f"the row has {count} cells but the header names {width} columns"
        )
    changes = Changes() if layout.tangled else None
    fields: dict[str, Any] = {}
    for column in layout.columns if bad else layout.active:
        if column.index >= count:
            break
        cell = cells[column.index]
        if not cell:
            continue
        if bad and is_bad_text(cell):
            what = f"the {column.name} cell" if column.name else "the cell"
            reveal = not is_secret(column.name)
            problems.add(column.name, "encoding", undecodable(cell, what, csv=True, reveal=reveal))
            continue
        kind = column.kind
        if kind is None:
            if not column.name and cell.strip():
                problems.add("", "unnamed_column", "a cell has a value under a column with no name")
            continue
        if changes is not None and column.tracking_code is not None:
            changes.add_tracking_code(column.tracking_code, cell)
            continue
        value = _read_cell(column.name, kind, cell, problems)
        if value is _NOTHING:
            continue
        if changes is not None:
            problems.add_conflict(column.name, changes.set(column.path, value))
        elif len(column.path) == 1:
            fields[column.path[0]] = value
        else:
            fields.setdefault(column.path[0], {})[column.path[1]] = value
    if changes is not None:
        problems.add_conflict("trackingCodes", changes.finish())
        fields = changes.fields
    return JobRow(line, meeting_id, fields, tuple(problems.findings))


def _read_cell(name: str, kind: FieldKind, cell: str, problems: Problems) -> Any:
    """A non-empty cell's value, or :data:`_NOTHING` (blank, or a problem reported)."""
    if kind is FieldKind.STRING:  # text is sent as written, unless it is the word null
        return None if "null" in cell and cell.strip() == "null" else cell
    text = cell.strip()
    if not text:
        return _NOTHING
    if text == "null":
        return None
    try:
        return parse_cell(text, kind)
    except BadText as exc:
        problems.add(name, "encoding", str(exc))
    except ValueError as exc:
        problems.add(name, "type", str(exc), show_value(name, text))
    return _NOTHING
