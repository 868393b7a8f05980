"""The job file reader: CSV or JSON Lines in, one :class:`JobRow` or :class:`RowProblem` out per row.

It streams: rows come one at a time from any iterable of text lines, so a file of a million rows
never sits in memory. A broken row becomes a ``RowProblem`` and reading goes on. A file that
cannot be read safely stops with :class:`JobFileError`: wrong kind, not a regular file, a bad
header, a row over :data:`ROW_CAP` characters, or broken CSV quoting (past a broken quote the
next lines may be the inside of a cell, and a cell's text must never become a row). The file is
opened with ``errors="surrogateescape"`` so that bytes that are not UTF-8 reach the reader as
lone surrogates and make their row invalid instead of ending the read.

Reading comes in two steps, so that rows can be made in other processes: :func:`read_records`
splits the file into records and raises every file error; the :data:`RowMaker` it returns turns
one record into a row and never raises.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

from bulkpatch.errors import JobFileError
from bulkpatch.jobfile._csvfile import DELIMITERS, csv_reader, csv_records, csv_row
from bulkpatch.jobfile._encoding import SNIFF_BYTES, wide_encoding, wide_file_message
from bulkpatch.jobfile._jsonl import jsonl_records, jsonl_row
from bulkpatch.jobfile._rows import (
    NOTE_PREFIX,
    ROW_CAP,
    TRACKING_CODE_PREFIX,
    parse_cell,
)
from bulkpatch.model import MAX_DEPTH, JobRow, RowProblem

__all__ = [
    "DELIMITERS",
    "MAX_DEPTH",
    "NOTE_PREFIX",
    "ROW_CAP",
    "TRACKING_CODE_PREFIX",
    "JobFormat",
    "RowMaker",
    "csv_reader",
    "job_format",
    "meeting_ids",
    "open_job",
    "parse_cell",
    "read_records",
    "read_rows",
]

#: Turns one record (its first line, and its cells or text) into a row; picklable, never raises.
RowMaker = Callable[[int, Any], JobRow | RowProblem]


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
def open_job(path: Path) -> Iterator[Iterator[str]]:
    """The lines of a job file: UTF-8 with or without BOM, newlines as written.

    A file in UTF-16 or UTF-32 (Excel's "Unicode Text") is refused before a line is read,
    saying so: read as UTF-8, every character of it would be a NUL and another byte.

    Only a regular file is read (a FIFO, a device such as /dev/zero, or a directory is
    refused), and no line is read past :data:`ROW_CAP` characters, so memory stays bounded
    whatever the path points at.
    """
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer before it can be refused.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise JobFileError(
            str(path), f"cannot read the job file: {exc.strerror}", rule="unreadable"
        ) from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise JobFileError(
            str(path),
            "not a regular file (a directory, FIFO or device); give the path of a job file",
            rule="not_a_file",
        )
    os.set_blocking(fd, True)
    wide = wide_encoding(os.pread(fd, SNIFF_BYTES, 0))
    if wide is not None:
        os.close(fd)
        csv = path.suffix.lower() == ".csv"
        raise JobFileError(str(path), wide_file_message(wide, csv), rule="encoding")
    with os.fdopen(fd, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        yield iter(partial(handle.readline, ROW_CAP + 1), "")


def read_records(
    lines: Iterable[str], fmt: JobFormat, source: str, *, delimiter: str = ","
) -> tuple[RowMaker, Iterator[tuple[int, Any]]]:
    """How to make a row of this job, and its records in file order (each with its first line).

    A CSV header is read at once (its errors are raised here); every other file error is raised
    while the records are read. ``source`` names the file in errors; ``delimiter`` separates a
    CSV job's cells (``,``, ``;`` or a tab) and is ignored for JSON Lines.
    """
    if fmt is JobFormat.CSV:
        layout, records = csv_records(lines, source, delimiter)
        return partial(csv_row, layout=layout), records
    return jsonl_row, jsonl_records(lines, source)


def read_rows(
    lines: Iterable[str], fmt: JobFormat, source: str, *, delimiter: str = ","
) -> Iterator[JobRow | RowProblem]:
    """Rows of a job file, in file order; see :func:`read_records` for the arguments."""
    make_row, records = read_records(lines, fmt, source, delimiter=delimiter)
    for line, record in records:
        yield make_row(line, record)


def meeting_ids(path: Path, *, delimiter: str = ",") -> Iterator[str]:
    """Every meetingId a job file names, in file order (rows with problems included)."""
    with open_job(path) as lines:
        for item in read_rows(lines, job_format(path), str(path), delimiter=delimiter):
            if item.meeting_id:
                yield item.meeting_id
