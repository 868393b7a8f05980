"""The shared limiter: Retry-After pauses everyone, AIMD pacing, never above the ceiling."""

from __future__ import annotations

import anyio
import pytest
from conftest import VirtualClock

from bulkpatch.limiter import AdaptiveLimiter


async def test_pause_holds_every_worker_until_the_deadline(virtual_clock: VirtualClock) -> None:
    """After a 429 with Retry-After 5, no acquire returns before that moment, in any worker."""
    limiter = AdaptiveLimiter(1000, virtual_clock)
    limiter.on_throttle(5.0)
    deadline = virtual_clock.now() + 5.0
    released: list[float] = []

    async def worker() -> None:
        await limiter.acquire()
        released.append(virtual_clock.now())

    async with anyio.create_task_group() as group:
        for _ in range(6):
            group.start_soon(worker)
    assert len(released) == 6
    assert min(released) >= deadline


async def test_in_flight_429s_are_one_episode(virtual_clock: VirtualClock) -> None:
    """429s that arrive during the pause extend nothing and halve the rate only once."""
    limiter = AdaptiveLimiter(40, virtual_clock)
    assert limiter.on_throttle(2.0) is True
    assert limiter.on_throttle(2.0) is False
    assert limiter.on_throttle(1.0) is False
    assert (limiter.episodes, limiter.throttled, limiter.rate) == (1, 3, 20)
    assert limiter.paused_for == pytest.approx(2.0)


async def test_a_later_retry_after_extends_the_pause(virtual_clock: VirtualClock) -> None:
    """A longer Retry-After inside an episode moves the deadline out."""
    limiter = AdaptiveLimiter(40, virtual_clock)
    limiter.on_throttle(1.0)
    limiter.on_throttle(3.0)
    assert limiter.paused_for == pytest.approx(3.0)


async def test_rate_climbs_back_step_by_step_and_stops_at_the_ceiling(
    virtual_clock: VirtualClock,
) -> None:
    """About a second of successes raises the rate one step; it never passes the ceiling."""
    limiter = AdaptiveLimiter(10, virtual_clock)
    limiter.on_throttle(1.0)
    assert limiter.rate == 5
    rates = []
    for _ in range(200):
        limiter.on_success()
        rates.append(limiter.rate)
    assert (
        rates[4] == 6.25
    )  # the first step after 5 successes (one second at 5/s): no measure yet, a quarter
    assert rates == sorted(rates)
    assert max(rates) == pytest.approx(9.7)  # 3 % under the pace that was refused


def _send_for(limiter: AdaptiveLimiter, clock: VirtualClock, seconds: float) -> list[float]:
    """Succeed at the limiter's own pace for ``seconds``; the rates it went through."""
    rates = []
    until = clock.monotonic + seconds
    while clock.monotonic < until:
        clock.monotonic += 1 / limiter.rate
        limiter.on_success()
        rates.append(limiter.rate)
    return rates


async def test_the_climb_stays_under_a_refused_pace(virtual_clock: VirtualClock) -> None:
    """A pace a 429 came at is not courted again: the climb stops 3 % under it."""
    limiter = AdaptiveLimiter(100, virtual_clock)
    limiter.on_throttle(1.0)  # refused at the ceiling, nothing measured: half
    virtual_clock.monotonic += 1.0
    assert max(_send_for(limiter, virtual_clock, 10)) == pytest.approx(97)
    limiter.on_throttle(1.0)  # refused at 97/s after seconds of sending: measured
    assert limiter.refused_rate == pytest.approx(97)
    assert limiter.rate == pytest.approx(0.95 * 97, rel=0.02)
    virtual_clock.monotonic += 1.0
    assert max(_send_for(limiter, virtual_clock, 60)) == pytest.approx(0.97 * 97)


async def test_after_two_clean_minutes_the_top_rises(virtual_clock: VirtualClock) -> None:
    """A limit that was low for a while is found again: the top rises 5 % per clean two minutes."""
    limiter = AdaptiveLimiter(1000, virtual_clock)
    limiter.on_throttle(1.0)
    virtual_clock.monotonic += 1.0
    _send_for(limiter, virtual_clock, 5)
    limiter.on_throttle(1.0)
    top = 0.97 * limiter.refused_rate  # type: ignore[operator]
    virtual_clock.monotonic += 1.0
    assert max(_send_for(limiter, virtual_clock, 110)) == pytest.approx(top)
    assert max(_send_for(limiter, virtual_clock, 20)) == pytest.approx(1.05 * top)


async def test_rate_never_drops_below_the_floor(virtual_clock: VirtualClock) -> None:
    """Repeated episodes halve the rate down to a floor, not to zero."""
    limiter = AdaptiveLimiter(1, virtual_clock, min_rate=0.2)
    for _ in range(10):
        virtual_clock.monotonic += 100
        limiter.on_throttle(1.0)
    assert limiter.rate == 0.2
    assert limiter.episodes == 10


def test_ceiling_must_be_positive(virtual_clock: VirtualClock) -> None:
    """A zero ceiling is refused."""
    with pytest.raises(ValueError, match="positive"):
        AdaptiveLimiter(0, virtual_clock)


async def test_repr_shows_live_state(virtual_clock: VirtualClock) -> None:
    """The repr shows rate, ceiling, pause and 429 count."""
    limiter = AdaptiveLimiter(8, virtual_clock)
    limiter.on_throttle(2.0)
    assert repr(limiter) == "<AdaptiveLimiter rate=4.00/s ceiling=8/s paused=2.00s 429s=1>"


async def test_measured_server_rate_sets_the_pace_and_the_slow_climb(
    virtual_clock: VirtualClock,
) -> None:
    """After a full second of sending, a 429 sets the pace just under what got through, and
    the climb from there is one percent of it per second, so probes above the limit stay rare."""
    limiter = AdaptiveLimiter(1000, virtual_clock)
    virtual_clock.monotonic += 1.0
    for _ in range(100):  # two seconds at 50 successes a second
        virtual_clock.monotonic += 0.02
        limiter.on_success()
    limiter.on_throttle(1.0)
    assert limiter.estimate == 50
    assert limiter.rate == pytest.approx(47.5)
    virtual_clock.monotonic += 1.0  # the pause
    for _ in range(48):
        virtual_clock.monotonic += 1 / 47.5
        limiter.on_success()
    assert limiter.rate == pytest.approx(48.0)


async def test_a_burst_right_after_a_start_halves_instead(virtual_clock: VirtualClock) -> None:
    """With less than a second of sending to measure, the pace is halved, not guessed."""
    limiter = AdaptiveLimiter(1000, virtual_clock)
    for _ in range(10):
        limiter.on_success()
    limiter.on_throttle(1.0)
    assert (limiter.estimate, limiter.rate) == (None, 500)


async def test_changing_the_rate_keeps_the_bucket_full() -> None:
    """A rate step does not hand out a fresh burst: what was sent still counts."""
    from bulkpatch.limiter import _Pacer

    pacer = _Pacer(100)  # a bucket of 10
    for _ in range(10):
        await pacer.acquire()
    pacer.set_rate(101)
    assert pacer.level == pytest.approx(10, abs=0.5)
    assert not pacer.has_capacity(1)
    pacer.set_rate(50)  # a smaller bucket: level capped to it, still no room
    assert pacer.level <= 5
    assert not pacer.has_capacity(1)
