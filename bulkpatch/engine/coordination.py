"""How workers share: meetings taking turns in file order, and group commit of outcomes."""

from __future__ import annotations

from collections import deque

import anyio

from bulkpatch.journal import Journal, Outcome, Snapshot


class MeetingTurns:
    """Rows of one meeting take turns in file order; a meeting nobody waits for costs no lock.

    The first row of a meeting goes at once; later ones queue behind it, and each release
    hands the meeting straight to the next in line (FIFO), so file order holds.
    """

    __slots__ = ("_queues",)

    def __init__(self) -> None:
        self._queues: dict[str, deque[anyio.Event]] = {}

    async def take(self, meeting_id: str) -> None:
        """Wait for this meeting's turn."""
        queue = self._queues.get(meeting_id)
        if queue is None:
            self._queues[meeting_id] = deque()
            return
        turn = anyio.Event()
        queue.append(turn)
        try:
            await turn.wait()
        except BaseException:
            if turn in queue:
                queue.remove(turn)
            else:  # the turn was handed over just as we were cancelled: pass it on
                self.give_back(meeting_id)
            raise

    def give_back(self, meeting_id: str) -> None:
        """End this row's turn: the next row of the meeting, if any, goes now."""
        queue = self._queues[meeting_id]
        if queue:
            queue.popleft().set()
        else:
            del self._queues[meeting_id]


class Committer:
    """Group commit: outcomes (and snapshots) that finish together go in one transaction.

    A worker takes its next step only once what it recorded is committed: its next row after
    an outcome, its PATCH after the row's before-values. So at any moment the rows that a crash
    would send again are at most the ones in flight (never more than ``concurrency``), and no
    PATCH is ever sent without its before-values on disk. Commits run on the event loop, like
    every other use of the journal.
    """

    __slots__ = ("_batch", "_done", "_journal", "_wake")

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._batch: list[Outcome | Snapshot] = []
        self._done = anyio.Event()
        self._wake = anyio.Event()

    async def commit(self, record: Outcome | Snapshot) -> None:
        """Record an outcome or a snapshot and wait until it is committed."""
        self._batch.append(record)
        done = self._done
        self._wake.set()
        await done.wait()

    def drain(self) -> None:
        """Commit what a cancelled run left waiting (its workers no longer wait for it)."""
        self._hand_over(self._batch)
        self._batch = []
        self._journal.flush()

    async def run(self) -> None:
        """Commit whatever is waiting, as long as the run goes."""
        while True:
            await self._wake.wait()
            for _ in range(2):  # let workers finishing about now join this batch: fewer commits
                await anyio.sleep(0)
            batch, done = self._batch, self._done
            self._batch, self._done, self._wake = [], anyio.Event(), anyio.Event()
            self._hand_over(batch)
            self._journal.flush()
            done.set()

    def _hand_over(self, batch: list[Outcome | Snapshot]) -> None:
        for record in batch:
            if isinstance(record, Snapshot):
                self._journal.record_snapshot(record)
            else:
                self._journal.record(record)
