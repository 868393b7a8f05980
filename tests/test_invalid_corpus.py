"""A corpus of broken job files, each with the error it must produce (tests/invalid_jobs/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import NOW

from bulkpatch.errors import JobFileError
from bulkpatch.model import Severity
from bulkpatch.validation import FindingStore, validate_job

CORPUS = Path(__file__).parent / "invalid_jobs"
EXPECTED: dict[str, dict[str, object]] = json.loads((CORPUS / "expected.json").read_text())


def test_corpus_is_complete() -> None:
    """Every file in the corpus has an expectation, and there are at least 30."""
    files = {path.name for path in CORPUS.iterdir() if path.name != "expected.json"}
    assert files == set(EXPECTED)
    assert len(files) >= 30


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_file_gives_its_error(name: str) -> None:
    """Each broken file is refused with the expected rule at the expected line and field."""
    expected = EXPECTED[name]
    path = CORPUS / name
    with FindingStore() as store:
        if "file_error" in expected:
            with pytest.raises(JobFileError) as caught:
                validate_job(path, NOW, store)
            assert caught.value.rule == expected["file_error"]
            assert str(path) in str(caught.value)
            return
        summary = validate_job(path, NOW, store)
        errors = [f for f in store.findings() if f.severity is Severity.ERROR]
    assert not summary.ok
    assert (expected["line"], expected["field"], expected["rule"]) in [
        (f.line, f.field, f.rule) for f in errors
    ]
