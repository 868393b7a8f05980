"""Journal -> per-row results (CSV or JSONL), and selected rows back out as a job file.

CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
tab or carriage return) are neutralised with a leading apostrophe.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from bulkpatch.errors import JobFileError, JournalError, OutputError
from bulkpatch.jobfile import JobFormat, csv_reader, job_format, open_job
from bulkpatch.journal import Journal, RowRecord, RowStatus, file_hash
from bulkpatch.journal.files import file_kind, looks_like_sqlite
from bulkpatch.redact import printable

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
        "status": str(values["status"]),
        "httpStatus": values["http_status"],
        "attempts": values["attempts"],
        "trackingId": values["tracking_id"],
        "error": values["error"],
        "finishedAt": values["finished_at"],
    }


def runs_as_formula(value: Any) -> bool:
    """Whether a spreadsheet opening this CSV cell would run it as a formula."""
    return isinstance(value, str) and value.startswith(_FORMULA_STARTS)


def neutralise(value: Any) -> Any:
    """A CSV cell a spreadsheet will show as text, never run as a formula."""
    return f"'{value}" if runs_as_formula(value) else value


def write_results(
    rows: Iterable[RowRecord], out: TextIO, fmt: str, *, terminal: bool = False
) -> int:
    """Write per-row results as ``csv`` or ``jsonl``; return how many rows.

    For a ``terminal``, text cells go through :func:`bulkpatch.redact.printable`: a server's
    message cannot drive the screen. A file or a pipe gets the data as it is.
    """
    shown = _printable if terminal else _as_is
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            record = result_record(row)
            writer.writerow([neutralise(shown(record[column])) for column in COLUMNS])
            count += 1
    else:
        for row in rows:
            record = {key: shown(value) for key, value in result_record(row).items()}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def _printable(value: Any) -> Any:
    return printable(value) if isinstance(value, str) else value


def _as_is(value: Any) -> Any:
    return value


def write_as_job(journal: Journal, status: RowStatus, out: TextIO) -> tuple[int, JobFormat]:
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


def check_as_job_output(journal: Journal, output: Path, requested: str | None) -> None:
    """Refuse an ``--as-job`` output whose name or ``--format`` says another format than the job's.

    The rows are copied exactly as written, so a CSV job can only come back as CSV (and JSONL
    as JSONL); under a name that says otherwise, every line of the file would be invalid.
    """
    job = Path(journal.meta.get("job_path", ""))
    try:
        fmt = job_format(job)
    except JobFileError:
        return  # no job to rebuild: write_as_job says so
    suffixes = ".csv" if fmt is JobFormat.CSV else ".jsonl (or .ndjson)"
    try:
        named: JobFormat | None = job_format(output)
    except JobFileError:
        named = None  # no job suffix: not a job file by its name, whatever it holds
    if requested is not None and requested != fmt:
        raise OutputError(
            f"--as-job writes the rows of {job} exactly as written, as {fmt.upper()}; it cannot "
            f"turn them into {requested.upper()}: leave out --format {requested} and name the "
            f"output with {suffixes}"
        )
    if named is not None and named is not fmt:
        raise OutputError(
            f"--as-job writes the rows of {job} exactly as written, as {fmt.upper()}; -o {output} "
            f"names a {named.upper()} job, which would not read: name it with {suffixes}"
        )


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


def protected_paths(journal: Journal) -> list[Path]:
    """What an export must never write onto: the journal, its side files, and its job file."""
    paths = [journal.path, *(Path(f"{journal.path}{s}") for s in ("-wal", "-shm", ".lock"))]
    job = journal.meta.get("job_path")
    return [*paths, Path(job)] if job else paths


@contextmanager
def atomic_output(path: Path, protected: Iterable[Path], *, private: bool) -> Iterator[TextIO]:
    """Write ``path`` through a temporary file renamed into place: a failure leaves no half file.

    Refuses a path that is (or links to) one of ``protected``, and one :func:`check_output`
    refuses. ``private`` files (they may hold the job's passwords) are owner-only; others get
    the usual permissions.
    """
    for other in protected:
        if _same_file(path, other):
            raise OutputError(
                f"refusing to write onto {other}: -o {path} is the "
                f"{'journal' if 'journal' in other.name else 'job file'} itself; choose another "
                "file name"
            )
    check_output(path)
    folder = path.parent if str(path.parent) else Path()
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if not private:
            umask = os.umask(0)
            os.umask(umask)
            Path(temporary).chmod(0o666 & ~umask)
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise


def check_output(path: Path) -> None:
    """Refuse an output path that is not a new or a regular file, or that holds a database.

    The file is renamed over, so whatever is there goes: a device (``-o /dev/null`` as root
    replaced /dev/null), a named pipe, a symbolic link (replaced by a plain file, its target
    left stale), or another job's journal. Nothing is opened but a regular file's first bytes.
    """
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from None
    what = _not_a_plain_file(mode)
    if what is None:
        try:
            is_database = looks_like_sqlite(path)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror}") from None
        what = "an SQLite database (a journal?), which would be destroyed" if is_database else None
    what = what or _companion_of_database(path)
    if what is not None:
        raise OutputError(f"refusing to write onto {path}: it is {what}; choose another file name")


#: Files SQLite and bulkpatch keep beside a journal, by the suffix added to its name.
_COMPANIONS = {
    "-wal": "the write-ahead log",
    "-shm": "the shared-memory index",
    "-journal": "the rollback journal",
    ".lock": "the lock file",
}


def _companion_of_database(path: Path) -> str | None:
    """What a file beside a journal is to it, when ``path`` names one; else None.

    Replacing one would lose the journal's last changes, or hand a second run a fresh lock file
    while the first still holds a lock on the old one.
    """
    for suffix, words in _COMPANIONS.items():
        if not path.name.endswith(suffix):
            continue
        database = path.with_name(path.name.removesuffix(suffix))
        with contextlib.suppress(OSError):
            if database.is_file() and looks_like_sqlite(database):
                return f"{words} of the SQLite database {database.name} (a journal?)"
    return None


def _not_a_plain_file(mode: int) -> str | None:
    """What a file that is not a regular one is, in words (None for a regular file)."""
    if stat.S_ISLNK(mode):
        return "a symbolic link (give the real path if you mean its target)"
    return file_kind(mode)


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths lead to one file (through a symbolic or a hard link too)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False
