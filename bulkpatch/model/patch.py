"""The Patch a Meeting request body, as the API reference defines it.

Every request body field of ``PATCH /v1/meetings/{meetingId}`` is here with the reference's
types, enums and limits. Rules that span several fields, or need the meeting id or the clock,
live in :mod:`bulkpatch.model.rules`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
)

# Strict types: a JSONL row with "enabledChat": "true" is a mistake to point out, not to guess at.
Minutes = Annotated[StrictInt, Field(ge=0)]


class _Body(BaseModel):
    # forbid: an unknown key is a typo to report, never a field to drop silently.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class MeetingOptions(_Body):
    """Meeting options (``meetingOptions``)."""

    enabledChat: StrictBool | None = None
    enabledVideo: StrictBool | None = None
    enabledPolling: StrictBool | None = None
    enabledNote: StrictBool | None = None
    noteType: Literal["allowAll", "allowOne"] | None = None
    enabledFileTransfer: StrictBool | None = None
    enabledUCFRichMedia: StrictBool | None = None


class AttendeePrivileges(_Body):
    """Attendee privileges (``attendeePrivileges``); not supported for webinars."""

    enabledShareContent: StrictBool | None = None
    enabledSaveDocument: StrictBool | None = None
    enabledPrintDocument: StrictBool | None = None
    enabledAnnotate: StrictBool | None = None
    enabledViewParticipantList: StrictBool | None = None
    enabledViewThumbnails: StrictBool | None = None
    enabledRemoteControl: StrictBool | None = None
    enabledViewAnyDocument: StrictBool | None = None
    enabledViewAnyPage: StrictBool | None = None
    enabledContactOperatorPrivately: StrictBool | None = None
    enabledChatHost: StrictBool | None = None
    enabledChatPresenter: StrictBool | None = None
    enabledChatOtherParticipants: StrictBool | None = None


class AudioConnectionOptions(_Body):
    """Audio connection options (``audioConnectionOptions``)."""

    audioConnectionType: Literal["webexAudio", "VoIP", "other", "none"] | None = None
    enabledTollFreeCallIn: StrictBool | None = None
    enabledGlobalCallIn: StrictBool | None = None
    enabledAudienceCallBack: StrictBool | None = None
    entryAndExitTone: Literal["beep", "announceName", "noTone"] | None = None
    allowHostToUnmuteParticipants: StrictBool | None = None
    allowAttendeeToUnmuteSelf: StrictBool | None = None
    muteAttendeeUponEntry: StrictBool | None = None


class TrackingCode(_Body):
    """One tracking code: name and value are both required, 1 to 120 characters."""

    name: Annotated[StrictStr, Field(min_length=1, max_length=120)]
    value: Annotated[StrictStr, Field(min_length=1, max_length=120)]


class LiveStream(_Body):
    """Live streaming settings (``liveStream``); destination and both URLs are required."""

    destination: StrictStr
    rtmpUrl: StrictStr
    streamUrl: StrictStr
    layoutWithoutSharedContent: Literal["grid", "stack", "focus"] | None = None
    layoutWithSharedContent: (
        Literal["stack", "focusedContentWithActiveSpeaker", "focusedContent"] | None
    ) = None
    allowChangeLayoutInMeeting: StrictBool | None = None
    followStageLayoutWhenSynced: StrictBool | None = None
    resolution: StrictStr | None = None


IntegrationTag = Annotated[StrictStr, Field(max_length=64)]


class MeetingPatch(_Body):
    """The body of one ``PATCH /v1/meetings/{meetingId}``: only the fields a row sets.

    ``None`` on a field means "not given" unless the field is in :data:`NULLABLE_FIELDS`, where
    an explicit null is kept and sent (the API then removes the attribute).
    """

    title: Annotated[StrictStr, Field(max_length=128)] | None = None
    agenda: Annotated[StrictStr, Field(max_length=1300)] | None = None
    password: StrictStr | None = None
    start: StrictStr | None = None
    end: StrictStr | None = None
    timezone: StrictStr | None = None
    recurrence: StrictStr | None = None
    enabledAutoRecordMeeting: StrictBool | None = None
    allowAnyUserToBeCoHost: StrictBool | None = None
    enabledJoinBeforeHost: StrictBool | None = None
    enableConnectAudioBeforeHost: StrictBool | None = None
    joinBeforeHostMinutes: Literal[0, 5, 10, 15, 30, 45, 60] | None = None
    excludePassword: StrictBool | None = None
    publicMeeting: StrictBool | None = None
    reminderTime: Minutes | None = None
    unlockedMeetingJoinSecurity: (
        Literal["allowJoin", "allowJoinWithLobby", "blockFromJoin"] | None
    ) = None
    sessionTypeId: Annotated[StrictInt, Field(ge=1)] | None = None
    enabledWebcastView: StrictBool | None = None
    panelistPassword: StrictStr | None = None
    enableAutomaticLock: StrictBool | None = None
    automaticLockMinutes: Minutes | None = None
    allowFirstUserToBeCoHost: StrictBool | None = None
    allowAuthenticatedDevices: StrictBool | None = None
    sendEmail: StrictBool | None = None
    hostEmail: Annotated[StrictStr, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    meetingOptions: MeetingOptions | None = None
    attendeePrivileges: AttendeePrivileges | None = None
    integrationTags: Annotated[list[IntegrationTag], Field(max_length=3)] | None = None
    enabledBreakoutSessions: StrictBool | None = None
    trackingCodes: list[TrackingCode] | None = None
    enabledAudioWatermark: StrictBool | None = None
    enabledVisualWatermark: StrictBool | None = None
    visualWatermarkOpacity: Annotated[StrictInt, Field(ge=5, le=80)] | None = None
    audioConnectionOptions: AudioConnectionOptions | None = None
    requireAttendeeLogin: StrictBool | None = None
    restrictToInvitees: StrictBool | None = None
    enabledLiveStream: StrictBool | None = None
    liveStream: LiveStream | None = None

    @field_validator("joinBeforeHostMinutes", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: Any) -> Any:
        # A Literal of ints lets False through as 0 even in strict mode; a boolean here is a mistake.
        if isinstance(value, bool):
            raise ValueError("expected a whole number, not a boolean")
        return value

    def to_body(self) -> dict[str, Any]:
        """The JSON body to send: the fields the row set, explicit nulls kept."""
        return self.model_dump(mode="json", exclude_unset=True)


#: Top-level fields the reference lets a patch set to JSON null.
NULLABLE_FIELDS = frozenset({"agenda", "recurrence", "trackingCodes", "integrationTags"})

#: Fields whose values are secrets: masked in every message, log and export.
SECRET_FIELDS = frozenset({"password", "panelistPassword"})

#: Properties of the meeting the API returns but a patch cannot change.
READ_ONLY_FIELDS = frozenset(
    {
        "id",
        "meetingSeriesId",
        "scheduledMeetingId",
        "meetingNumber",
        "phoneAndVideoSystemPassword",
        "phoneAndVideoSystemPanelistPassword",
        "meetingType",
        "state",
        "isModified",
        "hostDidJoin",
        "attendeeDidJoin",
        "hostUserId",
        "hostDisplayName",
        "hostKey",
        "siteUrl",
        "webLink",
        "sipAddress",
        "dialInIpAddress",
        "roomId",
        "scheduledType",
        "telephony",
        "registration",
        "simultaneousInterpretation",
        "links",
    }
)


class FieldKind(Enum):
    """How a CSV cell for a field is read."""

    BOOLEAN = "boolean"
    INTEGER = "integer"
    STRING = "string"
    JSON = "JSON array or object"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One patchable field, nested ones by their dotted path (``meetingOptions.enabledChat``)."""

    path: str
    kind: FieldKind
    choices: tuple[Any, ...] = ()


def _leaf_kind(annotation: Any) -> tuple[FieldKind, tuple[Any, ...]]:
    if typing.get_origin(annotation) is Annotated:
        return _leaf_kind(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) is Literal:
        choices = typing.get_args(annotation)
        return (FieldKind.INTEGER if isinstance(choices[0], int) else FieldKind.STRING), choices
    if annotation is bool:
        return FieldKind.BOOLEAN, ()
    if annotation is int:
        return FieldKind.INTEGER, ()
    if annotation is str:
        return FieldKind.STRING, ()
    return FieldKind.JSON, ()


def _non_null(annotation: Any) -> Any:
    """``X | None`` -> ``X`` (the null half is the model's "not given")."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _walk(model: type[BaseModel], prefix: str) -> Iterator[FieldSpec]:
    for name, info in model.model_fields.items():
        annotation = _non_null(info.annotation)
        path = f"{prefix}{name}"
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield FieldSpec(path, FieldKind.JSON)
            yield from _walk(annotation, f"{path}.")
            continue
        kind, choices = _leaf_kind(annotation)
        yield FieldSpec(path, kind, choices)


#: Every patchable field by dotted path, derived from the model so the two never drift apart.
FIELDS: Mapping[str, FieldSpec] = {spec.path: spec for spec in _walk(MeetingPatch, "")}

#: The nested objects, whose members a CSV may address with dotted columns.
OBJECT_FIELDS = frozenset(
    name
    for name, info in MeetingPatch.model_fields.items()
    if isinstance(_non_null(info.annotation), type)
    and issubclass(_non_null(info.annotation), BaseModel)
)
