"""What both formats share: limits, safe text, JSON values, and building one row's changes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from bulkpatch.model import MAX_DEPTH, FieldKind, Finding, RowProblem, Severity, too_deep

NOTE_PREFIX = "#"
TRACKING_CODE_PREFIX = "trackingCodes."
#: The most characters one row may take (a CSV record with all its lines, or a JSON line): far
#: above any real row (agenda, the longest field, takes 1,300), low enough that a file with no
#: line ends, or a quote never closed, is refused long before it fills memory.
ROW_CAP = 1_048_576
#: The deepest nesting of JSON arrays and objects a row may hold; a Patch body needs four.

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def is_bad_text(text: str) -> bool:
    """Holds a NUL, or a lone surrogate (bytes that were not UTF-8, or a JSON escape of one)."""
    return "\x00" in text or (not text.isascii() and _BAD_TEXT.search(text) is not None)


def shown(text: str) -> str:
    """Text that may hold NULs or undecodable bytes, as escapes that are safe to store and print."""
    try:
        raw = text.encode("utf-8", "surrogateescape")  # the file's own bytes back
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")


_INTEGER = re.compile(r"^[+-]?\d+$")
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


class BadText(ValueError):
    """A JSON string holds a NUL or a lone surrogate, written as an escape."""


def parse_cell(text: str, kind: FieldKind) -> Any:
    """A CSV cell's value for a field of this kind; raises ValueError with a message for people."""
    if kind is FieldKind.BOOLEAN:
        value = _BOOLEANS.get(text.lower())
        if value is None:
            raise ValueError("expected a boolean: true/false, yes/no or 1/0")
        return value
    if kind is FieldKind.INTEGER:
        if _INTEGER.match(text):
            return int(text)
        raise ValueError("expected a whole number")
    if kind is FieldKind.JSON:
        try:
            return loads(text)
        except BadText:
            raise
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"expected a JSON array or object: {exc}") from None
    return text


def loads(text: str) -> Any:
    """``json.loads``, refusing deep nesting, and NULs or lone surrogates written as escapes.

    Either would pass the raw-text checks and then break what follows: deep values overflow
    the stack of whatever walks them, and such strings cannot be stored, printed or sent.
    """
    value = json.loads(text)
    # Cheap tests first: deep nesting needs many brackets, and these characters need a \u escape.
    if text.count("[") + text.count("{") > MAX_DEPTH and too_deep(value):
        raise ValueError(f"arrays and objects nested more than {MAX_DEPTH} levels deep")
    if "\\u" in text and _holds_bad_text(value):
        raise BadText("a JSON string holds a NUL (\\u0000) or a lone surrogate (\\ud800-\\udfff)")
    return value


def _children(value: Any) -> Iterable[Any]:
    if isinstance(value, dict):
        return [*value, *value.values()]
    return value if isinstance(value, list) else ()


def _holds_bad_text(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if is_bad_text(item):
                return True
        else:
            stack.extend(_children(item))
    return False


class Changes:
    """The changes of one row in Patch-body shape, built from whole fields and dotted members."""

    __slots__ = ("_codes", "_from_members", "fields")

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self._from_members: set[str] = set()
        self._codes: list[dict[str, str]] = []

    def set(self, path: tuple[str, ...], value: Any) -> str | None:
        """Place a value; return why it conflicts with one already placed, if it does."""
        name = path[0]
        if len(path) == 1:
            if name in self._from_members:
                return f"{name} is given as a whole and by its members; use one or the other"
            if name in self.fields:
                return f"{name} is given twice"
            self.fields[name] = value
            return None
        if name in self.fields and name not in self._from_members:
            return f"{name} is given as a whole and by its members; use one or the other"
        members = self.fields.setdefault(name, {})
        self._from_members.add(name)
        if path[1] in members:
            return f"{'.'.join(path)} is given twice"
        members[path[1]] = value
        return None

    def add_tracking_code(self, name: str, value: str) -> None:
        """Add a code given as a ``trackingCodes.<Name>`` column or key."""
        self._codes.append({"name": name, "value": value})

    def finish(self) -> str | None:
        """Merge the tracking-code columns into ``trackingCodes``; say why not, if they cannot be."""
        if not self._codes:
            return None
        given = self.fields.get("trackingCodes", [])
        if not isinstance(given, list):
            return (
                "trackingCodes is null or not a list, but trackingCodes.<Name> columns give codes"
            )
        self.fields["trackingCodes"] = [*given, *self._codes]
        return None


class Problems:
    """The reader's findings for one row."""

    __slots__ = ("findings", "line", "meeting_id")

    def __init__(self, line: int, meeting_id: str) -> None:
        self.line = line
        self.meeting_id = meeting_id
        self.findings: list[Finding] = []

    def add(self, field: str, rule: str, message: str, value: str | None = None) -> None:
        self.findings.append(finding(self.line, field, rule, message, self.meeting_id, value))

    def add_conflict(self, field: str, conflict: str | None) -> None:
        if conflict is not None:
            self.add(field, "conflict", conflict)


def finding(
    line: int,
    field: str,
    rule: str,
    message: str,
    meeting_id: str | None = None,
    value: str | None = None,
) -> Finding:
    """An error the reader found."""
    return Finding(Severity.ERROR, line, field, rule, message, value, meeting_id or None)


def problem(
    line: int, field: str, rule: str, message: str, meeting_id: str | None = None
) -> RowProblem:
    """A line that could not be read as a row at all."""
    return RowProblem(line, (finding(line, field, rule, message, meeting_id),), meeting_id or None)
