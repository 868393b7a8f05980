"""Shared fixtures: an injected clock, the reference example, and job files written on the fly."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

#: The injected clock of the pure rule tests: fixed, so a table of cases never rots.
NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def later(now: datetime, **delta: float) -> str:
    """An ISO 8601 time ``delta`` after ``now``, with its offset."""
    return (now + timedelta(**delta)).isoformat()


@pytest.fixture
def now() -> datetime:
    """The fixed clock the pure rules are checked against."""
    return NOW


@pytest.fixture
def reference_example() -> dict[str, Any]:
    """The API reference's own example: meetingId, request body and response body."""
    data: dict[str, Any] = json.loads((FIXTURES / "reference_example.json").read_text())
    return data


@pytest.fixture
def write_job(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """Write a job file under a temporary folder and return its path."""

    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        return path

    return write
