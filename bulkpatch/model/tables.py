"""The docs' field and rule tables, rendered from the model itself so they cannot drift.

``docs/rules.md`` is this module's :func:`rules_document`; a test renders it again and compares,
and ``python docs/make_rules.py`` rewrites it. Pure: returns text.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from bulkpatch.model.catalogue import Rule, render_markdown
from bulkpatch.model.patch import FIELDS, NULLABLE_FIELDS, SECRET_FIELDS, FieldKind, MeetingPatch

_HEADER = """# What is checked, offline and in the sandbox

Generated from the code (`bulkpatch/model/tables.py`) by `python docs/make_rules.py`; a test
fails when this file and the code disagree. "validate" is `bulkpatch validate` (and every
`run`, which validates first); "sandbox" is `bulkpatch sandbox` and `run --sandbox`, which
apply the same offline rules again and then the ones only a server knows.

## Fields of Patch a Meeting

Every field: its type, what the reference allows, and whether null is accepted. A wrong type,
a value out of range or an unknown enum value is an error offline and 400 in the sandbox.

"""


def rules_document(site_rules: tuple[Rule, ...] = ()) -> str:
    """The whole ``docs/rules.md``."""
    return (
        _HEADER
        + fields_table()
        + "\n## Rules\n\nEach rule as findings and the sandbox name it, with the reference's "
        'sentence it follows. "-" under validate: only a server can tell.\n\n'
        + render_markdown(site_rules)
    )


#: What the rules (not the types) allow, for the fields whose type alone says little.
_CHECKED_BY_RULES = {
    "start": "ISO 8601 date and time (see `utc_offset`, `in_past`, `duration`, `too_far_ahead`)",
    "end": "ISO 8601 date and time (see `utc_offset`, `in_past`, `duration`)",
    "timezone": "an IANA time zone name (see `timezone`)",
    "recurrence": "one RFC 2445 RRULE (see `rrule`, `first_only`, `capped`)",
}


def fields_table() -> str:
    """One row per patchable field, nested ones by their dotted path."""
    lines = ["| field | type | allowed | null |", "|---|---|---|---|"]
    for path, spec in FIELDS.items():
        kind = spec.kind.value if spec.kind is not FieldKind.JSON else _json_kind(path)
        allowed = (
            ", ".join(f"`{choice}`" for choice in spec.choices)
            or _CHECKED_BY_RULES.get(path)
            or _limits(path)
        )
        if path.rsplit(".", 1)[-1] in SECRET_FIELDS:
            allowed = (allowed + "; " if allowed else "") + "a secret: masked in every output"
        null = "yes (removes it)" if path in NULLABLE_FIELDS else "no"
        lines.append(f"| `{path}` | {kind} | {allowed} | {null} |")
    return "\n".join(lines) + "\n"


def _json_kind(path: str) -> str:
    return "array" if typing.get_origin(_strip(_info(path).annotation)) is list else "object"


def _limits(path: str) -> str:
    """max length, ranges and patterns the model gives the field, in words."""
    info = _info(path)
    items = [*info.metadata, *_metadata(info.annotation)]
    words = [word for word in map(_constraint, items) if word]
    if "." in path and info.is_required():
        words.insert(0, "required when its object is given")
    item = _strip(info.annotation)
    if typing.get_origin(item) is list:
        (member,) = typing.get_args(item)
        if isinstance(member, type) and issubclass(member, BaseModel):
            parts = ", ".join(
                f"`{name}` ({'; '.join(w for w in map(_constraint, f.metadata) if w)})"
                for name, f in member.model_fields.items()
            )
            words.append(f"items of {parts}")
    return "; ".join(words)


def _constraint(item: Any) -> str:
    """One constraint object (annotated-types, duck-typed) in words."""
    if isinstance(item, str):
        return item
    if getattr(item, "max_length", None) is not None:
        return f"at most {item.max_length}"
    if getattr(item, "min_length", None) is not None:
        return "not empty"
    if getattr(item, "ge", None) is not None:
        return f"at least {item.ge}"
    if getattr(item, "le", None) is not None:
        return f"at most {item.le}"
    if getattr(item, "pattern", None):
        return "an email address"
    return ""


def _metadata(annotation: Any) -> Iterator[Any]:
    """Every constraint object inside Annotated[...] layers, unions and lists."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        for member in typing.get_args(annotation):
            yield from _metadata(member)
    elif typing.get_origin(annotation) is Annotated:
        inner, *extras = typing.get_args(annotation)
        for extra in extras:
            yield from extra.metadata if isinstance(extra, FieldInfo) else (extra,)
        yield from _metadata(inner)
    elif typing.get_origin(annotation) is list:
        for member in typing.get_args(annotation):
            for item in _metadata(member):
                words = _constraint(item)
                yield f"each {words} characters" if words.startswith("at most") else words


def _strip(annotation: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` down to ``X``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _strip(members[0]) if len(members) == 1 else annotation
    if typing.get_origin(annotation) is Annotated:
        return _strip(typing.get_args(annotation)[0])
    return annotation


def _info(path: str) -> FieldInfo:
    model: type[BaseModel] = MeetingPatch
    *parents, leaf = path.split(".")
    for parent in parents:
        model = _strip(model.model_fields[parent].annotation)
    return model.model_fields[leaf]
