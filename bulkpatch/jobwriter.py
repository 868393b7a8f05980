"""Job rows out to a file: the inverse of the job reader, for pull and undo.

A row is a meetingId, its changes in Patch-body shape, and ``#`` notes for people. CSV writes
one column per field path (nested ones dotted) with cells the reader reads back to the same
values; JSON Lines writes ``{"meetingId", "changes", "#note": ...}``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from bulkpatch.jobfile import JobFormat

NOTE = "#"


@dataclass(frozen=True, slots=True)
class OutRow:
    """One row to write: the meeting, its changes (Patch-body shape), and notes by name."""

    meeting_id: str
    changes: dict[str, Any]
    notes: dict[str, str] = field(default_factory=dict)


def value_at(meeting: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of a meeting object, or None when it has none."""
    value: Any = meeting
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"meetingOptions.enabledChat": True}`` -> ``{"meetingOptions": {"enabledChat": True}}``."""
    nested: dict[str, Any] = {}
    for path, value in flat.items():
        parent, _, leaf = path.rpartition(".")
        if parent:
            nested.setdefault(parent, {})[leaf] = value
        else:
            nested[path] = value
    return nested


def flatten(changes: Mapping[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    """The values of ``changes`` at each of ``paths`` that it has."""
    flat: dict[str, Any] = {}
    for path in paths:
        value = value_at(changes, path)
        if value is not None or (path in changes and changes[path] is None):
            flat[path] = value
    return flat


def cell(value: Any) -> str:
    """A CSV cell the job reader reads back as ``value``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def write_rows(
    rows: Iterable[OutRow],
    out: TextIO,
    fmt: JobFormat,
    columns: Sequence[str],
    notes: Sequence[str],
) -> int:
    """Write a job file: ``columns`` are the field paths, ``notes`` the note names (no ``#``)."""
    if fmt is JobFormat.CSV:
        return _write_csv(rows, out, columns, notes)
    count = 0
    for row in rows:
        record: dict[str, Any] = {"meetingId": row.meeting_id, "changes": row.changes}
        record.update({f"{NOTE}{name}": row.notes[name] for name in notes if name in row.notes})
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def _write_csv(
    rows: Iterable[OutRow], out: TextIO, columns: Sequence[str], notes: Sequence[str]
) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["meetingId", *columns, *(f"{NOTE}{name}" for name in notes)])
    count = 0
    for row in rows:
        flat = flatten(row.changes, columns)
        writer.writerow(
            [
                row.meeting_id,
                *(cell(flat[path]) if path in flat else "" for path in columns),
                *(row.notes.get(name, "") for name in notes),
            ]
        )
        count += 1
    return count


def lines(rows: Iterable[OutRow]) -> Iterator[str]:
    """Rows as JSON text, one per row (for keeping them in a temporary store)."""
    for row in rows:
        yield json.dumps([row.meeting_id, row.changes, row.notes], ensure_ascii=False)


def from_line(text: str) -> OutRow:
    """The row :func:`lines` wrote."""
    meeting_id, changes, notes = json.loads(text)
    return OutRow(meeting_id, changes, notes)
