"""The offline rules: everything the API reference says that can be checked without a server.

:func:`check_row` turns a :class:`JobRow` into a :class:`CheckedRow`: the validated patch (when
there is no error) and every finding. It is pure: the clock comes in as ``now``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from bulkpatch.model import timing
from bulkpatch.model.ids import (
    OCCURRENCE_ID,
    is_occurrence_id,
    meeting_id_problem,
    occurrence_id_form_problem,
    occurrence_stamp_problem,
)
from bulkpatch.model.patch import (
    FIELDS,
    NULLABLE_FIELDS,
    OBJECT_FIELDS,
    READ_ONLY_FIELDS,
    MeetingPatch,
)
from bulkpatch.model.relative import SHIFT, split_relative
from bulkpatch.model.values import Finding, JobRow, Severity, show_value

WEBINAR_ONLY_JOIN_MINUTES = frozenset({30, 45, 60})


@dataclass(frozen=True, slots=True)
class CheckedRow:
    """A row after the offline rules: its body to send when valid, and what was found."""

    row: JobRow
    findings: tuple[Finding, ...]
    body: dict[str, Any] | None

    @property
    def is_valid(self) -> bool:
        """True when no finding is an error."""
        return self.body is not None


def check_row(row: JobRow, now: datetime) -> CheckedRow:
    """Validate one row against every offline rule; ``now`` is an aware datetime."""
    report = _Report(row)
    problem = meeting_id_problem(row.meeting_id) or occurrence_stamp_problem(row.meeting_id)
    if problem is not None:
        rule_id = "required" if not row.meeting_id else "meeting_id"
        report.error("meetingId", rule_id, problem, row.meeting_id or None)
    elif (typo := occurrence_id_form_problem(row.meeting_id)) is not None:
        report.warning("meetingId", "occurrence_id_form", typo, row.meeting_id)
    absolute, relative = split_relative(_trimmed_times(row.changes), report)
    changes = _check_field_names(absolute, report)
    if not changes and not relative and not report.findings:
        report.error("", "no_changes", "the row changes nothing; give at least one field")
    patch = _validate_body(changes, report)
    if patch is not None:
        body = patch.to_body()
        # The rules only read: one merged view serves them all.
        seen = body | dict.fromkeys(("start", "end") if SHIFT in relative else relative, "")
        for rule in ROW_RULES:
            rule(row.meeting_id, seen, report)
        timing.check_times(body, now, report)
        # Offsets stay in the body as written; the run resolves them on the meeting as it is.
        body |= relative
    findings = _without_moot_warnings(report.findings) if report.has_errors else report.findings
    if report.has_errors or patch is None:
        return CheckedRow(row, tuple(findings), None)
    return CheckedRow(row, tuple(findings), body)


def _trimmed_times(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes with ``start`` and ``end`` trimmed of spaces, tabs and line breaks around
    them: a time is a typed value, like a number, and a spreadsheet cell's stray space or a
    JSON string's newline would otherwise be sent as part of it."""
    trimmed = dict(changes)
    for field in ("start", "end"):
        value = trimmed.get(field)
        if type(value) is str:
            trimmed[field] = value.strip()
    return trimmed


#: The fields a warning speaks of besides its own: what a move of a series or half a reschedule
#: would do depends on every time of the row (and the zone they are read in).
_WARNING_SUBJECTS: dict[str, tuple[str, ...]] = {
    "cancels_exceptions": ("start", "end", "recurrence", "timezone", SHIFT),
    "half_reschedule": ("start", "end", "timezone"),
    "needs_live_stream": ("liveStream",),
}


def _without_moot_warnings(findings: list[Finding]) -> list[Finding]:
    """The findings less the warnings about what a change would do to a value already refused.

    A start on a day that does not exist moves nothing, so moving the series cancels nothing:
    only the error is the real problem. A meetingId refused names no meeting, so no warning of
    its row is about anything.
    """
    failed = {f.field for f in findings if f.severity is Severity.ERROR}
    if "meetingId" in failed:
        return [f for f in findings if f.severity is Severity.ERROR]
    return [
        f
        for f in findings
        if f.severity is Severity.ERROR
        or not any(
            _within(field, subject)
            for field in failed
            for subject in (f.field, *_WARNING_SUBJECTS.get(f.rule, ()))
        )
    ]


def _within(field: str, subject: str) -> bool:
    """Whether ``field`` is ``subject`` or a member or item of it (liveStream.rtmpUrl, tags[0])."""
    return field == subject or (
        field.startswith(subject) and field[len(subject) : len(subject) + 1] in {".", "["}
    )


class _Report:
    """Collects the findings of one row."""

    __slots__ = ("findings", "has_errors", "row")

    def __init__(self, row: JobRow) -> None:
        self.row = row
        self.findings: list[Finding] = list(row.problems)
        self.has_errors = bool(row.problems)

    def error(self, field: str, rule: str, message: str, value: Any = None) -> None:
        self._add(Severity.ERROR, field, rule, message, value)
        self.has_errors = True

    def warning(self, field: str, rule: str, message: str, value: Any = None) -> None:
        self._add(Severity.WARNING, field, rule, message, value)

    def _add(self, severity: Severity, field: str, rule: str, message: str, value: Any) -> None:
        shown = None if value is None else show_value(field, value)
        self.findings.append(
            Finding(severity, self.row.line, field, rule, message, shown, self.row.meeting_id)
        )


# --- field names, nulls --------------------------------------------------------------------

_LEAF_PATHS: dict[str, list[str]] = {}
for _path in FIELDS:
    _LEAF_PATHS.setdefault(_path.rsplit(".", 1)[-1].lower(), []).append(_path)


def suggest_field(path: str) -> str:
    """A "did you mean" hint for an unknown field path, or an empty string."""
    leaf = path.rsplit(".", 1)[-1]
    candidates = _LEAF_PATHS.get(leaf.lower())
    if candidates:
        return f"; did you mean {' or '.join(candidates)}?"
    close = difflib.get_close_matches(path, list(FIELDS), n=1, cutoff=0.6)
    if not close:
        lowered = {name.lower(): name for name in FIELDS}
        close = difflib.get_close_matches(path.lower(), list(lowered), n=1, cutoff=0.6)
        close = [lowered[name] for name in close]
    return f"; did you mean {close[0]}?" if close else ""


def unknown_field_message(path: str) -> tuple[str, str]:
    """The rule and message for a field name that is not a patchable field."""
    top = path.split(".", 1)[0]
    if top in READ_ONLY_FIELDS:
        return "read_only", f"{top} is a property of the meeting that a patch cannot change"
    return "unknown_field", f"{path} is not a field of Patch a Meeting{suggest_field(path)}"


def _check_field_names(changes: Mapping[str, Any], report: _Report) -> dict[str, Any]:
    """Report unknown, read-only and wrongly nulled fields; return the rest to validate."""
    kept: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in FIELDS:
            rule, message = unknown_field_message(name)
            report.error(name, rule, message, value)
        elif value is None and name not in NULLABLE_FIELDS:
            report.error(name, "null_not_allowed", _null_message(name))
        elif name in OBJECT_FIELDS and isinstance(value, dict):
            kept[name] = _check_member_names(name, value, report)
        else:
            kept[name] = value
    return kept


def _check_member_names(parent: str, members: Mapping[str, Any], report: _Report) -> Any:
    kept: dict[str, Any] = {}
    for name, value in members.items():
        path = f"{parent}.{name}"
        if path not in FIELDS:
            rule, message = unknown_field_message(path)
            report.error(path, rule, message, value)
        elif value is None:
            report.error(path, "null_not_allowed", _null_message(path))
        else:
            kept[name] = value
    return kept


def _null_message(path: str) -> str:
    allowed = ", ".join(sorted(NULLABLE_FIELDS))
    return f"{path} cannot be null (only {allowed} can); leave the cell empty to keep it as it is"


# --- the body model --------------------------------------------------------------------------


def _validate_body(changes: dict[str, Any], report: _Report) -> MeetingPatch | None:
    try:
        return MeetingPatch.model_validate(changes)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            path, rule, message = describe_model_error(error)
            report.error(path, rule, message, error.get("input"))
        return None


def describe_model_error(error: ErrorDetails) -> tuple[str, str, str]:
    """Turn one pydantic error into (dotted path, rule, message) in the API's own words."""
    path = ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in error["loc"])
    path = path.replace(".[", "[")
    kind = error["type"]
    ctx = error.get("ctx", {})
    value = error.get("input")
    if kind in {"string_too_long", "too_long"}:
        limit = ctx.get("max_length")
        unit = "characters" if kind == "string_too_long" else "items"
        return path, "max_length", f"{path} takes at most {limit} {unit}; this has {len(value)}"
    if kind in {"string_too_short", "too_short"}:
        return path, "required", f"{path} cannot be empty"
    if kind == "literal_error":
        return path, "enum", f"{path} must be one of {ctx.get('expected')}{_enum_hint(path, value)}"
    if kind == "greater_than_equal":
        return path, "range", f"{path} must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return path, "range", f"{path} must be at most {ctx.get('le')}"
    if kind == "missing":
        return path, "required", f"{path} is required when its object is given"
    if kind == "string_pattern_mismatch":
        return path, "format", f"{path} must be an email address"
    if kind == "extra_forbidden":
        return path, "unknown_field", f"{path} is not a field of Patch a Meeting"
    message = error["msg"].removeprefix("Value error, ")
    return path, "type", f"{path}: {message[:1].lower()}{message[1:]}"


def _enum_hint(path: str, value: Any) -> str:
    spec = FIELDS.get(re.sub(r"\[\d+\]", "", path))
    if spec is None or not isinstance(value, str):
        return ""
    by_lower = {str(choice).lower(): choice for choice in spec.choices}
    match = by_lower.get(value.lower())
    if match is None:
        close = difflib.get_close_matches(value.lower(), list(by_lower), n=1, cutoff=0.6)
        match = by_lower[close[0]] if close else None
    return f"; did you mean {match!r}?" if match is not None else ""


# --- rules over the whole row ----------------------------------------------------------------

RowRule = Callable[[str, dict[str, Any], _Report], None]


def _occurrence_limits(meeting_id: str, body: dict[str, Any], report: _Report) -> None:
    if not is_occurrence_id(meeting_id):
        return
    for field in ("integrationTags", "recurrence"):
        if field in body:
            report.error(
                field,
                "occurrence",
                f"{field} can be changed on the meeting series only, not on one scheduled "
                f"occurrence; patch the series id {OCCURRENCE_ID.match(meeting_id)['series']!r}",  # type: ignore[index]  # matched just above
                body[field],
            )


def _integration_tags_deleted(meeting_id: str, body: dict[str, Any], report: _Report) -> None:
    if (
        "integrationTags" in body
        and not body["integrationTags"]
        and not is_occurrence_id(meeting_id)
    ):
        report.warning(
            "integrationTags",
            "deletes_tags",
            "an empty or null integrationTags deletes every integration tag of the meeting",
            body["integrationTags"],
        )


def _series_reschedule(meeting_id: str, body: dict[str, Any], report: _Report) -> None:
    changed = [field for field in ("start", "end", "recurrence") if field in body]
    if changed and not is_occurrence_id(meeting_id):
        report.warning(
            changed[0],
            "cancels_exceptions",
            f"changing {'/'.join(changed)} of a meeting series cancels its exceptional "
            "(individually edited) occurrences",
        )


def _join_before_host(_: str, body: dict[str, Any], report: _Report) -> None:
    minutes = body.get("joinBeforeHostMinutes")
    if minutes in WEBINAR_ONLY_JOIN_MINUTES:
        report.warning(
            "joinBeforeHostMinutes",
            "webinar_only",
            f"{minutes} minutes is valid for webinars only (meetings take 0, 5, 10 or 15); "
            "the server refuses it for a meeting",
            minutes,
        )
    if body.get("enabledJoinBeforeHost") is False:
        for field in ("joinBeforeHostMinutes", "enableConnectAudioBeforeHost"):
            if body.get(field):
                report.warning(
                    field,
                    "no_effect",
                    f"{field} has no effect while enabledJoinBeforeHost is false",
                )


def _dependent_settings(_: str, body: dict[str, Any], report: _Report) -> None:
    if body.get("enabledVisualWatermark") is False and "visualWatermarkOpacity" in body:
        report.warning(
            "visualWatermarkOpacity",
            "no_effect",
            "visualWatermarkOpacity has no effect while enabledVisualWatermark is false",
        )
    if body.get("enabledLiveStream") is False and "liveStream" in body:
        report.warning(
            "liveStream", "no_effect", "liveStream has no effect while enabledLiveStream is false"
        )
    if body.get("enabledLiveStream") is True and "liveStream" not in body:
        report.warning(
            "enabledLiveStream",
            "needs_live_stream",
            "enabledLiveStream needs liveStream settings; the server refuses it unless the "
            "meeting already has them",
        )
    options = body.get("meetingOptions") or {}
    if options.get("enabledNote") is False and "noteType" in options:
        report.error(
            "meetingOptions.noteType",
            "note_type_without_notes",
            "noteType cannot be set while enabledNote is false",
            options["noteType"],
        )
    if body.get("restrictToInvitees") is True and body.get("requireAttendeeLogin") is False:
        report.error(
            "restrictToInvitees",
            "needs_attendee_login",
            "restrictToInvitees cannot be true while requireAttendeeLogin is false",
            True,
        )


def _webinar_only_switches(_: str, body: dict[str, Any], report: _Report) -> None:
    for parent, field in (
        ("meetingOptions", "enabledPolling"),
        ("audioConnectionOptions", "enabledAudienceCallBack"),
    ):
        if (body.get(parent) or {}).get(field) is True:
            report.warning(
                f"{parent}.{field}",
                "webinar_only",
                f"{field} can be set true for webinars only; the server refuses it for a meeting",
                True,
            )


def _tracking_code_names(_: str, body: dict[str, Any], report: _Report) -> None:
    seen: set[str] = set()
    for code in body.get("trackingCodes") or ():
        if code["name"] in seen:
            report.warning(
                "trackingCodes",
                "duplicate_name",
                f"tracking code {code['name']!r} is given twice; the server keeps one",
            )
        seen.add(code["name"])


ROW_RULES: tuple[RowRule, ...] = (
    _occurrence_limits,
    _integration_tags_deleted,
    _series_reschedule,
    _join_before_host,
    _dependent_settings,
    _webinar_only_switches,
    _tracking_code_names,
)
