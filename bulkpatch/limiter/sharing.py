"""How the runs on one target and token share it through the state file: the part of
:class:`~bulkpatch.limiter.Pacing` that reads and writes it.

Each run beats once a second (its entry: see :mod:`.peers`), and reads the file whenever another
run wrote it: the pause any run was given, the rate a refused run measured (a new throttle
episode, which the others follow), the runs sending now, and which of them leads. A leader
writes its pace at once whenever it moves, so the others pace with it; a state file that cannot
be used leaves ``warning`` set and the run going on without it.
"""

from __future__ import annotations

from typing import Any

from bulkpatch.clock import Clock
from bulkpatch.limiter.finder import RateFinder
from bulkpatch.limiter.lane import AdaptiveLimiter, Hold
from bulkpatch.limiter.peers import leader, leader_pace
from bulkpatch.limiter.state import StateFile, still_running

_BEAT_SECONDS = 1.0
#: A run keeps up with its share when at least this share of its sends on its busiest lane
#: waited for their slot since its last beat (two beats alike before the judgement changes).
_WAITED_TO_KEEP_UP = 0.5


class SharedState:
    """The state-file side of :class:`~bulkpatch.limiter.Pacing` (its attributes are set
    there)."""

    __slots__ = (
        "_episode_seen",
        "_joined",
        "_kept_up",
        "_last_beat",
        "_last_judgement",
        "_leading",
        "_learned",
        "_pid_namespace",
        "_published",
        "_slots_seen",
        "_state",
        "most_participants",
        "participant",
        "participants",
        "warning",
    )

    # Pacing's own, read here.
    _clock: Clock
    _finder: RateFinder | None
    _lanes: dict[str, AdaptiveLimiter]
    hold: Hold
    # This side's (Pacing.__init__ sets them).
    _state: StateFile | None
    _learned: dict[str, Any]
    _episode_seen: int
    _last_beat: float
    _joined: float
    _leading: bool
    _pid_namespace: str | None
    _published: float | None
    _kept_up: bool
    _slots_seen: dict[str, tuple[int, int]]
    _last_judgement: bool
    participant: str
    participants: int
    most_participants: int
    warning: str | None

    def _judge_keeping_up(self) -> bool:
        """Whether this run sent at its pace since the last beat: on its busiest lane, most
        sends waited for their slot (two beats alike before it changes). A run with a ceiling
        of its own (``--max-rate``) never does: it could not raise the token's pace."""
        if self._capped():
            self._kept_up = self._last_judgement = False
            return False
        counts = {name: lane.slots for name, lane in self._lanes.items()}
        before, self._slots_seen = self._slots_seen, counts
        handed = {name: c[0] - before.get(name, (0, 0))[0] for name, c in counts.items()}
        if not handed or max(handed.values()) == 0:
            return self._kept_up  # held by a Retry-After: tells nothing either way
        busiest = max(handed, key=lambda name: handed[name])
        waited = counts[busiest][1] - before.get(busiest, (0, 0))[1]
        now_up = waited >= _WAITED_TO_KEEP_UP * handed[busiest]
        if now_up == self._last_judgement:
            self._kept_up = now_up
        self._last_judgement = now_up
        return self._kept_up

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
        for key in [k for k, v in participants.items() if not still_running(k, v, wall)]:
            del participants[key]
        self._published = pace = self._pace()
        participants[self.participant] = {
            "heartbeat": wall,
            "joined": self._joined,
            "episode": self._episode_seen,
            "pace": pace,
            "keepsUp": self._judge_keeping_up(),
            "lanes": self._measured(),  # what a run joining may take as learned
            "pidNamespace": self._pid_namespace,
        }
        self._learn_into(data)

    def _measured(self) -> dict[str, float]:
        """Each lane's rate found, if this run leads: the others pace with it, a probe of its
        that has not held yet included, and measured nothing of their own since."""
        if not self._leading:
            return {}
        return {
            name: round(lane.finder.settled, 3)
            for name, lane in self._lanes.items()
            if lane.finder.settled is not None
        }

    def _learn_into(self, data: dict[str, Any]) -> None:
        """Keep each lane's rate found, so a run killed now still teaches the next one."""
        lanes = data.setdefault("lanes", {})
        for name, rate in self._measured().items():
            lanes[name] = {
                "rate": rate,
                "retryAfter": self._lanes[name].finder.cost,
                "learnedAt": round(self._clock.wall().timestamp(), 3),
            }

    def _absorb(self, data: dict[str, Any]) -> None:
        """Take the pause, the episodes and the participant count other runs wrote."""
        now, wall = self._clock.now(), self._clock.wall().timestamp()
        fresh = [
            key
            for key, value in (data.get("participants") or {}).items()
            if still_running(key, value, wall)
        ]
        self.participants = max(1, len(set(fresh) | {self.participant}))
        self.most_participants = max(self.most_participants, self.participants)
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
        """Lead the token's runs, or pace with the one leading (see :mod:`.peers`)."""
        participants = data.get("participants") or {}
        leading_key = leader(participants, fresh, self.participant)
        self._leading = leading_key == self.participant
        finder = self._finder
        if finder is None:
            return
        finder.lead(self._clock.now(), self._leading)
        if not self._leading:
            pace = leader_pace(participants[leading_key], self._episode_seen)
            if pace is not None:
                finder.pace_with(pace)

    def _capped(self) -> bool:
        return self._finder is not None and self._finder.ceiling < float("inf")

    def _publish(self, lane: str | None, until: float, rate: float) -> None:
        """Tell the other runs of a pause (and, with a lane, of a new throttle episode and the
        token's rate this run measured at it, unless a ceiling of its own bounds that rate)."""
        if self._state is None:
            return
        if self._capped():
            lane = None
        wall_until = self._clock.wall().timestamp() + (until - self._clock.now())

        def change(data: dict[str, Any]) -> None:
            data["pauseUntil"] = max(float(data.get("pauseUntil") or 0.0), wall_until)
            if lane is not None:
                data["episode"] = self._episode_seen = int(data.get("episode") or 0) + 1
                data["episodeLane"] = lane
                data["episodeRate"] = round(rate, 3)
                if self._finder is not None:  # a lane was refused: its finder exists
                    data["episodeUncertainty"] = round(self._finder.uncertainty, 4)
                self._beat_into(data)  # the others converge on the rate just measured

        try:
            self._state.update(change)
        except OSError as exc:
            self._give_up(exc)
