"""Shared fixtures: an injected clock, the reference example, and job files written on the fly."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from hostile import Answer, HostileServer

from bulkpatch.sandbox import RateLimits, RunningSandbox, SandboxState, generate, running_sandbox
from bulkpatch.sandbox.process import SandboxProcess

FIXTURES = Path(__file__).parent / "fixtures"

#: The injected clock of the pure rule tests: fixed, so a table of cases never rots.
NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def later(now: datetime, **delta: float) -> str:
    """An ISO 8601 time ``delta`` after ``now``, with its offset."""
    return (now + timedelta(**delta)).isoformat()


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What runs learn about rate limits goes to a folder of the test's own (never the user's
    home, nor the test's tmp_path, which some tests expect to stay as they left it)."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("BULKPATCH_STATE_DIR", str(folder))
    return folder


@pytest.fixture
def now() -> datetime:
    """The fixed clock the pure rules are checked against."""
    return NOW


@pytest.fixture
def reference_example() -> dict[str, Any]:
    """The API reference's own example: meetingId, request body and response body."""
    data: dict[str, Any] = json.loads((FIXTURES / "reference_example.json").read_text())
    return data


@pytest.fixture
def write_job(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """Write a job file under a temporary folder and return its path."""

    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        return path

    return write


# --- the sandbox, in-process on a free loopback port ---------------------------------------

SANDBOX_TOKEN = "test-token-not-a-secret"


class FakeClock:
    """A monotonic clock moved by hand: rate-limit tests never sleep."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    """A hand-driven monotonic clock."""
    return FakeClock()


@pytest.fixture
async def sandbox(fake_clock: FakeClock) -> AsyncIterator[RunningSandbox]:
    """A sandbox of 40 generated series on 127.0.0.1, accepting only SANDBOX_TOKEN."""
    store = generate(40, random_seed=7, now=datetime.now(UTC))
    state = SandboxState(store=store, limits=RateLimits(None, 10, fake_clock), token=SANDBOX_TOKEN)
    async with running_sandbox(state) as running:
        yield running


@pytest.fixture
async def api(sandbox: RunningSandbox) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP session to the sandbox's API with the right token."""
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
    async with aiohttp.ClientSession(base_url=sandbox.url, headers=headers) as session:
        yield session


class VirtualClock:
    """A run clock whose sleep moves time forward at once: backoffs and pauses cost nothing."""

    def __init__(self) -> None:
        self.monotonic = 5000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.monotonic

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.monotonic += max(0.0, seconds)
        await anyio.sleep(0)

    def wall(self) -> datetime:
        return datetime(2026, 11, 25, 12, 0, tzinfo=UTC) + timedelta(seconds=self.monotonic)


@pytest.fixture
def virtual_clock() -> VirtualClock:
    """A clock whose sleeps take no real time."""
    return VirtualClock()


# --- `bulkpatch sandbox` as a process of its own, for CLI tests ---------------------------

#: The token the CLI tests' sandbox processes accept (see tests/cli_helpers.py).
CLI_TOKEN = "cli-run-token"
#: Meeting series every CLI test sandbox holds.
SERIES = [f"{index:032x}" for index in range(1, 200)]


@pytest.fixture
def hostile() -> Iterator[Callable[[Answer], HostileServer]]:
    """Start misbehaving servers on loopback; stopped at the end of the test."""
    servers: list[HostileServer] = []

    def start(answer: Answer) -> HostileServer:
        server = HostileServer(answer).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def start_sandbox(tmp_path: Path) -> Iterator[Callable[..., SandboxProcess]]:
    """Start `bulkpatch sandbox` processes seeded with SERIES; stopped at the end of the test."""
    started: list[SandboxProcess] = []
    seed = tmp_path / "seed.csv"
    seed.write_text("meetingId,title\n" + "".join(f"{m},x\n" for m in SERIES))

    def start(*extra: str) -> SandboxProcess:
        sandbox = SandboxProcess.start("--quiet", "--token", CLI_TOKEN, "--seed", str(seed), *extra)
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()
