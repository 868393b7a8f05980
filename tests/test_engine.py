"""The engine against the real sandbox over loopback, with a virtual clock for every wait."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import anyio
import pytest
import structlog
from conftest import SANDBOX_TOKEN, VirtualClock

from bulkpatch.client import MeetingsClient, Reply, Request
from bulkpatch.engine import (
    Pacer,
    Pipeline,
    Planned,
    Refresher,
    RunCounts,
    RunSettings,
    Stopper,
    StopReason,
    plan_rows,
    run_rows,
)
from bulkpatch.journal import JobBinding, Journal, Outcome, RowStatus
from bulkpatch.limiter import AdaptiveLimiter
from bulkpatch.model import ValidatedRow
from bulkpatch.policy import Backoff, FailureLimit, Limits
from bulkpatch.sandbox import RateLimits, RunningSandbox

NO_BACKOFF = Backoff(0.0, 0.0)
FAST = RunSettings(
    concurrency=8,
    limits=Limits(max_attempts=8, backoff=NO_BACKOFF),
    drain_timeout=5.0,
    random_seed=1,
    snapshot=False,
)


def patchable(sandbox: RunningSandbox, count: int) -> list[str]:
    store = sandbox.state.store
    ids = [
        m
        for m, s in store.seeds.items()
        if s.state in {"active", "scheduled"} and not s.adhoc and s.scheduled_type == "meeting"
    ]
    assert len(ids) >= count
    return ids[:count]


def planned(items: list[tuple[str, dict[str, Any]]]) -> list[Planned]:
    return [
        Planned(line, meeting_id, body) for line, (meeting_id, body) in enumerate(items, start=2)
    ]


def bound_journal(tmp_path: Path, rows: list[ValidatedRow]) -> Journal:
    """A journal held for a run, bound to a job of these rows (all pending)."""
    journal = Journal.open_for_run(tmp_path / "run.journal")
    binding = JobBinding(str(tmp_path / "job.csv"), "sha-1", "csv", "sandbox", len(rows))
    journal.bind(binding, force=False)
    journal.sync_rows(rows, changed=False)
    return journal


def journal_with(tmp_path: Path, rows: list[Planned]) -> Journal:
    return bound_journal(tmp_path, [ValidatedRow(r.line, r.meeting_id, r.body) for r in rows])


async def execute(
    rows: list[Planned],
    journal: Journal,
    sender: Any,
    clock: VirtualClock,
    settings: RunSettings = FAST,
    stopper: Stopper | None = None,
    limiter: AdaptiveLimiter | None = None,
    refresher: Refresher | None = None,
) -> tuple[StopReason, RunCounts]:
    pacer = limiter or AdaptiveLimiter(1000, clock, min_rate=500)

    def lanes(_: str) -> Pacer:
        return pacer

    pipeline = Pipeline(
        sender,
        lanes,
        clock,
        structlog.get_logger("test"),
        settings.limits,
        stopper or Stopper(),
        refresher=refresher,
        on_pause=journal.note_pause,
    )
    return await run_rows(rows, pipeline=pipeline, journal=journal, settings=settings)


async def test_every_row_succeeds_and_is_committed(
    sandbox: RunningSandbox, tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    """Rows are patched once each, and each is succeeded in the journal with its trackingid."""
    rows = planned([(m, {"title": f"t{i}"}) for i, m in enumerate(patchable(sandbox, 20))])
    with journal_with(tmp_path, rows) as journal:
        async with MeetingsClient(sandbox.api_url, SANDBOX_TOKEN, concurrency=8) as client:
            reason, counts = await execute(rows, journal, client, virtual_clock)
        records = list(journal.rows())
    assert reason is StopReason.FINISHED
    assert (counts.succeeded, counts.failed, counts.requests) == (20, 0, 20)
    assert {r.status for r in records} == {"succeeded"}
    assert all(r.tracking_id and r.tracking_id.startswith("SANDBOX_") for r in records)
    assert set(sandbox.state.stats.patches_applied.values()) == {1}


async def test_rejected_rows_fail_at_once_with_the_api_message(
    sandbox: RunningSandbox, tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    """404 and 400 are not retried: the row fails with the API's own words."""
    good = patchable(sandbox, 1)[0]
    rows = planned(
        [
            ("0" * 32, {"title": "x"}),
            (good, {"joinBeforeHostMinutes": 30}),
            (good, {"title": "fine"}),
        ]
    )
    with journal_with(tmp_path, rows) as journal:
        async with MeetingsClient(sandbox.api_url, SANDBOX_TOKEN, concurrency=2) as client:
            _, counts = await execute(rows, journal, client, virtual_clock)
        records = {r.line: r for r in journal.rows()}
    assert (counts.failed, counts.succeeded, counts.requests) == (2, 1, 3)
    assert (records[2].http_status, records[2].attempts) == (404, 1)
    assert "could not be found" in (records[2].error or "")
    assert records[3].http_status == 400
    assert "joinBeforeHostMinutes must be one of 0, 5, 10, 15" in (records[3].error or "")


async def test_faults_are_retried_until_they_pass(
    sandbox: RunningSandbox, tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    """5xx, dropped connections and 423 are retried; every row ends succeeded."""
    sandbox.state.faults.fault_rate = 0.35
    sandbox.state.faults.locked_rate = 0.1
    rows = planned([(m, {"title": "after faults"}) for m in patchable(sandbox, 20)])
    with journal_with(tmp_path, rows) as journal:
        async with MeetingsClient(sandbox.api_url, SANDBOX_TOKEN, concurrency=4) as client:
            _, counts = await execute(
                rows,
                journal,
                client,
                virtual_clock,
                RunSettings(
                    snapshot=False,
                    concurrency=4,
                    limits=Limits(max_attempts=30, backoff=NO_BACKOFF),
                    random_seed=3,
                ),
            )
        assert journal.counts()[RowStatus.SUCCEEDED] == 20
    assert counts.retries > 0
    statuses = sandbox.state.stats.requests
    assert statuses["PATCH 423"] > 0
    assert sum(statuses[f"PATCH {code}"] for code in (500, 502, 503, 504, 499)) > 0
    assert set(sandbox.state.stats.patches_applied.values()) == {1}


async def test_429_storm_costs_no_retry_after_violation(
    sandbox: RunningSandbox, tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    """Under a tight server limit every row gets through, no request comes before its Retry-After,
    and each throttle episode costs at most about one 429 per worker in flight."""
    sandbox.state.limits = RateLimits(20, 3, virtual_clock.now)
    rows = planned([(m, {"title": "throttled"}) for m in patchable(sandbox, 30)])
    limiter = AdaptiveLimiter(1000, virtual_clock, min_rate=500)
    with journal_with(tmp_path, rows) as journal:
        async with MeetingsClient(sandbox.api_url, SANDBOX_TOKEN, concurrency=6) as client:
            _, counts = await execute(
                rows,
                journal,
                client,
                virtual_clock,
                RunSettings(
                    snapshot=False,
                    concurrency=6,
                    limits=Limits(max_attempts=50, backoff=NO_BACKOFF),
                ),
                limiter=limiter,
            )
        assert journal.counts()[RowStatus.SUCCEEDED] == 30
    stats = sandbox.state.stats
    assert stats.violations == []
    assert stats.throttled == counts.throttled > 0
    assert counts.throttled <= limiter.episodes * 6
    # Each episode held every worker for its whole Retry-After (1 s), however the wait was cut.
    assert limiter.waited >= limiter.episodes * 1.0


async def test_401_stops_the_run_and_leaves_rows_pending(
    sandbox: RunningSandbox, tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    """A refused token stops everything; no row is marked failed for it."""
    rows = planned([(m, {"title": "x"}) for m in patchable(sandbox, 10)])
    with journal_with(tmp_path, rows) as journal:
        async with MeetingsClient(sandbox.api_url, "wrong-token", concurrency=2) as client:
            reason, counts = await execute(rows, journal, client, virtual_clock)
        assert journal.counts()[RowStatus.PENDING] == 10
    assert reason is StopReason.AUTH
    assert counts.failed == 0


class ScriptedSender:
    """A fake sender built from a plain function, counting concurrency per meeting."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()

    async def send(self, request: Request) -> Reply:
        meeting_id, body = unquote(request.path.removeprefix("meetings/")), request.body or {}
        self.calls.append((meeting_id, body))
        number = len(self.calls)
        self.in_flight[meeting_id] += 1
        self.max_in_flight[meeting_id] = max(
            self.max_in_flight[meeting_id], self.in_flight[meeting_id]
        )
        await anyio.sleep(0)
        await anyio.sleep(0)
        self.in_flight[meeting_id] -= 1
        reply: Reply = self.answer(meeting_id, body, number)
        return reply


async def test_many_403s_in_a_row_stop_the_run(tmp_path: Path, virtual_clock: VirtualClock) -> None:
    """max_consecutive_403 forbidden answers in a row stop the run: a systemic fault."""
    sender = ScriptedSender(lambda *_: Reply(403, "T", "Forbidden"))
    rows = planned([(f"m{i}", {"title": "x"}) for i in range(100)])
    settings = RunSettings(
        snapshot=False, concurrency=1, limits=Limits(max_consecutive_403=5, backoff=NO_BACKOFF)
    )
    with journal_with(tmp_path, rows) as journal:
        reason, counts = await execute(rows, journal, sender, virtual_clock, settings)
        assert journal.counts()[RowStatus.PENDING] == 95
    assert reason is StopReason.FORBIDDEN
    assert counts.failed == 5


async def test_rows_of_one_meeting_go_in_file_order_never_together(
    tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    """The same meetingId is patched one row at a time, in the order of the file."""
    sender = ScriptedSender(lambda *_: Reply(200, "T", ""))
    items = [
        ("same", {"title": f"v{i}"}) if i % 2 == 0 else (f"other{i}", {"title": "o"})
        for i in range(40)
    ]
    rows = planned(items)
    with journal_with(tmp_path, rows) as journal:
        await execute(
            rows, journal, sender, virtual_clock, RunSettings(snapshot=False, concurrency=8)
        )
    titles = [body["title"] for meeting_id, body in sender.calls if meeting_id == "same"]
    assert titles == [f"v{i}" for i in range(0, 40, 2)]
    assert sender.max_in_flight["same"] == 1


async def test_stop_request_leaves_unsent_rows_pending(
    tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    """After a stop request no new row starts; what was not sent stays pending."""
    stopper = Stopper()

    def answer(meeting_id: str, body: dict[str, Any], calls: int) -> Reply:
        if calls == 5:
            stopper.request(StopReason.INTERRUPTED)
        return Reply(200, "T", "")

    rows = planned([(f"m{i}", {"title": "x"}) for i in range(50)])
    with journal_with(tmp_path, rows) as journal:
        reason, counts = await execute(
            rows,
            journal,
            ScriptedSender(answer),
            virtual_clock,
            RunSettings(snapshot=False, concurrency=2),
            stopper,
        )
        totals = journal.counts()
    assert reason is StopReason.INTERRUPTED
    assert totals[RowStatus.SUCCEEDED] == counts.succeeded <= 6
    assert totals[RowStatus.PENDING] == 50 - counts.succeeded


async def test_a_request_waiting_for_its_slot_is_not_sent_after_a_stop(
    tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    """Rows queued at the limiter when another row's 401 stops the run are never sent."""
    first_answered = anyio.Event()

    class GatedLimiter(AdaptiveLimiter):
        """Lets the first request through; the others wait until it has its answer."""

        granted = 0

        async def acquire(self) -> None:
            self.granted += 1
            if self.granted > 1:
                await first_answered.wait()
            await super().acquire()

    def answer(meeting_id: str, body: dict[str, Any], calls: int) -> Reply:
        first_answered.set()
        return Reply(401, "T", "Unauthorized")

    sender = ScriptedSender(answer)
    rows = planned([(f"m{i}", {"title": "x"}) for i in range(6)])
    limiter = GatedLimiter(1000, virtual_clock, min_rate=500)
    settings = RunSettings(snapshot=False, concurrency=4)
    with journal_with(tmp_path, rows) as journal:
        reason, _ = await execute(rows, journal, sender, virtual_clock, settings, limiter=limiter)
        assert journal.counts()[RowStatus.PENDING] == 6
    assert reason is StopReason.AUTH
    assert limiter.granted > 1  # others were waiting for their slot
    assert len(sender.calls) == 1


def checked(items: list[tuple[str, dict[str, Any] | None]]) -> Iterator[ValidatedRow]:
    for line, (meeting_id, body) in enumerate(items, start=2):
        yield ValidatedRow(line, meeting_id, body)


@pytest.mark.parametrize(("retry_failed", "expected"), [(False, [2, 5]), (True, [2, 4, 5])])
def test_plan_skips_what_the_journal_says_is_done(
    tmp_path: Path, retry_failed: bool, expected: list[int]
) -> None:
    """On resume: pending rows go again, succeeded never, failed only with --retry-failed."""
    items: list[tuple[str, dict[str, Any] | None]] = [
        ("a", {"title": "1"}),
        ("b", {"title": "2"}),
        ("c", {"title": "3"}),
        ("d", {"title": "4"}),
    ]
    with bound_journal(tmp_path, list(checked(items))) as journal:
        assert [row.line for row in plan_rows(checked(items), journal, retry_failed=False)] == [
            2,
            3,
            4,
            5,
        ]
        journal.record(Outcome(3, RowStatus.SUCCEEDED, 1))
        journal.record(Outcome(4, RowStatus.FAILED, 1))
        journal.flush()
        changed = [
            *items[:3],
            ("d2", {"title": "4"}),
        ]  # line 5 now names another meeting: sent again
        journal.sync_rows(checked(changed), changed=True)
        lines = [
            row.line for row in plan_rows(checked(changed), journal, retry_failed=retry_failed)
        ]
        assert [(r.meeting_id, r.status) for r in journal.rows()][-1] == ("d2", "pending")
    assert lines == expected


async def test_abort_abandons_requests_in_flight(
    tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    """A second Ctrl-C (abort) does not wait for hanging requests; their rows stay pending."""
    stopper = Stopper()
    hanging = anyio.Event()

    class Hanging:
        async def send(self, request: Request) -> Reply:
            if request.path == "meetings/m0":
                return Reply(200, "T", "")
            stopper.request(StopReason.INTERRUPTED)
            stopper.abort()
            await hanging.wait()  # never set: only the abort ends this request
            return Reply(200, "T", "")

    rows = planned([(f"m{i}", {"title": "x"}) for i in range(10)])
    with journal_with(tmp_path, rows) as journal:
        with anyio.fail_after(10):
            reason, _ = await execute(
                rows,
                journal,
                Hanging(),
                virtual_clock,
                RunSettings(snapshot=False, concurrency=1, drain_timeout=60),
                stopper,
            )
        totals = journal.counts()
    assert reason is StopReason.INTERRUPTED
    assert (totals[RowStatus.SUCCEEDED], totals[RowStatus.PENDING]) == (1, 9)


async def test_failure_limit_stops_the_run(tmp_path: Path, virtual_clock: VirtualClock) -> None:
    """Past --max-failures the run stops (resumable), leaving the rest pending."""
    sender = ScriptedSender(
        lambda meeting_id, *_: Reply(
            404 if meeting_id.startswith("gone") else 200, "T", "not found"
        )
    )
    rows = planned([(f"gone{i}" if i % 3 == 0 else f"m{i}", {"title": "x"}) for i in range(300)])
    settings = RunSettings(snapshot=False, concurrency=1, max_failures=FailureLimit(percent=10))
    with journal_with(tmp_path, rows) as journal:
        reason, counts = await execute(rows, journal, sender, virtual_clock, settings)
        totals = journal.counts()
    assert reason is StopReason.FAILURES
    assert counts.done == 100
    assert totals[RowStatus.PENDING] == 200


async def test_deadline_stops_taking_rows(tmp_path: Path, virtual_clock: VirtualClock) -> None:
    """At the deadline no new row starts; what was not sent stays pending."""

    def slow(*_: Any) -> Reply:
        virtual_clock.monotonic += 1.0  # every request takes a (virtual) second
        return Reply(200, "T", "")

    sender = ScriptedSender(slow)
    rows = planned([(f"m{i}", {"title": "x"}) for i in range(30)])
    settings = RunSettings(
        snapshot=False, concurrency=1, deadline=virtual_clock.wall() + timedelta(seconds=10.5)
    )
    with journal_with(tmp_path, rows) as journal:
        reason, counts = await execute(rows, journal, sender, virtual_clock, settings)
        totals = journal.counts()
    assert reason is StopReason.DEADLINE
    assert counts.succeeded == totals[RowStatus.SUCCEEDED] == 11
    assert totals[RowStatus.PENDING] == 19


async def test_resumed_run_waits_out_an_earlier_runs_retry_after(
    tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    """A Retry-After given to a run that was then killed is kept in the journal and honoured."""
    sent_at: list[float] = []

    def answer(*_: Any) -> Reply:
        sent_at.append(virtual_clock.now())
        return Reply(200, "T", "")

    rows = planned([("m1", {"title": "x"})])
    with journal_with(tmp_path, rows) as journal:
        journal.note_pause(virtual_clock.wall() + timedelta(seconds=30))
        journal.note_pause(
            virtual_clock.wall() + timedelta(seconds=10)
        )  # an earlier moment is ignored
        start = virtual_clock.now()
        await execute(rows, journal, ScriptedSender(answer), virtual_clock)
    assert sent_at
    assert sent_at[0] >= start + 30


async def test_every_429_is_kept_in_the_journal(
    sandbox: RunningSandbox, tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    """The Retry-After moment of a throttle episode is in the journal while the run goes on."""
    sandbox.state.limits = RateLimits(5, 1, virtual_clock.now)
    rows = planned([(m, {"title": "z"}) for m in patchable(sandbox, 6)])
    with journal_with(tmp_path, rows) as journal:
        async with MeetingsClient(sandbox.api_url, SANDBOX_TOKEN, concurrency=3) as client:
            await execute(
                rows,
                journal,
                client,
                virtual_clock,
                RunSettings(
                    snapshot=False,
                    concurrency=3,
                    limits=Limits(max_attempts=20, backoff=NO_BACKOFF),
                ),
            )
        paused_until = journal.paused_until
    assert paused_until is not None
    assert paused_until > virtual_clock.wall() - timedelta(seconds=5)


async def test_a_later_401_after_other_answers_refreshes_again(
    tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    """A row refreshed once, then throttled, then refused again (the new token expired too) gets
    a second refresh; only two 401s in a row around one refresh stop the run."""
    answers = iter(
        [
            Reply(401, "T", "expired"),
            Reply(429, "T", "slow down", retry_after=0.0),
            Reply(401, "T", "expired"),
            Reply(200, "T", ""),
        ]
    )

    class Refresher:
        generation = 0
        refreshes = 0

        async def refresh(self, refused_generation: int) -> bool:
            self.refreshes += 1
            self.generation += 1
            return True

    refresher = Refresher()
    rows = planned([("m1", {"title": "x"})])
    with journal_with(tmp_path, rows) as journal:
        reason, counts = await execute(
            rows,
            journal,
            ScriptedSender(lambda *_: next(answers)),
            virtual_clock,
            refresher=refresher,
        )
    assert reason is StopReason.FINISHED
    assert (counts.succeeded, refresher.refreshes) == (1, 2)


async def test_401_right_after_a_refresh_stops_the_run(
    tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    """If the freshly refreshed token is refused as well, the run stops (exit 3), row pending."""

    class Refresher:
        generation = 0

        async def refresh(self, refused_generation: int) -> bool:
            self.generation += 1
            return True

    rows = planned([("m1", {"title": "x"}), ("m2", {"title": "y"})])
    with journal_with(tmp_path, rows) as journal:
        reason, counts = await execute(
            rows,
            journal,
            ScriptedSender(lambda *_: Reply(401, "T", "refused")),
            virtual_clock,
            RunSettings(snapshot=False, concurrency=1),
            refresher=Refresher(),
        )
        assert journal.counts()[RowStatus.PENDING] == 2
    assert reason is StopReason.AUTH
    assert counts.failed == 0


async def test_progress_sees_429s_and_retries_as_they_happen(
    sandbox: RunningSandbox, tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    """The counts handed to the progress display carry 429s and retries while the run goes."""
    sandbox.state.limits = RateLimits(5, 1, virtual_clock.now)
    rows = planned([(m, {"title": "z"}) for m in patchable(sandbox, 8)])
    seen: list[tuple[int, int, int]] = []
    pacer = AdaptiveLimiter(1000, virtual_clock, min_rate=500)
    with journal_with(tmp_path, rows) as journal:
        async with MeetingsClient(sandbox.api_url, SANDBOX_TOKEN, concurrency=3) as client:
            pipeline = Pipeline(
                client,
                lambda _: pacer,
                virtual_clock,
                structlog.get_logger("test"),
                Limits(max_attempts=20, backoff=NO_BACKOFF),
                Stopper(),
            )
            await run_rows(
                rows,
                pipeline=pipeline,
                journal=journal,
                settings=RunSettings(snapshot=False, concurrency=3),
                on_progress=lambda counts: seen.append(
                    (counts.done, counts.throttled, counts.retries)
                ),
            )
    before_the_end = [entry for entry in seen if entry[0] < len(rows)]
    assert any(throttled > 0 and retries > 0 for _, throttled, retries in before_the_end)
