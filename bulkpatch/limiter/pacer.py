"""Even pacing at a rate that may change at any moment, on the injected clock."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import anyio

from bulkpatch.clock import Clock

#: How far behind the even pace the next slot may be, in seconds: a timer that fires late is
#: made up by the next requests instead of being lost, yet no burst exceeds a few requests,
#: well inside any server's own burst (the sandbox's default is 10).
_TOLERANCE_SECONDS = 0.02
#: The longest a waiter sleeps before reading the rate again.
_RECHECK_SECONDS = 0.25


class Pacer:
    """Hands out send slots ``1 / rate`` apart, to waiters in turn (first come, first served).

    Only the waiter at the head of the queue sleeps, until the next slot; the rest wait for
    their turn. Nothing is booked ahead, so a new rate applies to the next slot but one, and a
    change never hands out a fresh burst. With ``rate_of``, the rate is read at every slot and
    a head waiter wakes at least every :data:`_RECHECK_SECONDS` to read it again: with the rate
    set only as a worker arrived, a queue that formed at a slow pace (a lane's small portion)
    kept it after the pace rose, and 32 waiting writes went out at 1.5 a second.
    """

    __slots__ = (
        "_clock",
        "_next",
        "_queue",
        "_rate_of",
        "rate",
        "slots",
        "waited_for",
    )

    def __init__(
        self, rate: float, clock: Clock, rate_of: Callable[[], float] | None = None
    ) -> None:
        self.rate = rate
        #: Slots handed out, and how many of them a caller had to wait for: a run whose
        #: callers wait sends at the pace; one whose callers never do sends less (slow
        #: answers, few workers, the tail of a job).
        self.slots = 0
        self.waited_for = 0
        self._clock = clock
        self._rate_of = rate_of
        self._next = clock.now()
        self._queue: deque[anyio.Event] = deque()

    def __repr__(self) -> str:
        return f"<Pacer rate={self.rate:.2f}/s waiters={len(self._queue)}>"

    def restart(self, at: float) -> None:
        """No slot before ``at`` (the end of a pause)."""
        self._next = max(self._next, at)

    def _take(self) -> float:
        """Take the next slot if it has come (0.0), else the seconds to sleep before asking again."""
        if self._rate_of is not None:
            self.rate = self._rate_of()
        now = self._clock.now()
        slot = max(self._next, now - min(_TOLERANCE_SECONDS, 1.0 / self.rate))
        if slot > now:
            return min(slot - now, _RECHECK_SECONDS)
        self._next = slot + 1.0 / self.rate
        return 0.0

    async def acquire(self) -> None:
        """Wait for this caller's slot."""
        self.slots += 1
        if not self._queue and not self._take():
            return
        self.waited_for += 1
        turn = anyio.Event()
        self._queue.append(turn)
        try:
            if self._queue[0] is not turn:
                await turn.wait()
            while wait := self._take():
                await self._clock.sleep(wait)
        finally:
            self._queue.remove(turn)
            if self._queue:
                self._queue[0].set()  # the next waiter's turn (even if this one was cancelled)
