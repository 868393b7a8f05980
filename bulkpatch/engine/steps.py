"""One row's way through a run: read the meeting, decide, keep the before-values, patch, record.

1. Read the meeting (a GET on the read lane), unless a fresh plan found a change to make,
   snapshots are off, or a run already committed this row's before-values (killed before the
   answer: the PATCH is sent again as it was, the original before-values kept). Offsets
   (``start +1h``, ``shift +1d``) are resolved on the meeting just read, and the absolute times
   they came to are committed with the before-values: a resume sends those, never shifts twice.
   A row edited under ``--force`` whose earlier version moved the meeting sends the times that
   version came to (its offsets unchanged) or resolves its offsets from the times the meeting
   had before that version (they changed), and keeps that version's before-values.
2. A meeting that already holds the row's values is ``skipped``: no PATCH. (A plan's word
   that it did is checked by this read: the meeting may have changed since.)
3. With an expectation (undo's drift guard): a meeting that no longer holds what bulkpatch set
   is a ``conflict``, left alone.
4. The before-values are committed to the journal; only then is the PATCH sent.
5. The outcome is committed with the values the API then held (what undo checks against).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from bulkpatch.client import Reply, Request, meeting_path
from bulkpatch.engine.attempts import Final, Pipeline
from bulkpatch.engine.values import Planned, RunSettings
from bulkpatch.journal import FOLLOWER_MOVED, RowStatus, Snapshot
from bulkpatch.model.diff import (
    ABSENT,
    before_values,
    encode_values,
    same,
    unchanged,
    value_of,
)
from bulkpatch.model.relative import (
    SHIFT,
    relative_parts,
    resolution_problem,
    resolved_body,
    with_resolved,
)
from bulkpatch.redact import printable

_UNRESOLVED = (
    "its PATCH may have been sent, but not the times its offsets came to: check the meeting, "
    "then give this row absolute times"
)

_SERIES_MOVED = (
    " (sent after the row of this job that reschedules its series: if that row moved the "
    "series, which re-stamps its occurrences and cancels the edited ones, this id, stamped at "
    "the old start, names nothing now. Pull the series' occurrences again and edit those)"
)

#: Records an outcome and waits until it is committed.
Finish = Callable[[Planned, RowStatus, int, Reply | None, str | None, str | None], Awaitable[None]]


def read_request(meeting_id: str, body: dict[str, Any]) -> Request:
    """GET the meeting; on behalf of its host when the row names one (an admin's job)."""
    host = body.get("hostEmail")
    query = (("hostEmail", host),) if isinstance(host, str) else ()
    return Request("GET", meeting_path(meeting_id), query)


def unresolvable(row: Planned) -> str | None:
    """Why a row sent before cannot be sent again: offsets whose times were not kept (an old
    journal), or dropped as it came behind a move of its meeting. Never guessed again."""
    if row.sent and not row.resolved and relative_parts(row.body):
        return FOLLOWER_MOVED if row.behind_a_move else _UNRESOLVED
    return None


async def take_row(
    row: Planned,
    pipeline: Pipeline,
    settings: RunSettings,
    commit_snapshot: Callable[[Snapshot], Awaitable[None]],
    finish: Finish,
    now: Callable[[], str],
) -> None:
    """Take one row through the steps above; a stop leaves it pending."""
    context = {"row": row.line, "meetingId": row.meeting_id}
    body = row.body
    before = row.before
    relative = relative_parts(body)
    if row.sent and relative:
        if not row.resolved:
            await finish(row, RowStatus.FAILED, 0, None, unresolvable(row), None)
            return
        body = with_resolved(body, row.resolved)  # never resolved twice: the first is sent again
    elif (relative or settings.snapshot) and _must_read(row, settings):
        read = await _sender(pipeline, row)(read_request(row.meeting_id, body), **context)
        if read is None:
            return  # the run stopped: the row stays pending
        pipeline.counts.reads += 1
        meeting = read.reply.payload if read.ok and read.reply is not None else None
        problem = _unread(read, row.meeting_id, meeting)
        if problem or not isinstance(meeting, dict):
            error = _explained(row, read.reply, problem)
            await finish(row, RowStatus.FAILED, read.attempts, read.reply, error, None)
            return
        if relative:
            body, problem = resolved_patch(
                body, meeting, pipeline.clock.wall(), resolved=row.resolved, earlier=row.earlier
            )
            if problem:
                await finish(row, RowStatus.FAILED, read.attempts, None, problem, None)
                return
        before = before_values(meeting, body)
        if settings.skip_unchanged and unchanged(before, body):
            await finish(row, RowStatus.SKIPPED, 0, None, None, None)
            return
        drift = _drift(meeting, row.expect) if not settings.ignore_drift else ""
        if drift:
            await finish(row, RowStatus.CONFLICT, 0, read.reply, drift, None)
            return
        moved = _moved(body, relative)
        # An earlier version of the row moved the meeting: what was there before it is the original.
        kept = before | {path: v for path, v in (row.earlier or {}).items() if path in before}
        await commit_snapshot(Snapshot(row.line, encode_values(kept), now(), moved))
    elif before is not None and not row.sent:
        # A plan's before-values, committed as this run's before its PATCH: killed once the
        # PATCH has landed, the row must still be known as maybe sent (resent unread on
        # resume, taken back by undo), not read again, found done and skipped.
        await commit_snapshot(Snapshot(row.line, encode_values(before), now()))
    final = await _sender(pipeline, row)(
        Request("PATCH", meeting_path(row.meeting_id), body=body), **context
    )
    if final is None:
        return
    status = RowStatus.SUCCEEDED if final.ok else RowStatus.FAILED
    error = _explained(row, final.reply, final.error)
    await finish(row, status, final.attempts, final.reply, error, _after(final, body))


def _sender(pipeline: Pipeline, row: Planned) -> Callable[..., Awaitable[Final | None]]:
    """How the row's requests are sent: a 404 is to be expected behind a series' move."""
    return pipeline.send_expecting_404 if row.behind_series_move else pipeline.send


def _explained(row: Planned, reply: Reply | None, error: str | None) -> str | None:
    """The error, saying why an occurrence sent after its series' move is not found."""
    if error and reply is not None and row.gone_as_warned(reply.status):
        return error + _SERIES_MOVED
    return error


def _must_read(row: Planned, settings: RunSettings) -> bool:
    """Whether the meeting must be read now, whatever a plan read before."""
    if row.sent:
        return False  # its PATCH may have landed: read now, it would look done
    if row.before is None or row.expect is not None:  # the drift guard needs it as it is now
        return True
    if relative_parts(row.body):
        return True  # offsets move from the meeting as it is now, not as a plan saw it
    return settings.skip_unchanged and unchanged(row.before, row.body)


def resolved_patch(
    body: dict[str, Any],
    meeting: dict[str, Any],
    now: datetime,
    *,
    resolved: dict[str, Any] | None = None,
    earlier: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], str]:
    """The row's PATCH with its offsets resolved on the meeting, or why that cannot be sent.

    ``resolved``: the times the journal holds for them already (they are sent again as they
    are, never resolved twice). ``earlier``: the before-values of an earlier version of the
    row, which moved the meeting: the offsets move the times it had before that, so a
    meeting is never moved by two versions of one row.
    """
    if not relative_parts(body):
        return body, ""
    # An earlier version's before-values hold the times from before it moved the meeting.
    base = meeting | {
        f: v for f, v in (earlier or {}).items() if f in ("start", "end") and isinstance(v, str)
    }
    try:
        patch = with_resolved(body, resolved) if resolved else resolved_body(body, base)
    except ValueError as exc:
        return body, f"cannot resolve {_offsets(body)}: {exc}"
    problem = resolution_problem({f: patch[f] for f in ("start", "end") if f in patch}, now)
    if problem:
        return body, f"{_offsets(body)} comes to a time the API refuses: {problem}"
    return patch, ""


def _moved(body: dict[str, Any], relative: dict[str, Any]) -> str | None:
    """The absolute times a row's offsets came to, as the journal keeps them (JSON)."""
    if not relative:
        return None
    moved = ("start", "end") if SHIFT in relative else relative
    return json.dumps({field: body[field] for field in moved})


def _offsets(body: dict[str, Any]) -> str:
    return ", ".join(f"{field} {body[field]}" for field in relative_parts(body))


def _unread(read: Final, meeting_id: str, meeting: Any) -> str:
    """Why the meeting could not be read (empty: it was)."""
    reply = read.reply
    if isinstance(meeting, dict):
        return another_meeting(meeting_id, meeting)
    if reply is not None and reply.status == 404:
        return reply.message or "The requested resource could not be found."
    reason = (
        read.error or (reply.message if reply is not None else "") or "no meeting in the answer"
    )
    return f"could not read the meeting before changing it: {reason}"


def another_meeting(meeting_id: str, meeting: dict[str, Any]) -> str:
    """A read that answered with some other meeting must not pass for this one's values."""
    found = meeting.get("id")
    if found == meeting_id:
        return ""
    return (
        f"the API answered the read of {meeting_id} with another meeting "
        f"({printable(str(found))[:80]}); not changed"
    )


def _drift(meeting: dict[str, Any], expect: dict[str, Any] | None) -> str:
    """How the meeting differs from what bulkpatch set (empty: it still holds it)."""
    if not expect:
        return ""
    differing = [
        f"{path}: now {_shown(value_of(meeting, path))}, bulkpatch set {_shown(value)}"
        for path, value in expect.items()
        if not same(path, value_of(meeting, path), None if value is ABSENT else value)
    ]
    if not differing:
        return ""
    return "changed since bulkpatch set it, left alone (--force reverts it anyway): " + "; ".join(
        differing
    )


def _shown(value: Any) -> str:
    return "(absent)" if value is ABSENT else repr(value)


def _after(final: Final, body: dict[str, Any]) -> str | None:
    """What the API held after the PATCH, at the paths the row set (from its answer)."""
    payload = final.reply.payload if final.ok and final.reply is not None else None
    return encode_values(before_values(payload, body)) if isinstance(payload, dict) else None
