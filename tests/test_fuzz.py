"""Fuzzing the inputs: random bytes, CSV and JSONL through the real `validate` command.

Only clean answers are allowed: exit 0 or 2, never a traceback. The suite runs a short pass;
`BULKPATCH_FUZZ_EXAMPLES=20000 .venv/bin/pytest tests/test_fuzz.py` runs the long one by hand.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkpatch.cli import main
from bulkpatch.model import FIELDS

EXAMPLES = int(os.environ.get("BULKPATCH_FUZZ_EXAMPLES", "80"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def validate_bytes(content: bytes, suffix: str, *options: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        job = Path(folder) / f"job{suffix}"
        job.write_bytes(content)
        result = CliRunner().invoke(main, ["validate", str(job), "--format", "json", *options])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.stdout + result.stderr
    if result.stdout:
        json.loads(result.stdout)  # the report is always one JSON document
    else:
        assert result.stderr.startswith("bulkpatch: error:")


@FUZZ
@given(content=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".jsonl"]))
def test_random_bytes_give_clean_answers(content: bytes, suffix: str) -> None:
    """Any bytes at all: a report or a one-line error, exit 0 or 2."""
    validate_bytes(content, suffix)


cells = st.text(max_size=25) | st.sampled_from(
    ["null", "true", "0", "[]", '["a"]', "{}", "2030-01-01T10:00:00Z", "\ufeff", '"']
)
headers = st.lists(st.sampled_from(sorted(FIELDS)) | st.text(max_size=12), min_size=0, max_size=5)


@FUZZ
@given(header=headers, rows=st.lists(st.lists(cells, max_size=6), max_size=5))
def test_random_csv_gives_clean_answers(header: list[str], rows: list[list[str]]) -> None:
    """CSV with real and made-up columns and odd cells: clean answers only."""
    lines = [",".join(["meetingId", *header])] + [",".join(row) for row in rows]
    validate_bytes("\n".join(lines).encode(), ".csv")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=15),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@FUZZ
@given(
    records=st.lists(
        st.dictionaries(
            st.sampled_from(["meetingId", "changes", *sorted(FIELDS)]) | st.text(max_size=10),
            json_values,
            max_size=5,
        ),
        max_size=5,
    )
)
def test_random_jsonl_gives_clean_answers(records: list[dict[str, object]]) -> None:
    """JSON Lines of random objects: clean answers only."""
    validate_bytes("\n".join(json.dumps(record) for record in records).encode(), ".jsonl")


# --- hostile input (issue 11, part C): quoting, separators, deep values, NULs and surrogates ---

hostile_text = st.text(
    alphabet=st.sampled_from(
        ['"', ",", ";", "\t", "\n", "\r", "\x00", "\udce9", "\ud800", "a", " "]
    ),
    max_size=12,
)
hostile_cells = cells | hostile_text | st.sampled_from(['"a"b', '"open', '""', "\\u0000"])


def nested_value(depth: int, leaf: object) -> object:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@FUZZ
@given(
    header=headers,
    rows=st.lists(st.lists(hostile_cells, max_size=6), max_size=5),
    delimiter=st.sampled_from([",", ";", "\t"]),
    option=st.sampled_from([",", ";", "tab"]),
)
def test_hostile_csv_gives_clean_answers(
    header: list[str], rows: list[list[str]], delimiter: str, option: str
) -> None:
    """Stray quotes, other separators, NULs, bad bytes, any --delimiter: clean answers only."""
    lines = [delimiter.join(["meetingId", *header])] + [delimiter.join(row) for row in rows]
    content = "\n".join(lines).encode("utf-8", "surrogatepass")  # lone surrogates: bad bytes
    validate_bytes(content, ".csv", "--delimiter", option)


@FUZZ
@given(
    depth=st.integers(0, 1_200),
    leaf=json_values | st.sampled_from(["\x00", "\ud800", "a\udfffb", "\udce9"]),
    key=st.sampled_from(["title", "integrationTags", "changes", "meetingId", "\ud800", "x\x00"]),
)
def test_deep_and_escaped_jsonl_gives_clean_answers(depth: int, leaf: object, key: str) -> None:
    """Values nested up to 1,200 deep, escaped NULs and lone surrogates anywhere: clean answers."""
    record = {"meetingId": "m1", key: nested_value(depth, leaf)}
    validate_bytes((json.dumps(record) + "\n").encode(), ".jsonl")
    cell = json.dumps(nested_value(depth, leaf)).replace('"', '""')
    validate_bytes(f'meetingId,integrationTags\nm1,"{cell}"\n'.encode(), ".csv")
