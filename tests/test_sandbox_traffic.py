"""The sandbox's traffic options: minimum Retry-After, fixed windows, a rate schedule, GET limits."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest
from click.testing import CliRunner
from conftest import SANDBOX_TOKEN, FakeClock

from bulkpatch.cli import main
from bulkpatch.sandbox import SandboxState, generate, running_sandbox
from bulkpatch.sandbox.limits import RateLimits, parse_schedule


def _spend(limits: RateLimits, count: int, method: str = "PATCH") -> list[int | None]:
    """Retry-After of each of ``count`` requests at the same moment (None: let through)."""
    answers = []
    for connection in range(count):
        throttle = limits.admit("t", connection, method)
        answers.append(None if throttle is None else throttle.retry_after)
    return answers


def test_retry_after_has_a_floor(fake_clock: FakeClock) -> None:
    """--retry-after-min 60: a bucket that would ask for 1 s asks for 60, and means it."""
    limits = RateLimits(10, 2, fake_clock, retry_after_min=60)
    assert _spend(limits, 3) == [None, None, 60]
    fake_clock.advance(59)
    assert limits.admit("t", 99) is not None
    fake_clock.advance(1.5)
    assert limits.admit("t", 100) is None


def test_fixed_window_lets_the_quota_through_then_waits_for_the_boundary(
    fake_clock: FakeClock,
) -> None:
    """--window 60 --quota 3: three go, the fourth waits until the window ends, then three more."""
    limits = RateLimits(None, 10, fake_clock, window=60, quota=3)
    assert _spend(limits, 3) == [None, None, None]
    fake_clock.advance(20)
    throttle = limits.admit("t", 50)
    assert throttle is not None
    assert (throttle.retry_after, throttle.limit) == (40, "window")
    fake_clock.advance(40)
    assert _spend(limits, 4) == [None, None, None, 20 + 40]


def test_window_needs_a_quota(fake_clock: FakeClock) -> None:
    """A window without a quota (or the reverse) is refused."""
    with pytest.raises(ValueError, match="both"):
        RateLimits(None, 10, fake_clock, window=60)


def test_rate_schedule_changes_the_rate_over_time(fake_clock: FakeClock) -> None:
    """0:50,60:25,180:50: the bucket refills at the rate of the moment, from the first request."""
    limits = RateLimits(50, 1, fake_clock, schedule=parse_schedule("0:50,60:25,180:50"))
    limits.admit("t", 0)
    assert limits.rate_now(fake_clock()) == 50
    fake_clock.advance(61)
    assert limits.rate_now(fake_clock()) == 25
    fake_clock.advance(120)
    assert limits.rate_now(fake_clock()) == 50


@pytest.mark.parametrize("text", ["", "10:5", "0:0", "0:x", "-1:5", "0:5,abc"], ids=repr)
def test_a_bad_schedule_is_refused(text: str) -> None:
    """A schedule must start at second 0 with positive rates."""
    with pytest.raises(ValueError, match="schedule"):
        parse_schedule(text)


def test_reads_have_their_own_bucket(fake_clock: FakeClock) -> None:
    """With --read-rate, GETs spend their own bucket: PATCHes still pass, and the other way."""
    limits = RateLimits(10, 2, fake_clock, read_rate=10, read_burst=1)
    assert _spend(limits, 2, "GET") == [None, 1]
    assert _spend(limits, 3, "PATCH") == [None, None, 1]
    throttle = limits.admit("t", 7, "GET")
    assert throttle is not None
    assert throttle.limit == "read"


def test_without_read_rate_reads_and_writes_share_one_bucket(fake_clock: FakeClock) -> None:
    """Without --read-rate, a GET spends the same bucket as a PATCH."""
    limits = RateLimits(10, 2, fake_clock)
    assert _spend(limits, 1, "GET") + _spend(limits, 2, "PATCH") == [None, None, 1]


async def test_violations_are_counted_per_limit(fake_clock: FakeClock) -> None:
    """A GET sent during the read bucket's Retry-After is a violation of the read limit."""
    store = generate(3, random_seed=1, now=datetime.now(UTC))
    limits = RateLimits(100, 10, fake_clock, read_rate=1, read_burst=1)
    state = SandboxState(store=store, limits=limits, token=SANDBOX_TOKEN)
    meeting = next(iter(store.seeds))
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
    async with (
        running_sandbox(state) as sandbox,
        aiohttp.ClientSession(base_url=sandbox.url, headers=headers) as api,
    ):
        statuses = []
        for _ in range(2):
            async with api.get(f"/v1/meetings/{meeting}") as response:
                statuses.append(response.status)
        fake_clock.advance(0.5)  # past the grace, before the deadline
        async with api.get(f"/v1/meetings/{meeting}") as response:
            statuses.append(response.status)
        async with api.get("/_sandbox/stats?meetings=0") as response:
            stats = await response.json()
    assert statuses == [200, 429, 429]
    assert stats["retryAfterViolationsByLimit"] == {"read": 1}
    assert stats["throttledByLimit"] == {"read": 2}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--window", "60"], "--window and --quota go together"),
        (["--rate-schedule", "5:10"], "starts at second 0"),
    ],
)
def test_sandbox_command_refuses_half_a_limit(args: list[str], message: str) -> None:
    """The sandbox command names what is wrong with its traffic options (exit 2)."""
    result = CliRunner().invoke(main, ["sandbox", "--port", "0", "--quiet", *args])
    assert result.exit_code == 2
    assert message in result.output
