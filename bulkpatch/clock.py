"""Time, injected: monotonic seconds, a way to wait, and the wall clock.

Everything that waits or timestamps takes a :class:`Clock`, so tests move time by hand
(tests/conftest.py) instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import anyio


class Clock(Protocol):
    """Monotonic seconds, a way to wait, and the wall clock."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> Awaitable[None]: ...

    def wall(self) -> datetime: ...


@dataclass(frozen=True)
class SystemClock:
    """The real clock."""

    now: Callable[[], float] = field(default=time.monotonic)
    sleep: Callable[[float], Awaitable[None]] = field(default=anyio.sleep)

    def wall(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)
