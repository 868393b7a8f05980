"""The limiter's parts on a hand-moved clock: the shared pause, the pacer, the rate finder."""

from __future__ import annotations

import itertools

import anyio
import pytest
from conftest import VirtualClock

from bulkpatch.limiter import AdaptiveLimiter, RateFinder
from bulkpatch.limiter.finder import ASSUMED_BURST, DECREASE, MARGIN, START_RATE
from bulkpatch.limiter.measure import burst_from_cycles
from bulkpatch.limiter.pacer import Pacer
from bulkpatch.limiter.window import WindowDetector


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
    """429s that arrive during the pause extend nothing and lower the rate only once."""
    limiter = AdaptiveLimiter(40, virtual_clock)
    assert limiter.on_throttle(2.0) is True
    rate = limiter.rate
    assert limiter.on_throttle(2.0) is False
    assert limiter.on_throttle(1.0) is False
    assert (limiter.episodes, limiter.throttled, limiter.rate) == (1, 3, rate)
    assert limiter.paused_for == pytest.approx(2.0)


async def test_a_later_retry_after_extends_the_pause(virtual_clock: VirtualClock) -> None:
    """A longer Retry-After inside an episode moves the deadline out; waited counts it once."""
    limiter = AdaptiveLimiter(40, virtual_clock)
    limiter.on_throttle(1.0)
    limiter.on_throttle(3.0)
    assert limiter.paused_for == pytest.approx(3.0)
    assert limiter.waited == pytest.approx(3.0)


async def test_hold_pauses_without_changing_the_rate(virtual_clock: VirtualClock) -> None:
    """A Retry-After remembered from a killed run holds sending but teaches nothing."""
    limiter = AdaptiveLimiter(None, virtual_clock)
    rate = limiter.rate
    limiter.hold(30.0)
    assert (limiter.paused_for, limiter.rate, limiter.episodes) == (30.0, rate, 0)


def test_ceiling_must_be_positive(virtual_clock: VirtualClock) -> None:
    """A zero ceiling is refused."""
    with pytest.raises(ValueError, match="positive"):
        AdaptiveLimiter(0, virtual_clock)


async def test_repr_shows_live_state(virtual_clock: VirtualClock) -> None:
    """The repr shows lane, rate, ceiling, pause and 429 count."""
    limiter = AdaptiveLimiter(8, virtual_clock)
    limiter.on_throttle(2.0)
    assert repr(limiter) == "<AdaptiveLimiter write rate=5.60/s ceiling=8/s paused=2.00s 429s=1>"


def _send(finder: RateFinder, clock: VirtualClock, seconds: float, limit: float = 1e9) -> None:
    """Succeed at the finder's pace (or ``limit``, if lower) for ``seconds``."""
    until = clock.monotonic + seconds
    while clock.monotonic < until:
        clock.monotonic += 1 / min(finder.rate, limit)
        finder.succeeded(clock.monotonic)


@pytest.mark.parametrize("ceiling", [None, 25.0])
def test_start_is_safe_and_doubles_up_to_the_ceiling(
    virtual_clock: VirtualClock, ceiling: float | None
) -> None:
    """Without a learned rate the pace starts at START_RATE and grows fast, never past a ceiling."""
    finder = RateFinder(virtual_clock.now(), ceiling=ceiling)
    assert finder.rate == START_RATE
    assert finder.discovering
    _send(finder, virtual_clock, 2.0)
    assert finder.rate == 25.0 if ceiling else finder.rate > 100 * START_RATE


def test_growth_waits_for_the_pace_to_be_used(virtual_clock: VirtualClock) -> None:
    """A run that cannot send at the pace (slow answers, few rows) does not raise it."""
    finder = RateFinder(virtual_clock.now())
    _send(finder, virtual_clock, 5.0, limit=3.0)
    assert finder.rate == START_RATE


def test_a_429_sets_the_pace_just_under_what_the_bucket_let_through(
    virtual_clock: VirtualClock,
) -> None:
    """Over-sending at 80/s into a bucket of 10 at 50/s, refused after 1/3 s: the pace is ~50."""
    finder = RateFinder(virtual_clock.now(), learned=80.0)
    for _ in range(27):  # the bucket's 10, and 50/s for a third of a second
        virtual_clock.monotonic += 1 / 80
        finder.succeeded(virtual_clock.monotonic)
    finder.throttled(virtual_clock.now(), 1.0, new_episode=True)
    assert finder.rate == pytest.approx(MARGIN * 50, rel=0.08)
    assert finder.refused == 80.0


def test_a_limit_that_drops_is_followed_at_once(virtual_clock: VirtualClock) -> None:
    """Held at 40/s, refused: the pace goes under 40; refused again after the bucket of a
    20/s limit ran dry, the pace is just under 20. What held before the drop is forgotten."""
    finder = RateFinder(virtual_clock.now(), learned=40.0)
    _send(finder, virtual_clock, 8.0)
    finder.throttled(virtual_clock.now(), 1.0, new_episode=True)
    assert finder.rate < 40.0
    assert finder.good is None
    virtual_clock.monotonic += 1.0
    pace = finder.rate
    for _ in range(int(10 / (1 - 20 / pace)) + 1):  # 10 in the bucket, 20/s coming in
        virtual_clock.monotonic += 1 / pace
        finder.succeeded(virtual_clock.monotonic)
    finder.throttled(virtual_clock.now(), 1.0, new_episode=True)
    assert 18.0 < finder.rate < 23.0  # within a request or so of 20


def test_a_pause_too_short_to_fill_the_bucket_still_measures_the_limit(
    virtual_clock: VirtualClock,
) -> None:
    """At 5/s a 1-second Retry-After refills 5 of a bucket of 10. Sent at 6/s from there, the
    next 429 comes after 5 s with 30 through: 5/s, not the 4/s that assuming a full bucket
    makes of it (the real run at a 5/s limit sat at 4.2/s for the rest of its job)."""
    finder = RateFinder(virtual_clock.now(), learned=6.0)
    finder.throttled(virtual_clock.now(), 1.0, new_episode=True)  # the bucket is empty now
    virtual_clock.monotonic += 1.0
    for _ in range(30):  # 5 refilled during the pause, and 5/s for the 5 s at 6/s
        virtual_clock.monotonic += 1 / 6
        finder.succeeded(virtual_clock.monotonic)
    finder.throttled(virtual_clock.now(), 1.0, new_episode=True)
    assert finder.rate == pytest.approx(5.0, rel=0.03)


def test_a_429_soon_after_a_pause_does_not_measure_the_pause(
    virtual_clock: VirtualClock,
) -> None:
    """Refused again 40 ms after a 1-second pause: the successes since the last 429 over the
    second and more since then (21/s at a limit of 300) say nothing of a limit whose bucket
    the pause refilled; the pace is cut by DECREASE instead, the next 429 measures."""
    finder = RateFinder(virtual_clock.now(), learned=500.0)
    finder.throttled(virtual_clock.now(), 1.0, new_episode=True)
    virtual_clock.monotonic += 1.0
    pace = finder.rate
    for _ in range(21):  # the refilled bucket, and 300/s, in 40 ms
        virtual_clock.monotonic += 0.04 / 21
        finder.succeeded(virtual_clock.monotonic)
    finder.throttled(virtual_clock.now(), 1.0, new_episode=True)
    assert finder.rate == pytest.approx(DECREASE * pace)


def test_in_flight_refusals_change_nothing(virtual_clock: VirtualClock) -> None:
    """Only the first 429 of an episode moves the pace."""
    finder = RateFinder(virtual_clock.now(), learned=40.0)
    finder.throttled(virtual_clock.now(), 1.0, new_episode=False)
    assert (finder.rate, finder.refused) == (40.0, None)


@pytest.mark.parametrize(("retry_after", "quiet"), [(1.0, 100.0), (60.0, 6000.0)])
def test_probes_wait_longer_the_more_a_429_costs(
    virtual_clock: VirtualClock, retry_after: float, quiet: float
) -> None:
    """After a precise measure, the next probe waits 2 x Retry-After / 2 %: 100 s or 100 minutes."""
    finder = RateFinder(virtual_clock.now(), learned=20.0, learned_cost=retry_after)
    assert finder.quiet_seconds == quiet
    _send(finder, virtual_clock, quiet - 1)
    assert finder.rate == 20.0
    _send(finder, virtual_clock, 2)
    assert finder.rate > 20.0


def test_a_probe_that_holds_doubles_its_step(virtual_clock: VirtualClock) -> None:
    """A limit that rose is found in a few probes: each held step doubles the next."""
    finder = RateFinder(virtual_clock.now(), learned=20.0)
    _send(finder, virtual_clock, finder.quiet_seconds + 60)
    assert finder.rate > 40.0


@pytest.mark.parametrize("learned", [None, 20.0])
def test_a_run_that_does_not_lead_neither_grows_nor_probes(
    virtual_clock: VirtualClock, learned: float | None
) -> None:
    """Of the runs on one token only the leader raises the pace, starting or probing; the
    others pace with it, and following measures nothing: nothing to remember as found."""
    finder = RateFinder(virtual_clock.now(), learned=learned)
    finder.lead(virtual_clock.now(), leading=False)
    _send(finder, virtual_clock, 300.0, limit=100.0)
    assert finder.rate == (START_RATE if learned is None else learned)
    finder.pace_with(33.0)
    assert finder.rate == 33.0
    assert finder.settled == (None if learned is None else 33.0)


def test_a_failed_probe_goes_back_under_the_refused_pace(virtual_clock: VirtualClock) -> None:
    """A probe refused after a second at it: the pace goes under the probe's, and waits again."""
    finder = RateFinder(virtual_clock.now(), learned=20.0)
    _send(finder, virtual_clock, finder.quiet_seconds + 1)
    probe = finder.rate
    assert probe > 20.0
    _send(finder, virtual_clock, 1.0)
    finder.throttled(virtual_clock.now(), 1.0, new_episode=True)
    assert finder.rate < probe
    assert finder.last_refusal_at == virtual_clock.now()


def test_a_window_is_named_by_three_aligned_refusals() -> None:
    """Refusals resuming 60 s apart, 600 let through each time: a quota of 600 per 60 s."""
    window = WindowDetector()
    window.refused(60.0, 900)
    assert window.quota_rate() is None
    window.refused(120.0, 600)
    window.refused(180.0, 598)
    assert (window.period, window.quota) == (60.0, 598)
    assert window.quota_rate() == pytest.approx(0.98 * 598 / 60)


def test_a_token_bucket_is_no_window() -> None:
    """Refusals at uneven moments, with uneven cycles, name no window."""
    window = WindowDetector()
    for resume, count in [(11.0, 300), (25.0, 410), (31.5, 120)]:
        window.refused(resume, count)
    assert window.quota is None


def test_a_refusal_under_the_quota_pace_forgets_the_window() -> None:
    """Refused while paced at the quota: the window moved (or was none); measure again."""
    window = WindowDetector()
    for resume in (60.0, 120.0, 180.0):
        window.refused(resume, 600)
    window.refused(200.0, 200)
    assert window.quota is None


async def test_pacer_spaces_slots_and_applies_a_new_rate_at_once(
    virtual_clock: VirtualClock,
) -> None:
    """Slots come 1/rate apart, and a changed rate applies from the next slot: no burst."""
    pacer = Pacer(10.0, virtual_clock)
    moments = []
    for _ in range(3):
        await pacer.acquire()
        moments.append(virtual_clock.now())
    pacer.rate = 100.0
    await pacer.acquire()
    await pacer.acquire()
    moments.append(virtual_clock.now())
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(moments)]
    assert gaps[:2] == [0.1, 0.1]
    assert gaps[2] <= 0.1 + 0.01


async def test_pacer_hands_slots_in_turn_and_survives_a_cancelled_waiter(
    virtual_clock: VirtualClock,
) -> None:
    """Waiters go first come, first served; one cancelled in the queue does not stall the rest."""
    pacer = Pacer(1.0, virtual_clock)
    await pacer.acquire()
    order: list[int] = []

    async def waiter(number: int) -> None:
        await pacer.acquire()
        order.append(number)

    async with anyio.create_task_group() as group:
        for number in range(3):
            group.start_soon(waiter, number)
        with anyio.move_on_after(0):  # cancelled at once, while queued
            await pacer.acquire()
    assert order == [0, 1, 2]


async def test_waiters_already_queued_are_served_at_a_rate_that_rose(
    virtual_clock: VirtualClock,
) -> None:
    """A queue that formed at 1/s goes out at the 100/s the rate rose to, not at 1/s: the rate
    is read again while waiters wait, not only as each arrives."""
    start = virtual_clock.now()
    pacer = Pacer(
        1.0, virtual_clock, rate_of=lambda: 1.0 if virtual_clock.now() < start + 0.5 else 100.0
    )
    await pacer.acquire()
    served: list[float] = []

    async def waiter() -> None:
        await pacer.acquire()
        served.append(virtual_clock.now() - start)

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(waiter)
    # The slot booked at 1/s comes at 1.0 s; the four behind it 10 ms apart (at 1/s: 5.0 s).
    assert len(served) == 5
    assert max(served) <= 1.0 + 4 * 0.01 + 1e-9


@pytest.mark.parametrize(
    ("burst", "at_least", "learned"),
    [(30.0, ASSUMED_BURST, 30.0), (3.0, ASSUMED_BURST, None), (3.0, 1.0, 3.0), (0.5, 1.0, None)],
)
def test_a_burst_is_learned_from_two_cycles(
    burst: float, at_least: float, learned: float | None
) -> None:
    """Two cycles from a full bucket (a limit of 20/s) give the server's burst, unless it is
    under the least the run takes (with other runs on the token, the burst assumed)."""
    cycles = [(seconds, burst + 20 * seconds) for seconds in (1.0, 2.0)]
    assert burst_from_cycles(cycles, at_least) == learned
