"""Which rows to send: the validated rows whose journal status says they are still to do."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from bulkpatch.engine.values import Planned
from bulkpatch.journal import Journal, RowState, RowStatus
from bulkpatch.model import ValidatedRow
from bulkpatch.model.diff import decode_values

_BATCH = 2_000
#: A row a run committed before-values for, yet without an outcome: its PATCH may have landed.
_MAYBE_SENT = frozenset({RowStatus.PENDING, RowStatus.FAILED})


def plan_rows(
    rows: Iterable[ValidatedRow],
    journal: Journal,
    *,
    retry_failed: bool,
    fresh_since: datetime | None = None,
    expect: Mapping[str, dict[str, Any]] | None = None,
    retry_conflicts: bool = False,
    also: Mapping[int, bool] | None = None,
    behind_series_move: bool = False,
) -> Iterator[Planned]:
    """The rows still to send, in file order, with their real patches.

    ``rows`` are the job's validated rows (the journal keeps only masked patches), and the
    journal already holds every one of them (see :meth:`Journal.sync_rows`): ``pending`` ones
    are sent, ``reverted`` ones (undone since) too, ``failed`` ones with ``retry_failed``
    (``conflict`` ones with ``retry_conflicts``). Before-values read after ``fresh_since`` (by a plan) come along, so
    the run need not read those meetings again; resolved times always do, and so do the
    before-values of a row's earlier version (see :mod:`bulkpatch.journal.pairing`). ``expect`` gives, by
    meeting id, what each meeting must still hold (undo's drift guard). Rows at the lines in
    ``also`` come whatever their status, as a retry would make them (the done rows it sends
    again, for a plan: True for an offset row behind a move, whose times the retry drops).
    ``behind_series_move`` marks the rows as occurrences whose series the job reschedules.
    """
    also = also or {}
    wanted = {RowStatus.PENDING, RowStatus.REVERTED}
    wanted |= {RowStatus.FAILED} if retry_failed else set()
    wanted |= {RowStatus.CONFLICT} if retry_conflicts else set()
    states = _states(journal)
    state = next(states, None)
    for row in rows:
        while state is not None and state.line < row.line:
            state = next(states, None)
        if state is None or state.line != row.line:
            continue
        followed = state.line in also
        if (state.status in wanted or followed) and row.body is not None:
            # A done row a retry sends again is to send as if pending: sent as before when a
            # run took its before-values, read first otherwise.
            kept = (
                state.before if state.sent and (state.status in _MAYBE_SENT or followed) else None
            )
            earlier = state.before if state.carried else None
            behind_a_move = state.behind_a_move or also.get(state.line, False)
            resolved = None if behind_a_move else state.resolved
            yield Planned(
                row.line,
                row.meeting_id,
                row.body,
                decode_values(kept) if kept else _fresh_before(state, fresh_since),
                json.loads(resolved) if (kept or earlier) and resolved else None,
                (expect or {}).get(row.meeting_id),
                sent=kept is not None,
                earlier=decode_values(earlier) if earlier else None,
                behind_a_move=behind_a_move,
                behind_series_move=behind_series_move,
            )


def _fresh_before(state: RowState, fresh_since: datetime | None) -> dict[str, Any] | None:
    """A plan's before-values, when recent enough to spare the run a read."""
    if state.sent or state.carried or state.before is None or state.taken_at is None:
        return None
    if fresh_since is None:
        return None
    if datetime.fromisoformat(state.taken_at.replace("Z", "+00:00")) < fresh_since:
        return None
    return decode_values(state.before)


def _states(journal: Journal) -> Iterator[RowState]:
    """Every row's state in line order, read a batch at a time (the run writes meanwhile)."""
    after = 0
    while batch := journal.states_from(after, _BATCH):
        yield from batch
        after = batch[-1].line
