"""What a patch would change on a meeting, after the API's own normalisation. Pure.

A patch is compared leaf by leaf: top-level fields, and members of the nested objects
(``meetingOptions.enabledChat``). The API keeps times to the minute, removes a nulled attribute
(and an emptied ``integrationTags``), keeps tracking codes and tags as sets, and reads RRULE
parts in any order: two values that the API would store alike are the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bulkpatch.model.patch import OBJECT_FIELDS
from bulkpatch.model.values import MASK, is_secret

#: Request options, not properties of the meeting: never "a change", never reverted.
REQUEST_OPTIONS = frozenset({"hostEmail", "sendEmail"})


class _Absent:
    """The meeting has no such attribute (a nulled one disappears from the response)."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field a patch changes: its dotted path, the value now, the value it would have."""

    path: str
    current: Any
    new: Any


def leaves(body: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of each field a patch sets; nested objects member by member."""
    for name, value in body.items():
        if name in REQUEST_OPTIONS:
            continue
        if name in OBJECT_FIELDS and isinstance(value, Mapping):
            for member, inner in value.items():
                yield f"{name}.{member}", inner
        else:
            yield name, value


def value_of(meeting: Mapping[str, Any], path: str) -> Any:
    """The meeting's value at a dotted path, or ABSENT."""
    value: Any = meeting
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return ABSENT
        value = value[part]
    return value


def changes(meeting: Mapping[str, Any], body: Mapping[str, Any]) -> list[FieldChange]:
    """The fields ``body`` would change on ``meeting`` (empty: it is in the target state)."""
    found = []
    for path, new in leaves(body):
        current = value_of(meeting, path)
        if not same(path, current, new):
            found.append(FieldChange(path, current, new))
    return found


def before_values(meeting: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """The meeting's values at every path the patch sets (ABSENT ones as None, flagged).

    A patch that moves start or end keeps both: a reschedule is undone whole.
    """
    paths = [path for path, _ in leaves(body)]
    if ("start" in body) != ("end" in body):
        paths.append("end" if "start" in body else "start")
    return {path: value_of(meeting, path) for path in paths}


def same(path: str, current: Any, new: Any) -> bool:
    """Whether the API would store ``new`` as what it already holds at ``path``."""
    if new is None or (path == "integrationTags" and new == []):
        return current is ABSENT or current is None or current == []
    if current is ABSENT:
        return False
    if path in ("start", "end"):
        return _minute(current) == _minute(new) is not None
    if path == "recurrence":
        return _rrule_parts(current) == _rrule_parts(new)
    if path == "trackingCodes":
        return _code_set(current) == _code_set(new)
    if path == "integrationTags" and isinstance(current, list) and isinstance(new, list):
        return sorted(map(str, current)) == sorted(map(str, new))
    return bool(current == new)


def _minute(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.replace(second=0, microsecond=0)


def _rrule_parts(value: Any) -> dict[str, str]:
    text = str(value).strip().upper().removeprefix("RRULE:")
    pairs = (part.partition("=") for part in text.split(";") if "=" in part)
    return {key: item for key, _, item in pairs}


def _code_set(value: Any) -> frozenset[tuple[str, str]]:
    if not isinstance(value, list):
        return frozenset()
    return frozenset(
        (str(code.get("name")), str(code.get("value"))) for code in value if isinstance(code, dict)
    )


def encode_values(values: Mapping[str, Any]) -> str:
    """Before- or after-values as JSON, an absent attribute kept apart from a null one.

    Secrets are kept masked, as everywhere in the journal: undo cannot put a password back.
    """
    present = {
        path: MASK if is_secret(path) and value is not None else value
        for path, value in values.items()
        if value is not ABSENT
    }
    absent = [path for path, value in values.items() if value is ABSENT]
    return json.dumps({"values": present, "absent": absent}, sort_keys=True, ensure_ascii=False)


def decode_values(text: str) -> dict[str, Any]:
    """The values :func:`encode_values` wrote."""
    data = json.loads(text)
    values: dict[str, Any] = dict(data.get("values", {}))
    values.update(dict.fromkeys(data.get("absent", []), ABSENT))
    return values


def unchanged(before: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """Whether a patch would change nothing, judged by the before-values of its fields."""
    return all(same(path, before.get(path, ABSENT), new) for path, new in leaves(body))
