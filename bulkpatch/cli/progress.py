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

from bulkpatch.engine import RunCounts
from bulkpatch.limiter import Clock

LOG_EVERY_SECONDS = 10.0


class ProgressView:
    """Receives the run's counts after every row; shows them as a bar or as log lines."""

    def __init__(
        self, total: int, bar: Progress | None, log: FilteringBoundLogger, clock: Clock
    ) -> None:
        self.total = total
        self._bar = bar
        self._log = log
        self._clock = clock
        self._counts = RunCounts()
        self._started = time.monotonic()
        self._task: TaskID | None = (
            bar.add_task("Patching", total=total or None, rate="", extra="") if bar else None
        )

    def update(self, counts: RunCounts) -> None:
        """The engine finished a row."""
        self._counts = counts
        if self._bar is not None and self._task is not None:
            elapsed = max(1e-6, time.monotonic() - self._started)
            self._bar.update(
                self._task,
                completed=counts.done,
                rate=f"{counts.done / elapsed:,.1f} rows/s",
                extra=f"429s {counts.throttled}  failed {counts.failed}",
            )

    async def tick(self) -> None:
        """Without a bar, log the progress every few seconds until cancelled."""
        if self._bar is not None:
            return
        while True:
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
                rowsPerSecond=round(counts.done / elapsed, 2),
            )


@contextmanager
def progress_view(
    total: int, show_bar: bool, log: FilteringBoundLogger, clock: Clock
) -> Iterator[ProgressView]:
    """A bar on stderr when ``show_bar``, log lines otherwise."""
    if not show_bar:
        yield ProgressView(total, None, log, clock)
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
        yield ProgressView(total, bar, log, clock)
