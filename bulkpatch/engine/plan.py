"""Which rows to send: the validated rows minus what the journal says is done."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from bulkpatch.engine.values import Planned
from bulkpatch.journal import Journal, stored_body
from bulkpatch.model import ValidatedRow

_PLAN_BATCH = 500


def plan_rows(
    rows: Iterable[ValidatedRow], journal: Journal, *, retry_failed: bool
) -> Iterator[Planned]:
    """The rows still to send, each committed to the journal before it is handed out.

    New rows are added as ``pending`` (``invalid`` when they have errors, which only happens
    with --skip-invalid). A row whose meeting or changes differ from what the journal holds
    (a changed job file run with --force) is reset to ``pending``.
    """
    batch: list[tuple[int, str, str, dict[str, Any] | None, str | None]] = []
    ready: list[Planned] = []
    resuming = journal.has_rows()
    for row in rows:
        known = journal.known(row.line) if resuming else None
        if known is not None and known[1] == row.meeting_id and known[2] == stored_body(row.body):
            status = known[0]
            if status == "pending" or (status == "failed" and retry_failed):
                ready.append(Planned(row.line, row.meeting_id, row.body or {}))
        elif row.body is None:
            batch.append((row.line, row.meeting_id, "invalid", None, row.error))
        else:
            batch.append((row.line, row.meeting_id, "pending", row.body, None))
            ready.append(Planned(row.line, row.meeting_id, row.body))
        if len(ready) >= _PLAN_BATCH or len(batch) >= _PLAN_BATCH:
            journal.add_rows(batch)
            batch.clear()
            yield from ready
            ready.clear()
    journal.add_rows(batch)
    yield from ready
