"""Job rows written out read back as the same rows (CSV and JSONL)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from bulkpatch.jobfile import JobFormat, read_rows
from bulkpatch.jobwriter import OutRow, cell, nest, write_rows
from bulkpatch.model import JobRow

ROWS = [
    OutRow(
        "a1",
        nest(
            {
                "title": 'Quarterly, "all hands"\nsecond line',
                "meetingOptions.enabledChat": False,
                "reminderTime": 15,
                "integrationTags": ["JIRA-1", "SF-9"],
                "trackingCodes": [{"name": "Dept", "value": "R&D"}],
            }
        ),
        {"title": "x", "host": "ana@example.com"},
    ),
    OutRow("b2", {"title": "plain"}, {}),
]
COLUMNS = [
    "title",
    "meetingOptions.enabledChat",
    "reminderTime",
    "integrationTags",
    "trackingCodes",
]


@pytest.mark.parametrize("fmt", [JobFormat.CSV, JobFormat.JSONL])
def test_written_rows_read_back_the_same(fmt: JobFormat) -> None:
    """What the writer writes, the job reader reads back to the same meetings and changes."""
    out = io.StringIO()
    assert write_rows(ROWS, out, fmt, COLUMNS, ["title", "host"]) == 2
    read = list(read_rows(io.StringIO(out.getvalue(), newline=""), fmt, "job"))
    assert all(isinstance(row, JobRow) and not row.problems for row in read)
    assert [(row.meeting_id, row.changes) for row in read] == [  # type: ignore[union-attr]
        (row.meeting_id, row.changes) for row in ROWS
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (False, "false"), (5, "5"), ("x y", "x y"), (["a"], '["a"]'), (None, "null")],
)
def test_cells(value: Any, text: str) -> None:
    """Each kind of value becomes the cell the reader turns back into it."""
    assert cell(value) == text
