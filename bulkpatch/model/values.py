"""Plain values passed between the reader, the rules and the commands."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bulkpatch.model.patch import SECRET_FIELDS

MASK = "********"


class Severity(StrEnum):
    """An error makes a row invalid; a warning is valid but worth a second look."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem with one row: where it is, which rule, and what to do about it."""

    severity: Severity
    line: int
    field: str
    rule: str
    message: str
    value: str | None = None
    meeting_id: str | None = None

    def describe(self, path: str) -> str:
        """``path:line: severity: field = value [rule]: message``, secrets already masked."""
        where = f"{path}:{self.line}"
        shown = "" if self.value is None else f" = {self.value}"
        field = self.field or "(row)"
        return f"{where}: {self.severity}: {field}{shown} [{self.rule}]: {self.message}"


@dataclass(frozen=True, slots=True)
class JobRow:
    """One row as read from a job file: its first line, the meeting, and the changes in body shape.

    ``problems`` are the reader's errors for cells it could not read (those cells are left out
    of ``changes``), so that the rules still report everything else wrong with the row.
    """

    line: int
    meeting_id: str
    changes: dict[str, Any]
    problems: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A line the reader could not read as a row at all (bad CSV or JSON); reading goes on."""

    line: int
    findings: tuple[Finding, ...]
    meeting_id: str | None = None


@dataclass(frozen=True, slots=True)
class ValidatedRow:
    """A row after validation, as the engine needs it: the body to send, or why not."""

    line: int
    meeting_id: str
    body: dict[str, Any] | None
    error: str | None = None


def is_secret(path: str) -> bool:
    """Whether the field at this dotted path holds a secret."""
    return path.rsplit(".", 1)[-1] in SECRET_FIELDS


def show_value(path: str, value: Any, limit: int = 60) -> str:
    """A value as it appears in a message: secrets masked, long text shortened."""
    if is_secret(path):
        return MASK
    if isinstance(value, str):
        if len(value) > limit:
            return f"{value[: limit - 20]!r}… ({len(value)} chars)"
        return repr(value)
    text = _compact_json(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def mask_secrets(body: Any, names: Collection[str] = SECRET_FIELDS) -> Any:
    """A copy of a patch body (or any JSON value) with every field named in ``names`` masked."""
    if isinstance(body, dict):
        return {
            key: MASK if key in names and value is not None else mask_secrets(value, names)
            for key, value in body.items()
        }
    if isinstance(body, list):
        return [mask_secrets(item, names) for item in body]
    return body


def _compact_json(value: Any) -> str:
    try:
        return json.dumps(mask_secrets(value), ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return "(nested too deep to show)" if too_deep(value) else repr(value)


#: No value of a job, a snapshot or a request is nested deeper: the API's objects go 3 deep.
MAX_DEPTH = 32


def too_deep(value: Any) -> bool:
    """Whether a JSON value nests more than :data:`MAX_DEPTH` levels (checked without recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False
