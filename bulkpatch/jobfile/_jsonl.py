"""JSON Lines jobs: one object per line, nested (``changes``) or flat."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

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
    loads,
    problem,
)
from bulkpatch.model import FIELDS, JobRow, RowProblem


def jsonl_records(lines: Iterable[str], source: str) -> Iterator[tuple[int, str]]:
    """Each non-blank line with its number; a line over the row cap stops the read."""
    for line, text in enumerate(lines, start=1):
        if len(text) > ROW_CAP:
            raise JobFileError(
                source,
                f"line {line} is longer than {ROW_CAP:,} characters; a job row is far shorter "
                "(is this a job file?)",
                line=line,
                rule="too_long",
            )
        if text.strip():
            yield line, text


def jsonl_row(line: int, text: str) -> JobRow | RowProblem:
    """One line of a JSON Lines job as a row, or the problem that keeps it from being one."""
    if is_bad_text(text):
        # A line may hold a password anywhere: it is described, never quoted.
        message = undecodable(text.rstrip("\r\n"), "the line", csv=False, reveal=False)
        return problem(line, "", "encoding", message)
    if BOM in text and (joined := bom_problem(line, text)) is not None:
        return problem(line, "", "encoding", joined)
    try:
        record = loads(text)
    except BadText as exc:
        return problem(line, "", "encoding", f"the line cannot be sent: {exc}")
    except (ValueError, RecursionError) as exc:
        return problem(line, "", "json", f"not valid JSON: {exc}")
    return _record_row(line, record)


def _record_row(line: int, record: Any) -> JobRow | RowProblem:
    if not isinstance(record, dict):
        return problem(line, "", "json", "each line must be a JSON object with a meetingId")
    meeting_id = record.get("meetingId")
    if not isinstance(meeting_id, str):
        return problem(line, "meetingId", "required", "meetingId is required and must be a string")
    meeting_id = meeting_id.strip()
    rest = {
        key: value
        for key, value in record.items()
        if key != "meetingId" and not key.startswith(NOTE_PREFIX)
    }
    if "changes" in record:
        given = rest.pop("changes")
        if not isinstance(given, dict):
            return problem(line, "changes", "type", "changes must be a JSON object", meeting_id)
        if rest:
            return problem(
                line,
                next(iter(rest)),
                "layout",
                "with a changes object, put every field inside it",
                meeting_id,
            )
        rest = given
    problems = Problems(line, meeting_id)
    changes = Changes()
    for key, value in rest.items():
        if key.startswith(TRACKING_CODE_PREFIX) and isinstance(value, str):
            changes.add_tracking_code(key[len(TRACKING_CODE_PREFIX) :], value)
        else:
            path = tuple(key.split(".", 1)) if key in FIELDS else (key,)
            problems.add_conflict(key, changes.set(path, value))
    problems.add_conflict("trackingCodes", changes.finish())
    return JobRow(line, meeting_id, changes.fields, tuple(problems.findings))
