"""The pacing of a run: its lanes, one shared Retry-After, and what other runs taught or share.

:func:`open_pacing` is the one place a run builds it: it reads the rate learned by earlier runs
on the same target and token identity, joins the runs sending with them now, and on leaving
writes what this run learned. While the run goes on, each lane's ``acquire`` gives the shared
state a look (a ``stat``, a read only when another process wrote) and a heartbeat a second.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bulkpatch.clock import Clock
from bulkpatch.limiter.finder import RateFinder
from bulkpatch.limiter.lane import AdaptiveLimiter, Hold, ceiling_gate
from bulkpatch.limiter.state import STALE_SECONDS, StateFile, state_path

_BEAT_SECONDS = 1.0


#: The lanes' portions of the token's pace follow what each sent over this many seconds.
_PORTION_SECONDS = 2.0


class Pacing:
    """The lanes of one run (``lane("read")``, ``lane("write")``) and the hold they share.

    Reads and writes are paced apart, each lane by its own pacer, but the limit is found for
    the token as a whole: the lanes share one :class:`RateFinder` that counts every request,
    and each lane's pace is its portion of what the finder allows, the portion following what
    each lane sent over the last seconds. A server that limits reads and writes together (the
    sandbox's default, and the safe assumption) is found at its limit whatever the mix; one
    that limits them apart is found at the tighter one, which bounds a run that reads each
    meeting before its PATCH anyway.
    """

    __slots__ = (
        "_clock",
        "_episode_seen",
        "_finder",
        "_gate",
        "_joined",
        "_lanes",
        "_last_beat",
        "_learned",
        "_published",
        "_recent",
        "_state",
        "ceiling",
        "hold",
        "min_rate",
        "participant",
        "participants",
        "warning",
    )

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
        self.participant = f"{os.getpid()}@{socket.gethostname()}-{secrets.token_hex(3)}"
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
        if len(self._lanes) == 1:
            return 1.0
        since = self._clock.now() - _PORTION_SECONDS
        counts = {}
        for lane, moments in self._recent.items():
            while moments and moments[0] < since:
                moments.popleft()
            counts[lane] = len(moments)
        counts[name] = max(counts.get(name, 0), 1)
        return counts[name] / sum(counts.values())

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
        episodes, seconds every lane was held by Retry-After, and the runs sharing the token."""
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
            "participants": self.participants,
        }

    # --- the state file -------------------------------------------------------------------

    def join(self) -> None:
        """Read what earlier runs learned and announce this run to the ones running now."""
        if self._state is None:
            return

        def change(data: dict[str, Any]) -> None:
            self._episode_seen = int(data.get("episode") or 0)
            self._beat_into(data)

        try:
            self._state.prepare()
            data = self._state.update(change)
        except OSError as exc:
            self._give_up(exc)
            return
        self._learned = dict(data.get("lanes") or {})
        for participant in (data.get("participants") or {}).values():
            # A run sending now knows the rate better than the last run that ended.
            for name, rate in (participant.get("lanes") or {}).items():
                if isinstance(rate, int | float) and rate > 0:
                    self._learned.setdefault(name, {})["rate"] = rate
        self._absorb(data)

    def leave(self) -> None:
        """Write what this run learned, and leave the runs sharing the token."""
        if self._state is None:
            return

        def change(data: dict[str, Any]) -> None:
            self._learn_into(data)
            (data.get("participants") or {}).pop(self.participant, None)

        try:
            self._state.update(change)
        except OSError as exc:
            self._give_up(exc)

    def _give_up(self, exc: OSError) -> None:
        self.warning = f"cannot use the pacing state file {self._state}: {exc.strerror or exc}; going on without it"
        self._state = None

    def _tick(self) -> None:
        """Called by every lane around each send: pick up what others wrote, beat once a second."""
        if self._state is None:
            return
        try:
            data = self._state.read_if_changed()
            if data is not None:
                self._absorb(data)
            if self._clock.now() - self._last_beat >= _BEAT_SECONDS or self._pace_moved():
                self._absorb(self._state.update(self._beat_into))
        except OSError as exc:
            self._give_up(exc)

    def _pace_moved(self) -> bool:
        """Whether this run leads and paces otherwise than it last wrote (a start or probe step)."""
        finder = self._finder
        if finder is None or not finder.leads or self.participants == 1:
            return False
        return self._published is None or abs(finder.rate - self._published) > 0.005 * finder.rate

    def _pace(self) -> float | None:
        """The token's pace this run sends at now, starting or not (None before it sent)."""
        return None if self._finder is None else round(self._finder.rate, 3)

    def _beat_into(self, data: dict[str, Any]) -> None:
        wall = self._clock.wall().timestamp()
        self._last_beat = self._clock.now()
        participants = data.setdefault("participants", {})
        for key in [
            k for k, v in participants.items() if v.get("heartbeat", 0) < wall - STALE_SECONDS
        ]:
            del participants[key]
        self._published = pace = self._pace()
        participants[self.participant] = {
            "heartbeat": wall,
            "joined": self._joined,
            "episode": self._episode_seen,
            "lanes": {} if pace is None else dict.fromkeys(self._lanes, pace),
        }
        self._learn_into(data)

    def _learn_into(self, data: dict[str, Any]) -> None:
        """Keep each lane's rate found, so a run killed now still teaches the next one."""
        lanes = data.setdefault("lanes", {})
        for name, lane in self._lanes.items():
            settled = lane.finder.settled
            if settled is not None:
                lanes[name] = {
                    "rate": round(settled, 3),
                    "retryAfter": lane.finder.cost,
                    "learnedAt": round(self._clock.wall().timestamp(), 3),
                }

    def _absorb(self, data: dict[str, Any]) -> None:
        """Take the pause, the episodes and the participant count other runs wrote."""
        now, wall = self._clock.now(), self._clock.wall().timestamp()
        fresh = [
            key
            for key, value in (data.get("participants") or {}).items()
            if value.get("heartbeat", 0) >= wall - STALE_SECONDS
        ]
        self.participants = max(1, len(set(fresh) | {self.participant}))
        pause_until = data.get("pauseUntil")
        if isinstance(pause_until, int | float):
            until = now + (pause_until - wall)
            moved = self.hold.extend(until)
            episode = int(data.get("episode") or 0)
            if episode > self._episode_seen:
                self._episode_seen = episode
                lane = self._lanes.get(str(data.get("episodeLane")))
                rate = data.get("episodeRate")
                uncertainty = data.get("episodeUncertainty")
                if moved and lane is not None and isinstance(rate, int | float) and rate > 0:
                    lane.throttled_elsewhere(
                        until - now,
                        float(rate),
                        float(uncertainty) if isinstance(uncertainty, int | float) else 0.0,
                    )
        self._converge(data, fresh)

    def _converge(self, data: dict[str, Any], fresh: list[str]) -> None:
        """The run that joined first leads the token: it alone probes, the others pace with it.

        Each run reckons the token's traffic as its own successes times the runs sharing it,
        which is right only while all pace the same total: a run probing alone would measure
        the others' traffic as if it were as high as its own, and pass it on after a 429. A
        leader's pace counts only when written since the latest 429, which set a new one.
        """
        participants = data.get("participants") or {}

        def seniority(key: str) -> tuple[float, str]:
            if key == self.participant:
                return (self._joined, key)
            joined = participants[key].get("joined")
            return (float(joined) if isinstance(joined, int | float) else 0.0, key)

        leader = min([*fresh, self.participant], key=seniority)
        if self._finder is not None:
            self._finder.leads = leader == self.participant
        if leader == self.participant:
            return
        entry = participants[leader]
        if int(entry.get("episode") or 0) < self._episode_seen:
            return
        for name, lane in self._lanes.items():
            pace = (entry.get("lanes") or {}).get(name)
            if isinstance(pace, int | float) and pace > 0:
                lane.finder.pace_with(float(pace))

    def _publish(self, lane: str | None, until: float, rate: float) -> None:
        """Tell the other runs of a pause (and, with a lane, of a new throttle episode and the
        token's rate this run measured at it)."""
        if self._state is None:
            return
        wall_until = self._clock.wall().timestamp() + (until - self._clock.now())

        def change(data: dict[str, Any]) -> None:
            data["pauseUntil"] = max(float(data.get("pauseUntil") or 0.0), wall_until)
            if lane is not None:
                data["episode"] = self._episode_seen = int(data.get("episode") or 0) + 1
                data["episodeLane"] = lane
                data["episodeRate"] = round(rate, 3)
                if self._finder is not None:
                    data["episodeUncertainty"] = round(self._finder.uncertainty, 4)
                self._beat_into(data)  # the others converge on the rate just measured

        try:
            self._state.update(change)
        except OSError as exc:
            self._give_up(exc)


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
