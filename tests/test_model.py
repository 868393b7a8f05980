"""The Patch body model: the reference's fields, serialisation, and robustness."""

from __future__ import annotations

import re
from typing import Any

from conftest import NOW
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkpatch.model import (
    FIELDS,
    READ_ONLY_FIELDS,
    FieldKind,
    JobRow,
    MeetingPatch,
    check_row,
    mask_secrets,
)


def test_reference_example_request_validates_unchanged(reference_example: dict[str, Any]) -> None:
    """The reference's own example request body is a valid patch and round-trips unchanged."""
    patch = MeetingPatch.model_validate(reference_example["request"])
    assert patch.to_body() == reference_example["request"]


def test_every_request_field_of_the_example_is_modelled(reference_example: dict[str, Any]) -> None:
    """Every field the example request uses, nested ones too, is a known field."""
    for name, value in reference_example["request"].items():
        assert name in FIELDS
        if isinstance(value, dict):
            assert all(f"{name}.{member}" in FIELDS for member in value)


def test_response_only_fields_are_read_only(reference_example: dict[str, Any]) -> None:
    """Every property the response has and the request cannot set is listed as read-only."""
    response_only = set(reference_example["response"]) - set(FIELDS)
    assert response_only <= READ_ONLY_FIELDS
    assert not READ_ONLY_FIELDS & set(FIELDS)


def test_only_given_fields_are_sent_with_nulls_kept() -> None:
    """A patch serialises to exactly the fields the row set, explicit nulls included."""
    patch = MeetingPatch.model_validate({"agenda": None, "meetingOptions": {"enabledChat": False}})
    assert patch.to_body() == {"agenda": None, "meetingOptions": {"enabledChat": False}}


def test_field_kinds_follow_the_model() -> None:
    """The CSV field table is derived from the model: kinds and enum choices match."""
    assert FIELDS["meetingOptions.enabledChat"].kind is FieldKind.BOOLEAN
    assert FIELDS["reminderTime"].kind is FieldKind.INTEGER
    assert FIELDS["integrationTags"].kind is FieldKind.JSON
    assert FIELDS["liveStream"].kind is FieldKind.JSON
    assert FIELDS["joinBeforeHostMinutes"].choices == (0, 5, 10, 15, 30, 45, 60)
    assert "webexAudio" in FIELDS["audioConnectionOptions.audioConnectionType"].choices


def test_mask_secrets_masks_nested_passwords() -> None:
    """Secret fields are masked wherever they sit in a body."""
    body = {"password": "P@ss", "title": "t", "inner": [{"panelistPassword": "x"}]}
    assert mask_secrets(body) == {
        "password": "********",
        "title": "t",
        "inner": [{"panelistPassword": "********"}],
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(sorted(FIELDS)) | st.text(max_size=20)


@settings(max_examples=300, deadline=None)
@given(
    meeting_id=st.text(max_size=40), changes=st.dictionaries(field_names, json_values, max_size=6)
)
def test_any_changes_give_a_result_never_an_exception(
    meeting_id: str, changes: dict[str, Any]
) -> None:
    """Whatever a row holds, the rules answer with findings, never an exception."""
    nested: dict[str, Any] = {}
    for key, value in changes.items():
        head, _, tail = key.partition(".")
        if tail and key in FIELDS:
            member = nested.setdefault(head, {})
            if isinstance(member, dict):
                member[tail] = value
        else:
            nested[key] = value
    checked = check_row(JobRow(3, meeting_id, nested), NOW)
    assert checked.is_valid == (checked.body is not None)
    for finding in checked.findings:
        assert finding.line == 3
        assert re.fullmatch(r"[a-z_]+", finding.rule)
