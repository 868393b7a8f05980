"""Journal -> per-row results (CSV or JSONL), and selected rows back out as a job file.

CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
tab or carriage return) are neutralised with a leading apostrophe.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from bulkpatch.errors import JournalError
from bulkpatch.jobfile import JobFormat, csv_reader, job_format, open_job
from bulkpatch.journal import Journal, RowRecord, file_hash

COLUMNS = (
    "row",
    "meetingId",
    "status",
    "httpStatus",
    "attempts",
    "trackingId",
    "error",
    "finishedAt",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def result_record(row: RowRecord) -> dict[str, Any]:
    """One row's outcome with the export's keys."""
    values = asdict(row)
    return {
        "row": values["line"],
        "meetingId": values["meeting_id"],
        "status": values["status"],
        "httpStatus": values["http_status"],
        "attempts": values["attempts"],
        "trackingId": values["tracking_id"],
        "error": values["error"],
        "finishedAt": values["finished_at"],
    }


def neutralise(value: Any) -> Any:
    """A CSV cell a spreadsheet will show as text, never run as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return f"'{value}"
    return value


def write_results(rows: Iterable[RowRecord], out: TextIO, fmt: str) -> int:
    """Write per-row results as ``csv`` or ``jsonl``; return how many rows."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            record = result_record(row)
            writer.writerow([neutralise(record[column]) for column in COLUMNS])
            count += 1
    else:
        for row in rows:
            out.write(json.dumps(result_record(row), ensure_ascii=False) + "\n")
            count += 1
    return count


def write_as_job(journal: Journal, status: str, out: TextIO) -> tuple[int, JobFormat]:
    """Write the rows with ``status`` back as a job file in the input's own format.

    The rows come from the job file itself (secrets included, as the user wrote them), so the
    file must be unchanged since the journal was made. A CSV job is re-read with the cell
    separator it was run with, which the journal keeps as ``job_delimiter`` (``,`` if absent).
    """
    meta = journal.meta
    job = Path(meta.get("job_path", ""))
    if not job.is_file():
        raise JournalError(f"the job file {job} is gone; --as-job needs it to rebuild the rows")
    if file_hash(job) != meta.get("job_hash"):
        raise JournalError(
            f"the job file {job} has changed since the run; --as-job needs the original"
        )
    wanted = {row.line for row in journal.rows(only=status)}
    fmt = job_format(job)
    delimiter = meta.get("job_delimiter") or ","
    count = 0
    with open_job(job) as lines:
        try:
            if fmt is JobFormat.CSV:
                header, rows = _csv_records(lines, wanted, delimiter)
                out.write(header)
            else:
                rows = _jsonl_lines(lines, wanted)
            for text in rows:
                out.write(text)
                count += 1
        except csv.Error as exc:
            raise JournalError(
                f"the job file {job} does not read as CSV with cells separated by {delimiter!r} "
                f"({exc}); --as-job cannot rebuild its rows"
            ) from None
    return count, fmt


def _csv_records(
    lines: Iterable[str], wanted: set[int], delimiter: str = ","
) -> tuple[str, Iterator[str]]:
    """The header line, and each wanted record exactly as written (multi-line cells included).

    Records are split as the job reader split them (same separator, same quoting rules), so
    the line numbers the journal holds point at the same records.
    """
    record: list[str] = []
    # The csv reader pulls lines only as far as the record it returns, so ``record`` holds
    # exactly the raw lines of the record just read.
    reader = csv_reader(_recording(lines, record), delimiter)
    next(reader, None)
    header = "".join(record)
    record.clear()

    def records() -> Iterator[str]:
        last = reader.line_num
        for _cells in reader:
            first, last = last + 1, reader.line_num
            text = "".join(record)
            record.clear()
            if first in wanted:
                yield text if text.endswith("\n") else text + "\n"

    return header, records()


def _recording(lines: Iterable[str], record: list[str]) -> Iterator[str]:
    for line in lines:
        record.append(line)
        yield line


def _jsonl_lines(lines: Iterable[str], wanted: set[int]) -> Iterator[str]:
    for number, text in enumerate(lines, start=1):
        if number in wanted:
            yield text if text.endswith("\n") else text + "\n"
