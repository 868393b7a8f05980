"""The streaming job reader: CSV and JSON Lines exactly as SPEC.md section 2 says."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import NOW
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkpatch.errors import JobFileError
from bulkpatch.jobfile import JobFormat, job_format, open_job, parse_cell, read_rows
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


def test_csv_broken_row_does_not_stop_the_reader() -> None:
    """A row with a bad quote or a bad cell is reported and reading goes on."""
    rows = read('meetingId,title,sendEmail\nm1,"a"b,true\nm2,ok,maybe\nm3,fine,true\n')
    assert isinstance(rows[0], RowProblem)
    assert rows[0].line == 2
    assert isinstance(rows[1], JobRow)
    assert rows[1].problems[0].rule == "type"
    assert isinstance(rows[2], JobRow)
    assert not rows[2].problems


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
