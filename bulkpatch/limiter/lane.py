"""One lane of requests (reads or writes): its own pace, and the pause every lane shares."""

from __future__ import annotations

from collections.abc import Callable

from aiolimiter import AsyncLimiter

from bulkpatch.clock import Clock
from bulkpatch.limiter.finder import RateFinder
from bulkpatch.limiter.pacer import Pacer

#: Waiting out a pause wakes this often, so a pause another process shares (or lifts) is seen
#: and heartbeats go on.
_PAUSE_CHECK_SECONDS = 1.0


class Hold:
    """The moment before which no lane sends: the latest Retry-After, shared by every lane."""

    __slots__ = ("_clock", "until", "waited")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.until = clock.now()
        #: Seconds sending was held, all pauses together (overlaps counted once).
        self.waited = 0.0

    def __repr__(self) -> str:
        return f"<Hold for={self.remaining:.2f}s waited={self.waited:.1f}s>"

    @property
    def remaining(self) -> float:
        """Seconds until sending may resume (0 when it may now)."""
        return max(0.0, self.until - self._clock.now())

    def extend(self, until: float) -> bool:
        """Hold until ``until`` (if later than the hold now); True if that moved the hold."""
        now = self._clock.now()
        if until <= self.until or until <= now:
            return False
        self.waited += until - max(self.until, now)
        self.until = until
        return True


def ceiling_gate(ceiling: float | None) -> AsyncLimiter | None:
    """The hard ceiling (``--max-rate``) as an aiolimiter leaky bucket of one: sends at most
    ``ceiling`` a second, evenly, whatever the finder decides (no burst, even at a start)."""
    if ceiling is None:
        return None
    return AsyncLimiter(1, 1 / ceiling)


class AdaptiveLimiter:
    """The pace of one lane: a :class:`RateFinder` deciding, a :class:`Pacer` spacing sends.

    Under both, the ceiling, when there is one, is an :class:`aiolimiter.AsyncLimiter` every
    lane of a run passes through: the one guarantee that holds even if the finder is wrong.

    What the engine calls: :meth:`acquire` before each request, :meth:`on_success` and
    :meth:`on_throttle` after it, :meth:`hold` for a Retry-After a killed run was given.
    Built alone (``AdaptiveLimiter(ceiling, clock)``) it has a hold of its own; built by
    :class:`~bulkpatch.limiter.Pacing` it shares the hold with the other lanes and processes.
    """

    __slots__ = (
        "_clock",
        "_gate",
        "_hold",
        "_pacer",
        "_portion",
        "_publish",
        "_sent",
        "_share",
        "_tick",
        "episodes",
        "finder",
        "name",
        "succeeded",
        "throttled",
    )

    def __init__(
        self,
        ceiling: float | None,
        clock: Clock,
        *,
        min_rate: float = 0.2,
        finder: RateFinder | None = None,
        hold: Hold | None = None,
        name: str = "write",
        share: Callable[[], int] = lambda: 1,
        portion: Callable[[], float] = lambda: 1.0,
        sent: Callable[[], None] = lambda: None,
        tick: Callable[[], None] = lambda: None,
        publish: Callable[[str | None, float, float], None] = lambda lane, until, rate: None,
        gate: AsyncLimiter | None = None,
    ) -> None:
        if ceiling is not None and ceiling <= 0:
            raise ValueError("the rate ceiling must be positive")
        self.name = name
        self.finder = finder or RateFinder(clock.now(), ceiling=ceiling, min_rate=min_rate)
        self.throttled = 0
        self.succeeded = 0
        self.episodes = 0
        self._clock = clock
        self._hold = hold or Hold(clock)
        self._share = share
        self._portion = portion
        self._sent = sent
        self._tick = tick
        self._publish = publish
        self._pacer = Pacer(self.rate, clock, rate_of=lambda: self.rate)
        self._gate = gate if gate is not None else ceiling_gate(ceiling)

    def __repr__(self) -> str:
        return (
            f"<AdaptiveLimiter {self.name} rate={self.rate:.2f}/s ceiling={self.finder.ceiling:g}/s"
            f" paused={self.paused_for:.2f}s 429s={self.throttled}>"
        )

    @property
    def rate(self) -> float:
        """This process's pace on this lane, in requests per second: its portion of the token's
        pace (the lanes of a run share one finder), shared with the other runs on the token."""
        return self.finder.rate * self._portion() / max(1, self._share())

    @property
    def slots(self) -> tuple[int, int]:
        """Send slots handed out so far, and how many a worker had to wait for."""
        return self._pacer.slots, self._pacer.waited_for

    @property
    def ceiling(self) -> float:
        """The hard ceiling (infinite when none was given)."""
        return self.finder.ceiling

    @property
    def paused_for(self) -> float:
        """Seconds until sending may resume (0 when not paused)."""
        return self._hold.remaining

    @property
    def waited(self) -> float:
        """Seconds sending was held by Retry-After pauses (shared by every lane)."""
        return self._hold.waited

    async def acquire(self) -> None:
        """Wait until this worker may send one request."""
        while True:
            self._tick()
            wait = self._hold.remaining
            if wait > 0:
                await self._clock.sleep(min(wait, _PAUSE_CHECK_SECONDS))
                continue
            await self._pacer.acquire()
            if self._gate is not None:
                await self._gate.acquire()
            self._tick()
            # A 429 may have come in while this worker waited for its slot: check again.
            if self._hold.remaining <= 0:
                return

    def on_success(self) -> None:
        """A request of this lane succeeded."""
        self.succeeded += 1
        self._sent()
        now = self._clock.now()
        self.finder.sending_resumed(self._hold.until)
        # The finder reckons the token's whole traffic: each run sends as much as this one.
        self.finder.succeeded(now, float(max(1, self._share())), self.name)

    def on_throttle(self, pause: float) -> bool:
        """A 429 told everyone to wait ``pause`` seconds; return True if it began a new episode."""
        self.throttled += 1
        # Another run on the token may have been refused a moment ago, its requests in flight
        # beside ours: read its hold first, so that one measure counts, not two.
        self._tick()
        now = self._clock.now()
        new_episode = now >= self._hold.until
        if new_episode:
            self.episodes += 1
        self.finder.throttled(now, pause, new_episode=new_episode, lane=self.name)
        if self._hold.extend(now + pause):
            # With the rate measured, so the other runs on the token follow it.
            self._publish(self.name if new_episode else None, self._hold.until, self.finder.rate)
        self._pacer.restart(self._hold.until)
        return new_episode

    def throttled_elsewhere(self, pause: float, rate: float, uncertainty: float) -> None:
        """Another run on this token was refused and measured the token's rate: follow it."""
        self.finder.follow(self._clock.now(), pause, rate, uncertainty)
        self._pacer.restart(self._hold.until)

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (a Retry-After an earlier run was given), rate unchanged."""
        if self._hold.extend(self._clock.now() + seconds):
            self._publish(None, self._hold.until, self.finder.rate)
        self._pacer.restart(self._hold.until)
