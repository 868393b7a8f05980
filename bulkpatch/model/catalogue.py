"""Every rule of the reference the tool knows: what `validate` does, what the sandbox does, and why.

One row per rule id, the same ids findings carry. The sandbox answers in a row's ``api_words``
(the reference's own sentence) where a finding's message speaks of job files; the docs' rules
table (``docs/rules.md``) is rendered from this table, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: where it applies, what each tool does with it, and the reference's sentence."""

    rule: str
    fields: str
    offline: str  # "error", "warning", or "-" (only a server can tell)
    sandbox: str
    reference: str
    api_words: str = ""

    def answer(self, field: str, fallback: str) -> str:
        """The sandbox's 400 reason for this rule at ``field``: the API's words when it has them."""
        if not self.api_words:
            return f"{field}: {fallback}" if field else fallback
        return self.api_words.format(field=field or "the request")


_R = Rule
_400 = "400, nothing applied"

#: The rules, in the order the docs show them.
RULES: tuple[Rule, ...] = (
    # --- the request ---------------------------------------------------------------------------
    _R(
        "required",
        "meetingId, nested required members",
        "error",
        _400,
        "name ... stringrequired; value ... stringrequired; destination, rtmpUrl, streamUrl stringrequired",
        "{field} is required.",
    ),
    _R(
        "meeting_id",
        "meetingId",
        "error",
        "404 (the store never holds such an id)",
        "meetingId: Unique identifier for the meeting to be updated. (`.` and `..` are path "
        "steps; no id has a space or an invisible character, or is the header's name; an "
        "occurrence id's stamp, _YYYYMMDDTHHMMSSZ, is when it starts: on a day or at a time "
        "that does not exist it names no occurrence)",
    ),
    _R(
        "occurrence_id_form",
        "meetingId",
        "warning",
        "404 (the store never holds such an id)",
        "(an id shaped like an occurrence's, <seriesId>_<stamp>, whose stamp is not "
        "YYYYMMDDTHHMMSSZ: no Z, a 7- or 9-digit date, a lower-case t or z, dashes or colons, "
        "a '-' or '__' for the '_', a date without its time, the stamp twice, full-width "
        "characters; "
        "an occurrence id is its series' id and its start in UTC)",
    ),
    _R(
        "no_changes",
        "(row)",
        "error",
        "200 with the meeting unchanged",
        "(the contract: a row that changes nothing is almost always a mistake)",
    ),
    _R("unknown_field", "any", "error", _400, "Body Parameters: the fields of Patch a Meeting"),
    _R(
        "read_only",
        "id, state, webLink, telephony, ...",
        "error",
        _400,
        "Response Properties that are not Body Parameters",
        "{field} cannot be changed by a patch.",
    ),
    _R(
        "null_not_allowed",
        "all but agenda, recurrence, trackingCodes, integrationTags",
        "error",
        _400,
        "The agenda, recurrence, and trackingCodes attributes can be specified as null",
        "{field} cannot be null.",
    ),
    _R("type", "every field", "error", _400, "the types of the Body Parameters"),
    _R("enum", "every enum field", "error", _400, "the enum values of the Body Parameters"),
    _R(
        "max_length",
        "title, agenda, integrationTags, trackingCodes",
        "error",
        _400,
        "The title can be a maximum of 128 characters long. The agenda can be a maximum of 1300 "
        "characters long. The maximum size of integrationTags is 3 and each item ... 64 characters",
    ),
    _R(
        "range",
        "visualWatermarkOpacity, reminderTime, automaticLockMinutes, sessionTypeId",
        "error",
        _400,
        "The value must be between 5 and 80, inclusive.",
    ),
    _R("format", "hostEmail", "error", _400, "Email address for the meeting host."),
    # --- series and occurrences ----------------------------------------------------------------
    _R(
        "occurrence",
        "integrationTags, recurrence on an occurrence id",
        "error",
        _400,
        "Developer can update integration tags for a meetingSeries but he cannot update it for a "
        "scheduledMeeting or a meeting instance.",
        "{field} can be updated for a meetingSeries, not for a scheduledMeeting or a meeting instance.",
    ),
    _R(
        "deletes_tags",
        "integrationTags",
        "warning",
        "the tags are removed",
        "an empty or null integrationTags will delete all existing integration tags",
    ),
    _R(
        "cancels_exceptions",
        "start, end, recurrence of a series",
        "warning",
        "edited occurrences cancelled (404) only when a value changes; the others move with the series",
        "If the value of start, end, or recurrence for the meeting series is changed, any exceptional "
        "scheduled meeting in this series is cancelled",
    ),
    _R(
        "occurrence_of_moved_series",
        "meetingId of an occurrence whose series another row reschedules",
        "warning",
        "a run sends it after every other row: if the series moved, it fails (404), never "
        "succeeds to be cancelled",
        "any exceptional scheduled meeting in this series is cancelled when the meeting series is "
        "updated",
    ),
    _R(
        "series_reaches_occurrences",
        "any field of a series",
        "-",
        "unedited occurrences show the series' new values; an occurrence's own edits win",
        "If the meetingId value specified is for a meeting series, the operation updates the entire "
        "meeting series.",
    ),
    # --- times ---------------------------------------------------------------------------------
    _R("datetime_format", "start, end", "error", _400, "in any ISO 8601 compliant format"),
    _R(
        "iso8601_form",
        "start, end",
        "error",
        _400,
        "in any ISO 8601 compliant format (our decision: only the extended calendar form every "
        "example of the reference uses, 2027-02-03T10:00:00Z, is sent; a week date 2027-W05-3, "
        "an ordinal date 2027-034, the basic format 20270203T100000Z, a comma before the "
        "seconds' fraction, a lower-case t or z and the minus sign U+2212 are refused, naming "
        "the text to write where that text would be taken)",
    ),
    _R(
        "impossible_datetime",
        "start, end, recurrence (UNTIL)",
        "error",
        _400,
        "(a date or time of day no calendar has, in the right format: 2027-02-30, 25:00)",
    ),
    _R(
        "utc_offset",
        "start, end",
        "error",
        _400,
        "(a UTC offset no clock shows: past -14:00 or +14:00, though Python reads up to 23:59, "
        "minutes past 59, or seconds)",
    ),
    _R(
        "needs_offset",
        "start, end",
        "error",
        "read in the meeting's time zone",
        "Time zone in which the meeting was originally scheduled",
        "{field} needs a UTC offset.",
    ),
    _R("timezone", "timezone", "error", _400, "conforming with the IANA time zone database"),
    _R(
        "timezone_shifts_times",
        "timezone",
        "-",
        "start and end are shown in the new zone (same moments)",
        "Time zone of start and end",
    ),
    _R("nonexistent_time", "start, end", "error", _400, "(a local time a DST change skips)"),
    _R(
        "ambiguous_time",
        "start, end",
        "warning",
        "the first of the two is used",
        "(a local time a DST change repeats)",
    ),
    _R(
        "in_past",
        "start, end",
        "error",
        _400,
        "start cannot be before current date and time or after end. end cannot be before current "
        "date and time or before start.",
    ),
    _R("start_after_end", "start, end", "error", _400, "start cannot be ... after end"),
    _R(
        "duration",
        "start, end",
        "error",
        "400; seconds dropped and a start in the current minute moved to the next one first",
        "Duration between start and end cannot be shorter than 10 minutes or longer than 23 hours "
        "59 minutes. ... if start is within the same minute as the current time, start will be "
        "adjusted to the upcoming minute",
    ),
    _R(
        "starts_soon",
        "start",
        "warning",
        "-",
        "(a start under 10 minutes away may be past when sent)",
    ),
    _R(
        "half_reschedule",
        "start or end alone",
        "warning",
        "checked against the meeting's other end",
        "Duration between start and end cannot be shorter than 10 minutes",
    ),
    _R(
        "offset",
        "start, end, shift",
        "error",
        "never sent: the run resolves offsets into absolute times first",
        "(bulkpatch: +1h, -30m, +1d, +1w, resolved on the meeting's current start and end; "
        "no further than the API's 10 years)",
    ),
    _R(
        "shift_alone",
        "shift",
        "error",
        "never sent",
        "(bulkpatch: shift moves start and end together, keeping the duration)",
    ),
    _R(
        "relative_mixed",
        "start, end",
        "error",
        "never sent",
        "(bulkpatch: an offset beside a fixed time makes a duration no one can check before the run)",
    ),
    _R(
        "too_far_ahead",
        "start; any field of a meeting 10+ years ahead",
        "error",
        "400 for a new start, and for any change to a meeting that already starts that far ahead",
        "You can't update a meeting that starts 10 years or more in the future.",
        "You can't update a meeting that starts 10 years or more in the future.",
    ),
    # --- recurrence ----------------------------------------------------------------------------
    _R(
        "rrule",
        "recurrence",
        "error",
        _400,
        "Meeting series recurrence rule (conforming with RFC 2445)",
    ),
    _R(
        "never_occurs",
        "recurrence",
        "error",
        _400,
        "(a rule of the right form with no occurrence at all: an UNTIL before the row's start, "
        "BYDAY=6MO or -6MO in a monthly rule, BYMONTHDAY=30 in February or 31 in 30-day months, "
        "decided from the parts; else no first occurrence within the five years the API keeps a "
        "series, or none before the UNTIL, asked of dateutil within those years)",
    ),
    _R(
        "first_only",
        "recurrence (monthly, yearly)",
        "warning",
        "only the first day or date is kept",
        "Multiple days or dates for monthly or yearly recurrence rule are not supported, only the "
        "first day or date specified is taken.",
    ),
    _R(
        "capped",
        "recurrence with an end",
        "warning",
        "UNTIL cut to 5 years from now; COUNT and occurrences cut to 5/60/261/1826",
        "the actual furthest date accepted for the recurring meeting is five years from now. ... up "
        "to 5 occurrences for a yearly meeting, 60 ... monthly, 261 ... weekly, or 1826 ... daily",
    ),
    _R(
        "recurrence_removed",
        "recurrence null",
        "-",
        "the series keeps one occurrence",
        "It can be specified null so that the meeting becomes non-recurring",
    ),
    # --- settings that depend on each other ----------------------------------------------------
    _R(
        "webinar_only",
        "joinBeforeHostMinutes 30/45/60, enabledPolling, enabledAudienceCallBack",
        "warning",
        "400 on a meeting (enabledAudienceCallBack: accepted, see the README)",
        "Valid options for a meeting are 0, 5, 10, and 15, and valid options for a webinar are 0, "
        "15, 30, 45, and 60. enabledPolling: Can only be set true for a webinar.",
    ),
    _R(
        "attendee_privileges_webinar",
        "attendeePrivileges",
        "-",
        "400 on a webinar",
        "This attribute is not supported for a webinar.",
        "attendeePrivileges is not supported for a webinar.",
    ),
    _R(
        "no_effect",
        "joinBeforeHostMinutes, visualWatermarkOpacity, liveStream",
        "warning",
        "stored",
        "Only applicable if the enabledJoinBeforeHost attribute is set to true.",
    ),
    _R(
        "needs_live_stream",
        "enabledLiveStream",
        "warning",
        "400 when neither the request nor the meeting has liveStream",
        "If enabled, the liveStream must be specified.",
        "enabledLiveStream: If enabled, the liveStream must be specified.",
    ),
    _R(
        "note_type_without_notes",
        "meetingOptions.noteType",
        "error",
        "400 while notes are off (in the request or on the meeting); turning notes off sets allowAll",
        "If the value of enabledNote is false, users cannot set this attribute and get the default "
        "value allowAll.",
        "noteType: If the value of enabledNote is false, users cannot set this attribute.",
    ),
    _R(
        "needs_attendee_login",
        "restrictToInvitees",
        "error",
        "400 while requireAttendeeLogin is false (in the request or on the webinar)",
        "restrictToInvitees cannot be set to true if requireAttendeeLogin is false.",
        "restrictToInvitees cannot be set to true if requireAttendeeLogin is false.",
    ),
    _R(
        "registrants_exist",
        "requireAttendeeLogin",
        "-",
        "400 once someone registered",
        "requireAttendeeLogin cannot be set if someone has already registered for the webinar.",
        "requireAttendeeLogin cannot be set if someone has already registered for the webinar.",
    ),
    _R(
        "duplicate_name", "trackingCodes", "warning", "the last one is kept", "(one value per code)"
    ),
    # --- request options that are not meeting properties ---------------------------------------
    _R(
        "send_email",
        "sendEmail",
        "-",
        "accepted, never stored or returned",
        "Whether or not to send emails to host and invitees. It is an optional field",
    ),
    _R(
        "host_email",
        "hostEmail",
        "-",
        "admin tokens only (403 otherwise); never stored; another host's email is 400 "
        "(validate cannot know the host; a pulled job fills it with the real host)",
        "This attribute should only be set if the user or application calling the API has the "
        "admin-level scopes. ... The field is not editable and is only used to patch a meeting on "
        "behalf of the real meeting host.",
        "hostEmail is not editable and is only used to patch a meeting on behalf of the real meeting "
        "host; use the Reassign Meetings to a New Host API to change the host.",
    ),
    # --- what the meeting is -------------------------------------------------------------------
    _R(
        "instance",
        "(the meeting)",
        "-",
        "400 for an ended or in-progress instance",
        "It doesn't apply to ended or in-progress meeting instances.",
        "The operation doesn't apply to ended or in-progress meeting instances.",
    ),
    _R(
        "meeting_over",
        "(the meeting)",
        "-",
        "400 for an ended or missed occurrence, an expired series",
        "This operation applies to meeting series and scheduled meetings.",
        "The meeting is over and cannot be updated.",
    ),
    _R(
        "adhoc",
        "(the meeting)",
        "-",
        "400",
        "Ad-hoc meetings created by Create a Meeting with adhoc of true and a roomId cannot be updated.",
        "Ad-hoc meetings created by Create a Meeting with adhoc of true and a roomId cannot be updated.",
    ),
    _R(
        "personal_room",
        "(the meeting)",
        "-",
        "400",
        "Please note that currently meeting ID of a scheduled personal room meeting is not "
        "supported for this API.",
        "The meeting ID of a scheduled personal room meeting is not supported for this API.",
    ),
    _R(
        "not_found",
        "(the meeting)",
        "-",
        "404; a user token gets 404 for another host's meeting",
        "The URI requested is invalid or the resource requested ... does not exist.",
        "The requested resource could not be found.",
    ),
)

#: The rules by id.
BY_ID: Mapping[str, Rule] = {rule.rule: rule for rule in RULES}


def rule(rule_id: str) -> Rule:
    """The rule with this id (KeyError for an id the catalogue does not know)."""
    return BY_ID[rule_id]


def render_markdown(extra: tuple[Rule, ...] = ()) -> str:
    """The rules table as Markdown, for ``docs/rules.md``."""
    lines = [
        "| rule | fields | `validate` | sandbox | the reference says |",
        "|---|---|---|---|---|",
    ]
    for entry in (*RULES, *extra):
        cells = (
            f"`{entry.rule}`",
            entry.fields,
            entry.offline,
            entry.sandbox,
            entry.reference,
        )
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"
