"""Progress while a run goes: a live bar on a terminal, periodic log lines everywhere else."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from structlog.typing import FilteringBoundLogger

from bulkpatch.cli.common import plural
from bulkpatch.clock import Clock
from bulkpatch.engine import RunCounts

LOG_EVERY_SECONDS = 10.0


class ProgressView:
    """Receives the run's counts after every row; shows them as a bar or as log lines."""

    def __init__(self, bar: Progress | None, log: FilteringBoundLogger, clock: Clock) -> None:
        self.total = 0
        self._bar = bar
        self._log = log
        self._clock = clock
        self._counts = RunCounts()
        self._started = time.monotonic()
        self._task: TaskID | None = None

    def begin(self, total: int) -> None:
        """The run knows how many rows it will send."""
        self.total = total
        self._started = time.monotonic()
        if self._bar is not None:
            self._task = self._bar.add_task(
                "Patching", total=total or None, rate="", extra=self._extra(self._counts)
            )

    def update(self, counts: RunCounts) -> None:
        """The engine finished a row (the counts are live: 429s and retries included)."""
        self._counts = counts
        if self._bar is not None and self._task is not None:
            elapsed = max(1e-6, time.monotonic() - self._started)
            self._bar.update(
                self._task,
                completed=counts.done,
                rate=f"{counts.done / elapsed:,.1f} rows/s",
                extra=self._extra(counts),
            )

    @staticmethod
    def _extra(counts: RunCounts) -> str:
        return f"429s {counts.throttled}  retries {counts.retries}  failed {counts.failed}"

    async def tick(self) -> None:
        """Refresh the bar (429s and retries move between rows), or log the progress."""
        while True:
            if self._bar is not None:
                await self._clock.sleep(0.5)
                self.update(self._counts)
                continue
            await self._clock.sleep(LOG_EVERY_SECONDS)
            counts = self._counts
            elapsed = max(1e-6, time.monotonic() - self._started)
            self._log.info(
                "run.progress",
                done=counts.done,
                total=self.total,
                succeeded=counts.succeeded,
                failed=counts.failed,
                retries=counts.retries,
                throttled=counts.throttled,
                rowsPerSecond=round(counts.done / elapsed, 2),
            )


@contextmanager
def progress_view(
    show_bar: bool, log: FilteringBoundLogger, clock: Clock
) -> Iterator[ProgressView]:
    """A bar on stderr when ``show_bar``, log lines otherwise."""
    if not show_bar:
        yield ProgressView(None, log, clock)
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[extra]}"),
        console=Console(stderr=True),
        redirect_stderr=True,
        transient=False,
    )
    with bar:
        yield ProgressView(bar, log, clock)


class ReadingView:
    """Progress of a pull: hosts done of a total, and meetings found."""

    def __init__(
        self, bar: Progress | None, log: FilteringBoundLogger, clock: Clock, what: str
    ) -> None:
        self._bar = bar
        self._log = log
        self._clock = clock
        self._what = what
        self._state: tuple[int, int, int] = (0, 0, 0)
        self._task: TaskID | None = (
            bar.add_task(what, total=None, rate="", extra="") if bar is not None else None
        )

    def update(self, done: int, total: int, found: int) -> None:
        """``done`` of ``total`` hosts read, ``found`` meetings so far."""
        self._state = (done, total, found)
        if self._bar is not None and self._task is not None:
            self._bar.update(
                self._task, completed=done, total=total or None, extra=plural(found, "meeting")
            )

    async def tick(self) -> None:
        """Without a bar, log the progress every few seconds until cancelled."""
        if self._bar is not None:
            return
        while True:
            await self._clock.sleep(LOG_EVERY_SECONDS)
            done, total, found = self._state
            self._log.info("pull.progress", hosts=done, total=total, meetings=found)


@contextmanager
def reading_view(
    show_bar: bool, log: FilteringBoundLogger, clock: Clock, what: str
) -> Iterator[ReadingView]:
    """A bar on stderr when ``show_bar``, log lines otherwise."""
    if not show_bar:
        yield ReadingView(None, log, clock, what)
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[extra]}"),
        console=Console(stderr=True),
        redirect_stderr=True,
        transient=False,
    )
    with bar:
        yield ReadingView(bar, log, clock, what)
