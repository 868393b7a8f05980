"""Seed the sandbox from a pull snapshot: the real site's meetings, exactly as GET returned them.

The snapshot is JSON Lines, one meeting object per line exactly as ``GET /v1/meetings/{meetingId}``
returns it (``id``, ``meetingType``, ``state``, ``start``, ``hostEmail``, ...). Series, their
scheduled occurrences (``meetingSeriesId``) and meeting instances may come in any order. The
store keeps each object as given, so a trial run meets the real site's states, types and hosts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bulkpatch.model import MAX_DEPTH, meeting_id_problem, occurrence_stamp_problem, too_deep
from bulkpatch.sandbox.store import MeetingKind, MeetingStore, ScheduledType, Seed

#: How deep a meeting object may nest: real ones go 4 levels deep (telephony.links[].href); a
#: deeper one would only make every later copy of it recurse until Python gives up.
_KINDS: frozenset[str] = frozenset({"meetingSeries", "scheduledMeeting", "meeting"})
_TYPES: frozenset[str] = frozenset({"meeting", "webinar", "personalRoomMeeting"})


class SnapshotError(Exception):
    """A snapshot line is not a meeting object the sandbox can hold."""

    def __init__(self, where: str, line: int, reason: str) -> None:
        self.where, self.line, self.reason = where, line, reason
        super().__init__(f"{where}:{line}: {reason}")


def is_snapshot(path: Path) -> bool:
    """Whether ``path`` is a snapshot (lines with ``id`` and ``meetingType``), not a job file.

    A job's JSON Lines name their meeting with ``meetingId``; a snapshot's lines are meetings.
    Only the first non-blank line is read. A line nested too deep to parse is taken as a
    snapshot, so that :func:`read_snapshot` refuses it with the reason (a job file read as a
    job would pass it over as one bad row).
    """
    if path.suffix.lower() not in {".jsonl", ".ndjson"}:
        return False
    try:
        with path.open(encoding="utf-8-sig") as lines:
            first_line = next((line for line in lines if line.strip()), "")
    except (OSError, UnicodeDecodeError):
        return False  # the job reader reports it, with the path, as for any job file
    try:
        first = json.loads(first_line)
    except ValueError:
        return False
    except RecursionError:
        return True
    return (
        isinstance(first, dict)
        and "id" in first
        and "meetingType" in first
        and "meetingId" not in first
    )


def read_snapshot(path: Path, *, store: MeetingStore | None = None) -> MeetingStore:
    """The meetings of a snapshot file, added to ``store`` (a new one by default)."""
    with path.open(encoding="utf-8-sig") as lines:
        return seed_from_snapshot(lines, store=store, where=str(path))


def seed_from_snapshot(
    lines: Iterable[str], *, store: MeetingStore | None = None, where: str = "snapshot"
) -> MeetingStore:
    """A store holding every meeting object of a snapshot's lines, as given."""
    store = MeetingStore() if store is None else store
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            meeting = json.loads(line)
        except ValueError as exc:
            raise SnapshotError(where, number, f"not JSON: {exc}") from None
        except RecursionError:
            meeting = None  # nested thousands deep: the parser gave up
        if meeting is None or too_deep(meeting):
            raise SnapshotError(
                where, number, f"nested more than {MAX_DEPTH} levels deep: not a meeting object"
            )
        if not isinstance(meeting, dict):
            raise SnapshotError(where, number, "a line must be one meeting object")
        store.add(str(meeting.get("id")), _seed_of(meeting, where, number), meeting)
    return store


def _seed_of(meeting: dict[str, Any], where: str, line: int) -> Seed:
    """The store's index entry for a snapshot meeting; the object itself stays as given."""
    meeting_id = meeting.get("id")
    if not isinstance(meeting_id, str) or meeting_id_problem(meeting_id):
        raise SnapshotError(where, line, f"id must be a meeting id, not {meeting_id!r}")
    stamp_problem = occurrence_stamp_problem(meeting_id)
    if stamp_problem is not None:  # validate refuses a row naming it: no meeting has the id
        raise SnapshotError(where, line, f"id {meeting_id!r}: {stamp_problem}")
    kind = meeting.get("meetingType")
    if kind not in _KINDS:
        raise SnapshotError(where, line, f"meetingType must be one of {sorted(_KINDS)}")
    scheduled_type = meeting.get("scheduledType", "meeting")
    if scheduled_type not in _TYPES:
        raise SnapshotError(where, line, f"scheduledType must be one of {sorted(_TYPES)}")
    start = _moment(meeting.get("start"), where, line, "start")
    end = _moment(meeting.get("end"), where, line, "end") if "end" in meeting else start
    zone = meeting.get("timezone")
    series_id = meeting.get("meetingSeriesId") if kind != "meetingSeries" else None
    kind_: MeetingKind = kind
    type_: ScheduledType = scheduled_type
    return Seed(
        kind_,
        str(meeting.get("state", "")),
        start,
        max(0, int((end - start).total_seconds() // 60)),
        zone if isinstance(zone, str) else "UTC",
        type_,
        series_id if isinstance(series_id, str) and series_id != meeting_id else None,
        meeting.get("recurrence") if isinstance(meeting.get("recurrence"), str) else None,
        bool(meeting.get("adhoc")),
    )


def _moment(value: Any, where: str, line: int, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise SnapshotError(
            where, line, f"{name} must be an ISO 8601 time, not {value!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
