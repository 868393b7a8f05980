"""The pacing of a run: its lanes, one shared Retry-After, and what other runs taught or share.

:func:`open_pacing` is the one place a run builds it: it reads the rate learned by earlier runs
on the same target and token identity, joins the runs sending with them now, and on leaving
writes what this run learned. While the run goes on, each lane's ``acquire`` gives the shared
state a look (a ``stat``, a read only when another process wrote) and a heartbeat a second
(:mod:`.sharing`).
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bulkpatch.clock import Clock
from bulkpatch.limiter.finder import RateFinder
from bulkpatch.limiter.lane import AdaptiveLimiter, Hold, ceiling_gate
from bulkpatch.limiter.sharing import SharedState
from bulkpatch.limiter.state import StateFile, participant_key, pid_namespace, state_path

#: The lanes' portions of the token's pace follow what each sent over this many seconds.
_PORTION_SECONDS = 2.0


class Pacing(SharedState):
    """The lanes of one run (``lane("read")``, ``lane("write")``) and the hold they share.

    Reads and writes are paced apart, each lane by its own pacer, but the limit is found for
    the token as a whole: the lanes share one :class:`RateFinder` that counts every request,
    and each lane's pace is its portion of what the finder allows, the portion following what
    each lane sent over the last seconds. A server that limits reads and writes together (the
    sandbox's default, and the safe assumption) is found at its limit whatever the mix; one
    that limits them apart is found at the tighter one, which bounds a run that reads each
    meeting before its PATCH anyway.
    """

    __slots__ = ("_clock", "_finder", "_gate", "_lanes", "_recent", "ceiling", "hold", "min_rate")

    def __init__(
        self,
        clock: Clock,
        *,
        ceiling: float | None = None,
        min_rate: float = 0.2,
        state: StateFile | None = None,
    ) -> None:
        if ceiling is not None and ceiling <= 0:
            raise ValueError("the rate ceiling must be positive")
        self.ceiling = ceiling
        self.min_rate = min_rate
        self.hold = Hold(clock)
        #: Runs sending on this target and token now, this one included.
        self.participants = 1
        #: The most runs that sent on the token at once while this one ran (its summary's).
        self.most_participants = 1
        self.participant = participant_key()
        self._pid_namespace = pid_namespace()
        #: Why the state file could not be used, if it could not (the run goes on without it).
        self.warning: str | None = None
        self._clock = clock
        self._state = state
        self._lanes: dict[str, AdaptiveLimiter] = {}
        self._finder: RateFinder | None = None
        self._gate = ceiling_gate(ceiling)
        self._recent: dict[str, deque[float]] = {}
        self._learned: dict[str, Any] = {}
        self._episode_seen = 0
        self._last_beat = -float("inf")
        #: When this run joined (wall clock): of the runs on a token, the first to join leads.
        self._joined = clock.wall().timestamp()
        self._leading = True
        #: Send slots handed out, and waited for, per lane at the last beat; what that beat
        #: judged; and whether this run keeps up with its share (presumed until seen
        #: otherwise, see :meth:`_judge_keeping_up`).
        self._slots_seen: dict[str, tuple[int, int]] = {}
        self._last_judgement = True
        self._kept_up = True
        #: The pace this run last wrote to the state file (a leader writes each change at once).
        self._published: float | None = None

    def __repr__(self) -> str:
        lanes = " ".join(f"{name}={lane.rate:.2f}/s" for name, lane in self._lanes.items())
        return (
            f"<Pacing {lanes} participants={self.participants} paused={self.hold.remaining:.2f}s>"
        )

    def lane(self, name: str = "write") -> AdaptiveLimiter:
        """The limiter of lane ``name``, made on first use (the finder from what earlier runs
        learned)."""
        lane = self._lanes.get(name)
        if lane is None:
            self._recent[name] = deque()
            lane = AdaptiveLimiter(
                self.ceiling,
                self._clock,
                finder=self._shared_finder(),
                hold=self.hold,
                name=name,
                share=lambda: self.participants,
                portion=lambda: self._portion(name),
                sent=lambda: self._sent(name),
                tick=self._tick,
                publish=self._publish,
                gate=self._gate,
            )
            self._lanes[name] = lane
        return lane

    def _shared_finder(self) -> RateFinder:
        if self._finder is None:
            learned = [entry for entry in self._learned.values() if isinstance(entry, dict)]
            rates = [e["rate"] for e in learned if isinstance(e.get("rate"), int | float)]
            costs = [
                e["retryAfter"] for e in learned if isinstance(e.get("retryAfter"), int | float)
            ]
            self._finder = RateFinder(
                self._clock.now(),
                ceiling=self.ceiling,
                learned=float(max(rates)) if rates and max(rates) > 0 else None,
                learned_cost=float(max(costs)) if costs else 1.0,
                min_rate=self.min_rate,
            )
            self._finder.leads = self._leading
        return self._finder

    def _sent(self, name: str) -> None:
        self._recent[name].append(self._clock.now())

    def _portion(self, name: str) -> float:
        """The share of the token's pace lane ``name`` gets: what it sent lately, against all
        lanes.

        A lane that sent nothing lately counts one request when it asks, so it can start; it
        counts none when another lane asks. (Counting one for every lane always gave an idle
        lane a share: after the run's one GET people/me, writes at 5/s kept only nine tenths.)
        """
        if len(self._lanes) == 1 or self._at_ceiling():
            return 1.0
        since = self._clock.now() - _PORTION_SECONDS
        counts = {}
        for lane, moments in self._recent.items():
            while moments and moments[0] < since:
                moments.popleft()
            counts[lane] = len(moments)
        counts[name] = max(counts.get(name, 0), 1)
        return counts[name] / sum(counts.values())

    def _at_ceiling(self) -> bool:
        """Whether this run's pace is the ceiling (--max-rate) itself: then the ceiling's gate, which
        every lane passes, keeps the total, first come first served, and no lane need keep a
        portion for the other (with portions, a job whose rows were half skipped made 0.71 of
        the ceiling: the write lane's portion went unused while its rows were only read)."""
        finder = self._finder
        if self.ceiling is None or finder is None:
            return False
        # This run's share of the token's pace: with other runs on it, an equal one.
        return finder.rate / max(1, self.participants) >= self.ceiling

    @property
    def throttled(self) -> int:
        """429s this run was answered, all lanes together."""
        return sum(lane.throttled for lane in self._lanes.values())

    @property
    def episodes(self) -> int:
        """Throttle episodes this run began, all lanes together."""
        return sum(lane.episodes for lane in self._lanes.values())

    @property
    def waited(self) -> float:
        """Seconds sending was held by Retry-After pauses."""
        return self.hold.waited

    def rate_found(self) -> float | None:
        """The rate found for the token (reads and writes together, all runs on it), requests
        per second; None before anything was sent."""
        finder = self._finder
        if finder is None or not any(
            lane.succeeded or lane.throttled for lane in self._lanes.values()
        ):
            return None
        settled = finder.settled
        return round(finder.rate if settled is None else settled, 2)

    def report(self) -> dict[str, Any]:
        """What the summary, ``status`` and the logs show (beside the 429 count): the rate the
        run started from (learned by earlier runs, when there was one), the rate found, throttle
        episodes, seconds every lane was held by Retry-After, and the most runs that shared the
        token at once while this one ran."""
        rates = [
            entry["rate"]
            for entry in self._learned.values()
            if isinstance(entry, dict) and isinstance(entry.get("rate"), int | float)
        ]
        return {
            "rateLearned": max(rates) if rates else None,
            "rateFound": self.rate_found(),
            "throttleEpisodes": self.episodes,
            "heldSeconds": round(self.waited, 1),
            "participants": self.most_participants,
        }


@contextlib.contextmanager
def open_pacing(
    *,
    clock: Clock,
    ceiling: float | None = None,
    target: str | None = None,
    identity: str | None = None,
    state_dir: Path | None = None,
    min_rate: float = 0.2,
) -> Iterator[Pacing]:
    """The pacing of one run: learned rates loaded, other runs joined, what it learned saved.

    Without ``state_dir`` (or target and identity) nothing is read or written: the run finds
    its limit alone. A state file that cannot be used leaves ``pacing.warning`` set and the run
    going on without it.
    """
    state = None
    if state_dir is not None and target is not None and identity is not None:
        state = StateFile(state_path(state_dir, target, identity))
    pacing = Pacing(clock, ceiling=ceiling, min_rate=min_rate, state=state)
    pacing.join()
    try:
        yield pacing
    finally:
        pacing.leave()
