"""Minutes of rate-limited traffic in milliseconds: a virtual-time event loop and a model run.

:class:`VirtualLoop` is an asyncio loop whose clock jumps to the next timer as soon as every
task waits, so ``asyncio.sleep(60)`` takes no real time and a ten-minute job runs in a second.
:func:`simulate` drives the real limiter (through the same calls the engine makes) against the
sandbox's own :class:`~bulkpatch.sandbox.RateLimits`, so the limiter's tests measure behaviour
(rows per second as a share of the limit, 429s, violations) without sleeping or a network.
"""

from __future__ import annotations

import asyncio
import itertools
import selectors
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from bulkpatch.limiter import AdaptiveLimiter
from bulkpatch.sandbox.limits import RateLimits

T = TypeVar("T")
#: Every simulated request comes on a connection of its own, across simulated runs too (the
#: sandbox counts a request on a connection that was told to wait as a violation).
_CONNECTIONS = itertools.count()


class _VirtualSelector(selectors.DefaultSelector):
    """Never blocks: where the loop would wait ``timeout`` seconds, time moves on instead."""

    def __init__(self, loop: VirtualLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = super().select(0)
        if not events and timeout is not None and timeout > 0:
            self._loop.virtual_now += timeout
        else:
            # Running code takes time too: a timer due "now plus rounding" (aiolimiter's leaky
            # bucket sets such ones) must see the clock move, or the loop would spin on it.
            self._loop.virtual_now += 1e-9
        return events


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time (no real I/O may be awaited in it)."""

    def __init__(self) -> None:
        self.virtual_now = 1000.0
        super().__init__(_VirtualSelector(self))

    def time(self) -> float:
        return self.virtual_now


def run_virtual(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` to its end on a fresh virtual-time loop."""
    loop = VirtualLoop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


class LoopClock:
    """The limiter's clock on the running loop's time (virtual in a VirtualLoop)."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def sleep(self, seconds: float) -> Awaitable[None]:
        return asyncio.sleep(max(0.0, seconds))

    def wall(self) -> datetime:
        return datetime(2026, 11, 25, tzinfo=UTC) + timedelta(seconds=self.now())


@dataclass
class Outcome:
    """What a simulated run did."""

    rows: int
    seconds: float
    requests: int = 0
    throttled: int = 0
    violations: int = 0
    #: Per whole second since the start: rows that succeeded.
    per_second: dict[int, int] = field(default_factory=dict)

    def share(self, limit: float) -> float:
        """Rows per second over the run, as a share of ``limit``."""
        return self.rows / self.seconds / limit


async def simulate(
    lane: AdaptiveLimiter,
    limits: RateLimits,
    rows: int,
    *,
    token: str = "t",
    concurrency: int = 32,
    latency: float = 0.002,
    started: float | None = None,
) -> Outcome:
    """Send ``rows`` requests through ``lane`` as the engine does, against ``limits``.

    Each request reaches the server ``latency`` / 2 after it is sent, and its answer comes back
    as long again. A 429 tells the lane to pause for its Retry-After and the row is sent again.
    """
    loop = asyncio.get_running_loop()
    begin = loop.time() if started is None else started
    outcome = Outcome(rows, 0.0)
    queue = list(range(rows))

    async def worker() -> None:
        while queue:
            queue.pop()
            while True:
                await lane.acquire()
                outcome.requests += 1
                await asyncio.sleep(latency / 2)
                throttle = limits.admit(token, next(_CONNECTIONS))
                await asyncio.sleep(latency / 2)
                if throttle is None:
                    lane.on_success()
                    second = int(loop.time() - begin)
                    outcome.per_second[second] = outcome.per_second.get(second, 0) + 1
                    break
                outcome.throttled += 1
                outcome.violations += throttle.violation
                lane.on_throttle(float(throttle.retry_after))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    outcome.seconds = loop.time() - begin
    return outcome


async def simulate_rows(
    lanes: Callable[[str], AdaptiveLimiter],
    limits: RateLimits,
    rows: int,
    *,
    steps: tuple[str, ...] = ("read", "write"),
    token: str = "t",
    concurrency: int = 32,
    latency: float = 0.002,
    write_every: int = 1,
) -> Outcome:
    """Like :func:`simulate`, but each row is a read (GET) then a write (PATCH), each through
    its own lane, as a run that reads every meeting before its PATCH; with ``write_every`` n,
    only every n-th row writes (the others found already set: skipped)."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    outcome = Outcome(rows, 0.0)
    queue = list(range(rows))
    methods = {"read": "GET", "write": "PATCH"}

    async def send(step: str) -> None:
        lane = lanes(step)
        while True:
            await lane.acquire()
            outcome.requests += 1
            await asyncio.sleep(latency / 2)
            throttle = limits.admit(token, next(_CONNECTIONS), methods[step])
            await asyncio.sleep(latency / 2)
            if throttle is None:
                lane.on_success()
                return
            outcome.throttled += 1
            outcome.violations += throttle.violation
            lane.on_throttle(float(throttle.retry_after))

    async def worker() -> None:
        while queue:
            row = queue.pop()
            for step in steps:
                if step != "write" or row % write_every == 0:
                    await send(step)
            second = int(loop.time() - begin)
            outcome.per_second[second] = outcome.per_second.get(second, 0) + 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    outcome.seconds = loop.time() - begin
    return outcome
