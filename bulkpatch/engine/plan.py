"""Which rows to send: the validated rows whose journal status says they are still to do."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from bulkpatch.engine.values import Planned
from bulkpatch.journal import Journal, RowStatus
from bulkpatch.model import ValidatedRow

_BATCH = 2_000


def plan_rows(
    rows: Iterable[ValidatedRow], journal: Journal, *, retry_failed: bool
) -> Iterator[Planned]:
    """The rows still to send, in file order, with their real patches.

    ``rows`` are the job's validated rows (the journal keeps only masked patches), and the
    journal already holds every one of them (see :meth:`Journal.sync_rows`): ``pending`` ones
    are sent, ``failed`` ones too with ``retry_failed``.
    """
    wanted = {RowStatus.PENDING} | ({RowStatus.FAILED} if retry_failed else set())
    statuses = _statuses(journal)
    line, status = next(statuses, (None, None))
    for row in rows:
        while line is not None and line < row.line:
            line, status = next(statuses, (None, None))
        if line == row.line and status in wanted and row.body is not None:
            yield Planned(row.line, row.meeting_id, row.body)


def _statuses(journal: Journal) -> Iterator[tuple[int, RowStatus]]:
    """Every row's status in line order, read a batch at a time (the run writes meanwhile)."""
    after = 0
    while batch := journal.statuses_from(after, _BATCH):
        yield from batch
        after = batch[-1][0]
