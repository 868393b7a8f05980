"""The streaming job reader: CSV and JSON Lines exactly as SPEC.md section 2 says."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import NOW
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkpatch.errors import JobFileError
from bulkpatch.jobfile import (
    MAX_DEPTH,
    ROW_CAP,
    JobFormat,
    job_format,
    open_job,
    parse_cell,
    read_rows,
)
from bulkpatch.jobfile._csvfile import _careful_row, _read_header, csv_row
from bulkpatch.model import FIELDS, FieldKind, JobRow, RowProblem, check_row


def read(text: str, fmt: JobFormat = JobFormat.CSV) -> list[JobRow | RowProblem]:
    return list(read_rows(io.StringIO(text, newline=""), fmt, "job"))


def only_row(text: str, fmt: JobFormat = JobFormat.CSV) -> JobRow:
    (row,) = read(text, fmt)
    assert isinstance(row, JobRow)
    return row


def test_csv_dotted_columns_become_nested_objects() -> None:
    """Dotted columns build the nested objects of the Patch body."""
    row = only_row(
        "meetingId,meetingOptions.enabledChat,audioConnectionOptions.entryAndExitTone\nm1,true,beep\n"
    )
    assert row.changes == {
        "meetingOptions": {"enabledChat": True},
        "audioConnectionOptions": {"entryAndExitTone": "beep"},
    }


def test_csv_empty_cell_leaves_the_field_untouched() -> None:
    """An empty cell is not sent; the literal null is sent as JSON null."""
    row = only_row("meetingId,title,agenda,publicMeeting\nm1,,null,\n")
    assert row.changes == {"agenda": None}


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("Yes", True),
        ("1", True),
        ("false", False),
        ("no", False),
        ("0", False),
        (" False ", False),
    ],
)
def test_csv_booleans(cell: str, expected: bool) -> None:
    """Booleans accept true/false, yes/no and 1/0 in any case."""
    assert only_row(f"meetingId,sendEmail\nm1,{cell}\n").changes == {"sendEmail": expected}


@pytest.mark.parametrize(
    ("kind", "cell", "message"),
    [
        (FieldKind.BOOLEAN, "maybe", "expected a boolean"),
        (FieldKind.INTEGER, "1.5", "expected a whole number"),
        (FieldKind.JSON, "[1,", "expected a JSON array or object"),
    ],
)
def test_bad_cells_say_what_was_expected(kind: FieldKind, cell: str, message: str) -> None:
    """A cell that does not read as its field's kind says what was expected."""
    with pytest.raises(ValueError, match=message):
        parse_cell(cell, kind)


def test_csv_json_cells_and_tracking_code_columns() -> None:
    """JSON cells hold arrays; trackingCodes.<Name> columns become name/value codes."""
    text = 'meetingId,integrationTags,trackingCodes.Department,trackingCodes.Division\nm1,"[""JIRA-1"",""SF-9""]",Sales,\n'
    row = only_row(text)
    assert row.changes == {
        "integrationTags": ["JIRA-1", "SF-9"],
        "trackingCodes": [{"name": "Department", "value": "Sales"}],
    }


def test_csv_note_columns_are_ignored() -> None:
    """Columns starting with # are for people and never sent."""
    assert only_row("meetingId,#owner,title\nm1,Ana,Hello\n").changes == {"title": "Hello"}


def test_csv_bom_and_quoted_multiline_cells_keep_file_line_numbers(tmp_path: Path) -> None:
    """A BOM is skipped, and a row after a multi-line cell carries its own line in the file."""
    path = tmp_path / "job.csv"
    path.write_bytes('\ufeffmeetingId,agenda\nm1,"first\nsecond\nthird"\nm2,plain\n'.encode())
    with open_job(path) as lines:
        rows = list(read_rows(lines, JobFormat.CSV, str(path)))
    assert [(r.line, r.meeting_id) for r in rows if isinstance(r, JobRow)] == [(2, "m1"), (5, "m2")]
    assert isinstance(rows[0], JobRow)
    assert rows[0].changes == {"agenda": "first\nsecond\nthird"}


def test_csv_blank_lines_are_skipped_and_counted() -> None:
    """Blank lines are skipped without shifting the line numbers of later rows."""
    rows = read("meetingId,title\n\nm1,a\n,\nm2,b\n")
    assert [r.line for r in rows] == [3, 5]


def test_csv_bad_cell_does_not_stop_the_reader() -> None:
    """A row with a cell that does not read as its field's kind is reported and reading goes on."""
    rows = read("meetingId,title,sendEmail\nm1,ok,maybe\nm2,fine,true\n")
    assert isinstance(rows[0], JobRow)
    assert rows[0].problems[0].rule == "type"
    assert isinstance(rows[1], JobRow)
    assert not rows[1].problems


def test_invalid_utf8_is_a_problem_on_its_line(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 make their own row invalid, not the whole file."""
    path = tmp_path / "job.csv"
    path.write_bytes(b"meetingId,title\nm1,caf\xe9\nm2,ok\n")
    with open_job(path) as lines:
        rows = list(read_rows(lines, JobFormat.CSV, str(path)))
    assert isinstance(rows[0], JobRow)
    assert rows[0].problems[0].rule == "encoding"
    assert isinstance(rows[1], JobRow)
    assert rows[1].changes == {"title": "ok"}


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("title,agenda", "no meetingId column"),
        ("meetingId,titel", "did you mean title?"),
        ("meetingId,webLink", "name it #webLink"),
        ("meetingId,title,title", "appears twice"),
    ],
)
def test_csv_header_problems_stop_with_one_clear_error(header: str, message: str) -> None:
    """A bad header is a file error naming line 1 and the problem."""
    with pytest.raises(JobFileError, match=message) as caught:
        read(f"{header}\nm1,a,b\n")
    assert caught.value.line == 1


def test_empty_file_is_a_file_error() -> None:
    """An empty CSV says it needs a header."""
    with pytest.raises(JobFileError, match="empty"):
        read("")


@pytest.mark.parametrize("name", ["job.txt", "job.xlsx", "job"])
def test_wrong_extension_is_a_file_error(name: str) -> None:
    """Only .csv, .jsonl and .ndjson are job files."""
    with pytest.raises(JobFileError, match=r"\.csv, \.jsonl or \.ndjson"):
        job_format(Path(name))


def test_jsonl_nested_and_flat_forms_are_equal() -> None:
    """A changes object and a flat object with dotted keys read the same."""
    nested = only_row(
        '{"meetingId": "m1", "changes": {"meetingOptions": {"enabledChat": true}, "title": "t"}}\n',
        JobFormat.JSONL,
    )
    flat = only_row(
        '{"meetingId": "m1", "meetingOptions.enabledChat": true, "title": "t", "#note": "x"}\n',
        JobFormat.JSONL,
    )
    assert nested.changes == flat.changes == {"meetingOptions": {"enabledChat": True}, "title": "t"}


def test_jsonl_blank_lines_skipped_and_bad_lines_reported() -> None:
    """Blank lines are skipped; a line that is not an object is a problem on its own line."""
    rows = read(
        '\n{"meetingId": "m1", "title": "a"}\n[1]\n{"meetingId": 5}\nnot json\n', JobFormat.JSONL
    )
    assert [(type(r).__name__, r.line) for r in rows] == [
        ("JobRow", 2),
        ("RowProblem", 3),
        ("RowProblem", 4),
        ("RowProblem", 5),
    ]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ('{"meetingId": "m1", "changes": [1]}', "type"),
        ('{"meetingId": "m1", "changes": {}, "title": "t"}', "layout"),
        (
            '{"meetingId": "m1", "meetingOptions": {"enabledChat": true}, "meetingOptions.enabledVideo": true}',
            "conflict",
        ),
    ],
)
def test_jsonl_layout_problems(text: str, rule: str) -> None:
    """Mixing the nested and flat layouts, or a non-object changes, is reported."""
    rows = read(text + "\n", JobFormat.JSONL)
    problems = rows[0].findings if isinstance(rows[0], RowProblem) else rows[0].problems
    assert problems[0].rule == rule


def test_reader_streams_one_row_at_a_time() -> None:
    """Rows come out before the input has been read to its end."""
    consumed = 0

    def lines() -> Iterator[str]:
        nonlocal consumed
        yield "meetingId,title\r\n"
        for index in range(1_000_000):
            consumed += 1
            yield f"m{index},t\r\n"

    rows = read_rows(lines(), JobFormat.CSV, "job")
    first = next(rows)
    assert isinstance(first, JobRow)
    assert first.meeting_id == "m0"
    assert consumed < 10


# --- properties ------------------------------------------------------------------------------

cell_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
csv_fields = st.sampled_from(
    sorted(name for name in FIELDS if FIELDS[name].kind is not FieldKind.JSON or "." not in name)
)


@settings(max_examples=200, deadline=None)
@given(cells=st.dictionaries(csv_fields, cell_text, min_size=1, max_size=5), meeting_id=cell_text)
def test_any_cell_text_gives_a_row_or_a_clean_error(cells: dict[str, str], meeting_id: str) -> None:
    """Whatever the cells hold, reading and checking give a row or findings, never an exception."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["meetingId", *cells])
    writer.writerow([meeting_id, *cells.values()])
    for item in read(buffer.getvalue()):
        if isinstance(item, JobRow):
            check_row(item, NOW)


# An empty cell and the word null mean something else in CSV than in JSON, by design.
json_scalars = (
    st.booleans()
    | st.integers(-5, 200)
    | cell_text.filter(lambda text: text.strip() not in {"", "null"})
)


@settings(max_examples=200, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from(
            [
                "title",
                "sendEmail",
                "reminderTime",
                "meetingOptions.enabledChat",
                "audioConnectionOptions.entryAndExitTone",
                "agenda",
            ]
        ),
        json_scalars,
        min_size=1,
    )
)
def test_csv_and_jsonl_forms_of_a_job_give_equal_patches(changes: dict[str, Any]) -> None:
    """The same job written as CSV and as JSONL checks to the same body and findings."""
    kinds = {name: FIELDS[name].kind for name in changes}
    as_text = {name: _cell(value, kinds[name]) for name, value in changes.items()}
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([["meetingId", *as_text], ["m1", *as_text.values()]])
    from_csv = read(buffer.getvalue())
    from_jsonl = read(json.dumps({"meetingId": "m1", **changes}) + "\n", JobFormat.JSONL)
    checked_csv = [check_row(r, NOW) for r in from_csv if isinstance(r, JobRow)]
    checked_jsonl = [check_row(r, NOW) for r in from_jsonl if isinstance(r, JobRow)]
    if not checked_csv or not checked_jsonl:
        return
    if checked_csv[0].is_valid and checked_jsonl[0].is_valid:
        assert checked_csv[0].body == checked_jsonl[0].body


def _cell(value: Any, kind: FieldKind) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_example_jobs_in_both_formats_agree(write_job: Callable[[str, str], Path]) -> None:
    """Each example job in jobs/ reads to the same changes from its CSV and its JSONL."""
    jobs = Path(__file__).parent.parent / "jobs"
    for csv_path in sorted(jobs.glob("*.csv")):
        jsonl_path = csv_path.with_suffix(".jsonl")
        if not jsonl_path.exists():
            continue
        with open_job(csv_path) as a, open_job(jsonl_path) as b:
            rows_a = [r for r in read_rows(a, JobFormat.CSV, "a") if isinstance(r, JobRow)]
            rows_b = [r for r in read_rows(b, JobFormat.JSONL, "b") if isinstance(r, JobRow)]
        assert [(r.meeting_id, r.changes) for r in rows_a] == [
            (r.meeting_id, r.changes) for r in rows_b
        ], csv_path


# --- input that must not smuggle rows in (issue 11, part C) ----------------------------------

SMUGGLED = "victim42,smuggled title"


@pytest.mark.parametrize("size", [131_073, 500_000])
def test_quoted_cell_over_the_old_field_limit_stays_one_cell(size: int) -> None:
    """A quoted cell longer than the csv module's default limit is one cell, never rows."""
    agenda = "x" * size + "\n" + SMUGGLED + "\n" + "end"
    rows = read(f'meetingId,title\nm1,"{agenda}"\nm2,after\n')
    assert [(r.line, r.meeting_id) for r in rows] == [(2, "m1"), (5, "m2")]
    assert isinstance(rows[0], JobRow)
    assert rows[0].changes == {"title": agenda}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('meetingId,title\nm1,"a"b\nm2,ok\n', 2, "broken CSV quoting on line 2"),
        (
            f'meetingId,title\nm1,"bring "notes"\n{SMUGGLED}\n"\n',
            2,
            "broken CSV quoting on line 2",
        ),
        (
            f'meetingId,title\nm1,"line one\nsays "hi" to all\n{SMUGGLED}\n"\n',
            3,
            "line 3 (in the row from line 2)",
        ),
        (f'meetingId,title\nm1,"never closed\n{SMUGGLED}\n', 3, "opens in the row on line 2"),
        ('meetingId,"title\n', 1, "never closed"),
    ],
)
def test_broken_quoting_refuses_the_file(text: str, line: int, message: str) -> None:
    """Every CSV parse error stops the read: the lines after it may be the inside of a cell."""
    with pytest.raises(JobFileError, match=re.escape(message)) as caught:
        read(text)
    assert (caught.value.rule, caught.value.line, caught.value.path) == ("csv", line, "job")


@pytest.mark.parametrize(
    ("text", "fmt", "line"),
    [
        ('meetingId,title\nm1,"' + "x\n" * (ROW_CAP // 2 + 1) + '"\n', JobFormat.CSV, 2),
        ("meetingId,title\nm1," + "x" * ROW_CAP + "\n", JobFormat.CSV, 2),
        ('{"meetingId": "m1", "title": "' + "x" * ROW_CAP + '"}\n', JobFormat.JSONL, 1),
    ],
    ids=["csv-multi-line", "csv-one-line", "jsonl"],
)
def test_a_row_over_the_cap_refuses_the_file(text: str, fmt: JobFormat, line: int) -> None:
    """A row longer than ROW_CAP characters is a file error naming its line, not a row."""
    with pytest.raises(JobFileError, match=f"longer than {ROW_CAP:,} characters") as caught:
        read(text, fmt)
    assert (caught.value.rule, caught.value.line) == ("too_long", line)


def test_a_file_with_no_line_end_is_read_in_bounded_pieces(tmp_path: Path) -> None:
    """open_job hands out no line longer than the cap, so a file without line ends stops early."""
    path = tmp_path / "job.jsonl"
    path.write_text("x" * (3 * ROW_CAP))
    with open_job(path) as lines:
        assert len(next(lines)) == ROW_CAP + 1
        with pytest.raises(JobFileError, match="line 1 is longer"):
            list(read_rows(lines, JobFormat.JSONL, str(path)))


def make_fifo(path: Path) -> None:
    os.mkfifo(path)


def link_dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def make_folder(path: Path) -> None:
    path.mkdir()


@pytest.mark.parametrize("make", [make_fifo, link_dev_zero, make_folder])
def test_only_regular_files_are_opened(tmp_path: Path, make: Callable[[Path], None]) -> None:
    """A FIFO, a device (/dev/zero) or a folder named like a job is refused, without blocking."""
    path = tmp_path / "job.csv"
    make(path)
    with pytest.raises(JobFileError, match="not a regular file") as caught, open_job(path):
        pass
    assert caught.value.path == str(path)


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_csv_cells_separated_by_semicolons_or_tabs(delimiter: str) -> None:
    """With its delimiter, a semicolon or tab CSV reads like a comma one, quoting included."""
    text = f'meetingId{delimiter}title{delimiter}sendEmail\nm1{delimiter}"a{delimiter}b, c"{delimiter}true\n'
    (row,) = read_rows(io.StringIO(text, newline=""), JobFormat.CSV, "job", delimiter=delimiter)
    assert isinstance(row, JobRow)
    assert row.changes == {"title": f"a{delimiter}b, c", "sendEmail": True}


@pytest.mark.parametrize(
    ("header", "delimiter", "hint"),
    [
        ("meetingId;title", ",", "--delimiter ';'"),
        ("meetingId\ttitle", ",", "--delimiter tab"),
        ("meetingId,title", ";", "--delimiter ','"),
    ],
)
def test_header_in_one_cell_names_the_delimiter(header: str, delimiter: str, hint: str) -> None:
    """A header that holds meetingId inside one cell says which separator the file uses."""
    with pytest.raises(JobFileError, match=re.escape(hint)) as caught:
        list(read_rows(io.StringIO(f"{header}\nm1\n"), JobFormat.CSV, "job", delimiter=delimiter))
    assert (caught.value.rule, caught.value.line) == ("delimiter", 1)


def test_an_unknown_delimiter_is_refused() -> None:
    """Only comma, semicolon and tab separate cells."""
    with pytest.raises(ValueError, match=re.escape("not '|'")):
        list(read_rows(io.StringIO("meetingId\n"), JobFormat.CSV, "job", delimiter="|"))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 495, 980, 5_000])
def test_deeply_nested_json_is_a_row_problem(depth: int) -> None:
    """Arrays nested past MAX_DEPTH are a problem of their row, in a CSV cell and in JSONL."""
    (cell,) = read(f"meetingId,integrationTags\nm1,{nested(depth)}\n")
    assert isinstance(cell, JobRow)
    assert [(p.field, p.rule) for p in cell.problems] == [("integrationTags", "type")]
    (line,) = read(f'{{"meetingId": "m1", "title": {nested(depth)}}}\n', JobFormat.JSONL)
    assert isinstance(line, RowProblem)
    assert line.findings[0].rule == "json"


def test_nesting_up_to_the_limit_is_read() -> None:
    """MAX_DEPTH levels are still a value (the rules then say what is wrong with it)."""
    assert parse_cell(nested(MAX_DEPTH), FieldKind.JSON) is not None


@pytest.mark.parametrize("escape", ["\\u0000", "\\ud800", "\\udfff", "\\udce9"])
def test_escaped_nul_or_lone_surrogate_makes_the_row_invalid(escape: str) -> None:
    """NULs and lone surrogates written as JSON escapes are caught like raw ones."""
    (line,) = read(f'{{"meetingId": "m1", "title": "a{escape}b"}}\n', JobFormat.JSONL)
    assert isinstance(line, RowProblem)
    assert line.findings[0].rule == "encoding"
    (key,) = read(f'{{"meetingId": "m{escape}", "title": "t"}}\n', JobFormat.JSONL)
    assert isinstance(key, RowProblem)
    assert key.meeting_id is None
    (cell,) = read(f'meetingId,integrationTags\nm1,"[""a{escape}""]"\n')
    assert isinstance(cell, JobRow)
    assert [(p.field, p.rule) for p in cell.problems] == [("integrationTags", "encoding")]


JOB_TEXT = {
    "csv": "meetingId,title\r\nm1,Café\r\n",
    "jsonl": '{"meetingId": "m1", "title": "Café"}\n',
}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize(
    ("codec", "name"),
    [
        ("utf-16", "UTF-16"),  # with a byte order mark, as Excel's "Unicode Text" saves
        ("utf-16-le", "UTF-16"),
        ("utf-16-be", "UTF-16"),
        ("utf-32", "UTF-32"),
        ("utf-32-le", "UTF-32"),
    ],
)
def test_a_utf16_job_is_refused_saying_so(tmp_path: Path, fmt: str, codec: str, name: str) -> None:
    """A job saved as UTF-16 or UTF-32, with a byte order mark or without, is refused before a
    line is read, naming the file, what it is and how to save it as UTF-8 (it said the header
    had no meetingId, or that every line held a NUL)."""
    path = tmp_path / f"job.{fmt}"
    path.write_bytes(JOB_TEXT[fmt].encode(codec))
    with pytest.raises(JobFileError) as caught, open_job(path):
        pass
    assert caught.value.rule == "encoding"
    assert str(caught.value).startswith(f"{path}: this file is {name}; save it as ")
    assert ("CSV UTF-8" in str(caught.value)) is (fmt == "csv")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_utf8_with_or_without_bom_is_read(tmp_path: Path, fmt: str) -> None:
    """UTF-8 is read whether or not Excel put a byte order mark before it."""
    for codec in ("utf-8", "utf-8-sig"):
        path = tmp_path / f"job-{codec}.{fmt}"
        path.write_bytes(JOB_TEXT[fmt].encode(codec))
        with open_job(path) as lines:
            (row,) = read_rows(lines, JobFormat(fmt), str(path))
        assert isinstance(row, JobRow)
        assert (row.meeting_id, row.changes, row.problems) == ("m1", {"title": "Café"}, ())


def test_a_windows_1252_cell_says_what_its_bytes_are(tmp_path: Path) -> None:
    """A cell saved as Windows-1252 (Excel's "CSV" on Windows) names its line, the byte that is
    not UTF-8, the cell as written and as Windows-1252 reads it, and how to save the file;
    a password cell is never quoted."""
    path = tmp_path / "job.csv"
    path.write_bytes("meetingId,title,password\nm1,Café “x”,pässword\n".encode("cp1252"))
    with open_job(path) as lines:
        (row,) = read_rows(lines, JobFormat.CSV, str(path))
    assert isinstance(row, JobRow)
    assert [(p.line, p.field, p.rule, p.message) for p in row.problems] == [
        (
            2,
            "title",
            "encoding",
            "the title cell is not UTF-8 text (byte 0xE9, character 4: "
            "'Caf\\xe9 \\x93x\\x94'); the file was probably saved as Windows-1252 (ANSI) or "
            "Latin-1, where this reads 'Café “x”': save it as CSV UTF-8 and validate again",
        ),
        (
            2,
            "password",
            "encoding",
            "the password cell is not UTF-8 text (byte 0xE4, character 2); the file was "
            "probably saved as Windows-1252 (ANSI) or Latin-1: save it as CSV UTF-8 and validate "
            "again",
        ),
    ]


def test_a_windows_1252_header_names_its_column(tmp_path: Path) -> None:
    """A header saved as Windows-1252 names the column and what its name reads as."""
    path = tmp_path / "job.csv"
    path.write_bytes("meetingId,Título\nm1,x\n".encode("cp1252"))
    with pytest.raises(JobFileError) as caught, open_job(path) as lines:
        list(read_rows(lines, JobFormat.CSV, str(path)))
    assert caught.value.message == (
        "the name of column 2 is not UTF-8 text (byte 0xED, character 2: 'T\\xedtulo'); "
        "the file was probably saved as Windows-1252 (ANSI) or Latin-1, where this reads "
        "'Título': save it as CSV UTF-8 and validate again"
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            '{"meetingId": "m1", "password": "pässword"}\n'.encode("cp1252"),
            "the line is not UTF-8 text (byte 0xE4, character 35); the file was probably "
            "saved as Windows-1252 (ANSI) or Latin-1: save it as UTF-8 and validate again",
        ),
        (
            b'{"meetingId": "m1", "title": "a\x00b"}\n',
            "the line holds a NUL character (byte 00), which is not text; is this a job file?",
        ),
    ],
    ids=["windows-1252", "nul"],
)
def test_a_jsonl_line_that_is_not_utf8_says_why_without_quoting_it(
    tmp_path: Path, raw: bytes, message: str
) -> None:
    """A JSON Lines line with bytes that are not UTF-8 says which byte and where, never what the
    line holds (it may hold a password anywhere); a NUL is told apart."""
    path = tmp_path / "job.jsonl"
    path.write_bytes(raw)
    with open_job(path) as lines:
        (line,) = read_rows(lines, JobFormat.JSONL, str(path))
    assert isinstance(line, RowProblem)
    assert [(f.line, f.rule, f.message) for f in line.findings] == [(1, "encoding", message)]


@pytest.mark.parametrize(
    ("raw", "shown"),
    [(b"caf\xe9", "caf\\xe9"), (b"m\x001", "m\\x001"), (b"\xff\xfe", "\\xff\\xfe")],
)
def test_an_unreadable_meeting_id_is_kept_as_escapes(
    tmp_path: Path, raw: bytes, shown: str
) -> None:
    """A meetingId with bytes that are not UTF-8 (or a NUL) is invalid and shown as escapes."""
    path = tmp_path / "job.csv"
    path.write_bytes(b"meetingId,title\n" + raw + b",t\n")
    with open_job(path) as lines:
        (row,) = read_rows(lines, JobFormat.CSV, str(path))
    assert isinstance(row, JobRow)
    assert row.meeting_id == shown
    assert [(p.field, p.rule, p.meeting_id) for p in row.problems] == [
        ("meetingId", "encoding", shown)
    ]
    row.meeting_id.encode("utf-8")  # storable and printable


plain_columns = st.lists(
    st.sampled_from(sorted(FIELDS)) | st.sampled_from(["#note", "#owner"]), unique=True, max_size=6
)
row_cells = st.lists(
    cell_text | st.sampled_from(["null", " null ", "true", "maybe", "7", "x7", "[1]", "[", "{}"]),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(columns=plain_columns, cells=row_cells, meeting_id=cell_text)
def test_the_short_path_reads_rows_as_the_careful_one(
    columns: list[str], cells: list[str], meeting_id: str
) -> None:
    """Rows with nothing special take a short path; it gives exactly what the careful one does."""
    layout = _read_header(["meetingId", *columns], "job", ",")
    record = [meeting_id, *cells]
    assert csv_row(2, record, layout) == _careful_row(2, record, layout)


MARK = "a byte order mark (U+FEFF)"
JOINED = (
    "which begins a file, not a line: were files joined together? Delete the mark (join files "
    "without their marks) and validate again"
)
JOINED_SPACES = (
    "which begins a file, not a line: were files joined together? Delete the spaces and the "
    "mark (join files without their marks) and validate again"
)
ALONE = (
    "an invisible character that begins a file: were files joined together? Delete the line "
    "and validate again"
)


@pytest.mark.parametrize(
    ("raw", "found"),
    [
        (
            '{"meetingId": "m1", "title": "a"}\n'.encode("utf-8-sig")
            + '{"meetingId": "m2", "title": "b"}\n'.encode("utf-8-sig"),
            [
                (
                    2,
                    "line 2 starts with a byte order mark (U+FEFF), which begins a file, not a "
                    "line: were files joined together? Delete the mark (join files without their "
                    "marks) and validate again",
                )
            ],
        ),
        (
            '{"meetingId": "m1", "title": "a"}\n'.encode("utf-8-sig").replace(
                b"{", b"\xef\xbb\xbf{"
            ),
            [
                (
                    1,
                    "the file starts with two byte order marks (U+FEFF); delete one and validate again",
                )
            ],
        ),
        (
            b'{"meetingId": "m1", "title": "a"}\n  \xef\xbb\xbf{"meetingId": "m2", "title": "b"}\n',
            [(2, f"line 2 starts with spaces and then {MARK}, {JOINED_SPACES}")],
        ),
        (
            b'{"meetingId": "m1", "title": "a"}\n\xef\xbb\xbf\r\n{"meetingId": "m2"}\n',
            [(2, f"line 2 holds nothing but {MARK}, {ALONE}")],
        ),
        (
            b' \xef\xbb\xbf{"meetingId": "m1", "title": "a"}\n',
            [
                (
                    1,
                    f"the file starts with spaces and then {MARK}, which belongs at the very "
                    "start of a file or nowhere: delete the spaces and the mark and validate again",
                )
            ],
        ),
    ],
    ids=["joined files", "two marks", "spaces then a mark", "a mark alone", "spaces first"],
)
def test_a_jsonl_line_starting_with_a_byte_order_mark_is_named(
    tmp_path: Path, raw: bytes, found: list[tuple[int, str]]
) -> None:
    """A byte order mark the reader did not take away (a second file's, joined on) is named as
    one, not given JSON's "Expecting value"; the other rows are read."""
    path = tmp_path / "job.jsonl"
    path.write_bytes(raw)
    with open_job(path) as lines:
        rows = list(read_rows(lines, JobFormat.JSONL, str(path)))
    problems = [item for item in rows if isinstance(item, RowProblem)]
    assert [(p.line, f.rule, f.message) for p in problems for f in p.findings] == [
        (line, "encoding", message) for line, message in found
    ]
    assert len(rows) - len(problems) == len(raw.splitlines()) - len(found)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (
            "meetingId,title\nm1,a\n\ufeffm2,b\n",
            (3, f"line 3 starts with {MARK}, {JOINED}", "m2"),
        ),
        (
            "title,meetingId\na,m1\n\ufeffb,m2\n",
            (3, f"line 3 starts with {MARK}, {JOINED}", "m2"),
        ),
        (
            "meetingId,title\nm1,a\n  \ufeffm2,b\n",
            (3, f"line 3 starts with spaces and then {MARK}, {JOINED_SPACES}", "m2"),
        ),
        ("meetingId,title\nm1,a\n\ufeff\n", (3, f"line 3 holds nothing but {MARK}, {ALONE}", None)),
        (
            "meetingId,title\nm1,a\n\ufeffmeetingId,title\n",
            (
                3,
                "line 3 repeats the header row, after a byte order mark (U+FEFF): two files "
                "were joined into one; delete the line and validate again",
                None,
            ),
        ),
    ],
    ids=[
        "joined files",
        "mark before a title",
        "spaces then a mark",
        "a mark alone",
        "header again",
    ],
)
def test_a_csv_line_starting_with_a_byte_order_mark_is_named(
    text: str, found: tuple[int, str, str | None]
) -> None:
    """A CSV line that starts with a byte order mark (after spaces too, or alone) is named as a
    joined file's, as in JSON Lines, instead of an invisible character in the meetingId (or in
    a title, sent as written); the other rows are read."""
    rows = read(text)
    problems = [item for item in rows if isinstance(item, RowProblem)]
    assert [(p.line, f.rule, f.message, p.meeting_id) for p in problems for f in p.findings] == [
        (found[0], "encoding", found[1], found[2])
    ]
    assert [row.meeting_id for row in rows if isinstance(row, JobRow)] == ["m1"]
