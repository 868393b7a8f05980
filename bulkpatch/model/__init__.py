"""The API's rules as plain values and functions: the Patch body, the offline rules, findings.

Pure: no I/O, no clock (``now`` is passed in). The engine and the sandbox both use it, so the
tool and its emulator never disagree on what a valid patch is.
"""

from bulkpatch.model.ids import is_occurrence_id, meeting_id_problem, occurrence_stamp_problem
from bulkpatch.model.patch import (
    FIELDS,
    NULLABLE_FIELDS,
    OBJECT_FIELDS,
    READ_ONLY_FIELDS,
    SECRET_FIELDS,
    FieldKind,
    FieldSpec,
    MeetingPatch,
)
from bulkpatch.model.rules import (
    CheckedRow,
    check_row,
    suggest_field,
    unknown_field_message,
)
from bulkpatch.model.values import (
    MASK,
    MAX_DEPTH,
    Finding,
    JobRow,
    RowProblem,
    Severity,
    ValidatedRow,
    is_secret,
    mask_secrets,
    show_value,
    too_deep,
)

__all__ = [
    "FIELDS",
    "MASK",
    "MAX_DEPTH",
    "NULLABLE_FIELDS",
    "OBJECT_FIELDS",
    "READ_ONLY_FIELDS",
    "SECRET_FIELDS",
    "CheckedRow",
    "FieldKind",
    "FieldSpec",
    "Finding",
    "JobRow",
    "MeetingPatch",
    "RowProblem",
    "Severity",
    "ValidatedRow",
    "check_row",
    "is_occurrence_id",
    "is_secret",
    "mask_secrets",
    "meeting_id_problem",
    "occurrence_stamp_problem",
    "show_value",
    "suggest_field",
    "too_deep",
    "unknown_field_message",
]
