"""Finding a rate limit nobody publishes: pure decisions over successes, 429s and time.

A server's limit shows only when it is passed: a 429, and a Retry-After to wait out. So:

* **Start.** Without a learned rate, start at :data:`START_RATE` and multiply the pace by
  :data:`START_GROWTH` after each tenth of a second sent at it (a few requests at least),
  until the first 429 or the ceiling: twenty to a thousand per second in about a second.
* **Measure.** At a 429 the server's bucket has just run dry. For a token bucket of rate R and
  burst B, any stretch of sending that ends at the 429 had at most ``B + R * seconds``
  successes, with equality from the moment the bucket was last full. So the estimate is the
  highest ``(successes - B) / seconds`` over the stretches since the last pause (B assumed
  :data:`ASSUMED_BURST`), or ``successes / seconds`` since the last 429, when the bucket
  was empty (a pause too short to fill it), and the pace goes to :data:`MARGIN` of it. When
  that says nothing new (a pace held long before was refused: the limit moved), the pace is
  cut by :data:`DECREASE`, and the next 429 measures again.
* **Probe by cost.** Sitting a share ``gap`` under the limit loses ``gap`` seconds of sending
  per second; a probe that fails loses one Retry-After. So a probe comes once the first loss
  has added up to twice the second (:attr:`RateFinder.quiet_seconds`, a ski-rental rule), with
  ``gap`` the precision of the last measure (one request in the stretch measured, at least
  :data:`MIN_GAP`): with 1-second Retry-After the limit is checked again within a minute,
  with minute-long ones about once an hour. A probe step is held long enough for a bucket to
  run dry that far above the limit, then doubles, so a limit that rose is found in a few steps.
* **Windows.** A limit of N per fixed window shows as refusals that resume on the window's
  boundaries (:mod:`bulkpatch.limiter.window`); once three do, the quota is paced evenly over
  the window.
* **Shared.** With other runs on the token, each success of ours stands for as many of the
  token's (``weight``: the runs, each pacing alike), and only the run that leads raises the
  pace (:attr:`RateFinder.leads`); the others pace with it (:mod:`bulkpatch.limiter.peers`).

Everything here is a value computed from the clock's time; nothing sleeps or sends.
"""

from __future__ import annotations

import math
from collections import deque

from bulkpatch.limiter.measure import burst_from_cycles, estimate
from bulkpatch.limiter.window import WindowDetector

START_RATE = 20.0
START_STEP_SECONDS = 0.1
START_GROWTH = 1.5
ASSUMED_BURST = 10.0
DECREASE = 0.7
#: How far under the measured limit the pace sits (the measure is rather low than high: it
#: counts what got through, and a bucket's last fraction of a token only on average).
MARGIN = 1.0
#: A 429 costing this many seconds or more is expensive: the pace then also keeps the
#: measure's uncertainty as margin, since one more such pause costs more than that margin
#: over the minutes it is held.
EXPENSIVE_SECONDS = 10.0
#: The smallest gap a measure leaves (the ski-rental rule then waits 100 Retry-Afters).
MIN_GAP = 0.02
#: The largest probe step: half again the pace held.
MAX_PROBE = 0.5
MIN_QUIET_SECONDS = 2.0
MAX_HOLD_SECONDS = 20.0
#: A probe step of d is held at least this / d seconds (and at least 1, at most
#: MAX_HOLD_SECONDS), and long enough for a burst of ASSUMED_BURST to run dry at d over the limit.
PROBE_HOLD = 0.1
_HISTORY_SECONDS = 30.0
#: Cycles fit for learning the burst together: refused on one lane, its share of the cycle's
#: successes within this of each other's.
MIX_TOLERANCE = 0.1


class RateFinder:
    """The pace to send at, from what the server has answered so far."""

    __slots__ = (
        "_base",
        "_cycle",
        "_cycle_lanes",
        "_cycles_mix",
        "_emptied_at",
        "_history",
        "_probe_since",
        "_probe_step",
        "_resumed_at",
        "_start_step_at",
        "_steady",
        "_steady_cycles",
        "_stuck",
        "burst",
        "ceiling",
        "cost",
        "discovering",
        "good",
        "last_refusal_at",
        "leads",
        "min_rate",
        "rate",
        "refused",
        "uncertainty",
        "weight",
        "window",
    )

    def __init__(
        self,
        now: float,
        *,
        ceiling: float | None = None,
        learned: float | None = None,
        learned_cost: float = 1.0,
        min_rate: float = 0.2,
    ) -> None:
        self.ceiling = math.inf if ceiling is None else ceiling
        self.min_rate = min(min_rate, self.ceiling)
        #: Seconds a 429 costs: the latest Retry-After (1 until one is seen).
        self.cost = 1.0
        #: The highest pace held without a 429 (a lower bound of the limit), once known.
        self.good: float | None = None
        #: The pace the last 429 came at (the limit is under it), until it is forgotten.
        self.refused: float | None = None
        self.last_refusal_at: float | None = None
        #: How far off the last measure may be, as a share of it: the gap a probe may find.
        self.uncertainty = MAX_PROBE
        #: How many of the token's successes each of ours stands for (1 alone; with other
        #: runs on the token, their traffic and ours against ours).
        self.weight = 1.0
        #: Whether this run raises the pace (starting, or probing): of the runs sharing a
        #: token, only the one leading does; the others pace with it (see :meth:`pace_with`).
        self.leads = True
        self.discovering = learned is None
        start = START_RATE if learned is None else learned
        self.rate = self._bounded(start)
        if learned is not None:
            # As if the limit had just been measured precisely: hold it, probe after a while.
            self.good = self.rate
            self.cost = learned_cost
            self.last_refusal_at = now
            self.uncertainty = MIN_GAP
        self.window = WindowDetector()
        #: Our successes of the last seconds: when, and how many of the token's each stood for.
        self._history: deque[tuple[float, float]] = deque()
        #: The server's burst the measure assumes, learned from steady cycles (see _learn_burst).
        self.burst = ASSUMED_BURST
        #: Whether the pace stayed the same since sending last resumed, and such cycles' lengths.
        self._steady = False
        self._stuck = 0
        self._steady_cycles: deque[tuple[float, float]] = deque(maxlen=4)
        #: The lane refused at the end of those cycles, and its share of their successes.
        self._cycles_mix: tuple[str, float] | None = None
        self._cycle = 0.0
        #: This cycle's successes by lane.
        self._cycle_lanes: dict[str, float] = {}
        self._resumed_at = now
        #: When the server's bucket was last seen empty: the last 429 (ours or another run's).
        self._emptied_at: float | None = None
        self._start_step_at = now
        self._probe_since: float | None = None
        self._probe_step = self.uncertainty
        #: The pace held through a whole quiet time before the probes under way began.
        self._base: float | None = None

    def __repr__(self) -> str:
        return f"<RateFinder rate={self.rate:.2f}/s good={self.good} refused={self.refused} cost={self.cost:g}s>"

    @property
    def settled(self) -> float | None:
        """The pace worth remembering for the next run: None while still starting."""
        if self.discovering:
            return None
        if self._probe_since is not None and self.good is not None:
            return self.good  # a probe under way is not known to hold yet
        return self.rate

    def pace_with(self, pace: float) -> None:
        """Another run leads on this token and paces it at ``pace`` (the token's total): pace
        the same.

        Each run reckons the token's traffic as its own successes times the runs sharing it,
        which holds only while every run paces the same total; so one run leads (it alone
        raises the pace) and the others pace with it. Following measures nothing: a run still
        starting stays so (its pace is not one to remember) until a 429 measures.
        """
        if self.window.quota is not None:
            return  # each run paces the quota it saw
        self._probe_since = self._base = None
        if abs(pace - self.rate) > 1e-9 * self.rate:
            self.rate = self._bounded(pace)
            self._steady = False

    def lead(self, now: float, leading: bool) -> None:
        """Lead the token's runs from ``now`` (raise the pace: start, probe), or stop leading.

        A run that takes the lead while still starting grows from its pace as of now.
        """
        if leading and not self.leads:
            self._start_step_at = now
        self.leads = leading

    def follow(self, now: float, pause: float, rate: float, uncertainty: float) -> None:
        """Another run on the token was refused and measured ``rate`` (the token's), as
        precise as ``uncertainty``: take it.

        Our own successes are only a share of what the server counted, so the run that was
        refused measures, and the others follow; probes and starts under way end.
        """
        self.cost = max(pause, 0.1)
        self.discovering = False
        self.rate = self._bounded(rate)
        self.refused = self.good = self._base = self._probe_since = None
        self.last_refusal_at = now
        self.uncertainty = self._probe_step = min(MAX_PROBE, max(MIN_GAP, uncertainty))
        self._steady = False
        self._history.clear()
        self._cycle = 0.0
        self._cycle_lanes = {}
        self._emptied_at = now
        self._resumed_at = now + pause

    def _bounded(self, rate: float) -> float:
        return max(self.min_rate, min(self.ceiling, rate))

    def succeeded(self, now: float, weight: float = 1.0, lane: str = "write") -> None:
        """One request of ``lane`` succeeded at ``now``, standing for ``weight`` of the token's
        successes (the runs sharing the token: their traffic and ours, against ours)."""
        self.weight = weight
        if now >= self._resumed_at:  # answers to requests sent before the 429 are not this cycle's
            self._cycle += weight
            self._cycle_lanes[lane] = self._cycle_lanes.get(lane, 0.0) + weight
        history = self._history
        history.append((now, weight))
        while history[0][0] < now - _HISTORY_SECONDS:
            history.popleft()
        if not self.leads:
            return  # the run leading the token grows and probes; this one paces with it
        if self.discovering:
            self._grow(now)
        else:
            self._probe(now)

    def sending_resumed(self, at: float) -> None:
        """Sending resumed (or will) at ``at``, the end of the latest hold: later 429s of one
        episode (ours in flight, or another run's) may push it past the one that began it.

        Cycles and stretches are measured from there: from the first 429's end, the time held
        beyond it counted as sending, and two cycles then measured the burst too small (with a
        run 200 ms away on the token, a burst of 1 for 10, and every measure high).
        """
        self._resumed_at = max(self._resumed_at, at)

    def _sent_since(self, since: float) -> float:
        """The token's successes since ``since``, as ours reckon them."""
        count = 0.0
        for moment, weight in reversed(self._history):
            if moment < since:
                break
            count += weight
        return count

    def _grow(self, now: float) -> None:
        """Start: multiply the pace by START_GROWTH after each step that was sent at it."""
        # A step of at least a few requests, so that "sent at the pace" means something.
        if now - self._start_step_at < max(START_STEP_SECONDS, 3.0 / self.rate):
            return
        sent = self._sent_since(self._start_step_at)
        used = sent >= 0.75 * self.rate * (now - self._start_step_at)
        self._start_step_at = now
        if used and self.rate < self.ceiling:
            self.good = self.rate
            self.rate = self._bounded(self.rate * START_GROWTH)
            self._steady = False

    def _probe(self, now: float) -> None:
        """Hold, then probe above the pace held once a quiet time has passed."""
        if self.window.quota is not None or self.rate >= self.ceiling:
            return
        since = self._probe_since
        if since is not None:
            if now - since < self._probe_hold():
                return
            self.good = self.rate  # the probe held: the limit is at least this
            self._probe_step = min(MAX_PROBE, self._probe_step * 2)
        elif self.last_refusal_at is not None and now - self.last_refusal_at < self.quiet_seconds:
            return
        else:
            self.refused = None  # an old refusal: the limit may have moved since
            self.good = self._base = self.rate
        sent = self._sent_since(now - 1.0)
        if sent < 0.75 * self.rate:
            self._probe_since = None  # not sending at the pace (few rows, slow answers)
            return
        target = self.rate * (1 + self._probe_step)
        if self.refused is not None:
            target = min(target, MARGIN * self.refused)
        if target <= self.rate:
            self._probe_since = None
            return
        self._probe_since = now
        self.rate = self._bounded(target)
        self._steady = False

    def _probe_hold(self) -> float:
        """How long a probe step is held before it counts as sustained.

        Long enough for a bucket of :data:`ASSUMED_BURST` to run dry that far above the limit,
        and for the step's own noise; at most :data:`MAX_HOLD_SECONDS`.
        """
        step = self._probe_step
        drain = self.burst / (step * self.rate / (1 + step))
        return min(MAX_HOLD_SECONDS, max(1.0, PROBE_HOLD / step, drain))

    @property
    def quiet_seconds(self) -> float:
        """How long after a 429 the next probe waits: a Retry-After over the gap it may find.

        Sitting a share ``gap`` under the limit loses ``gap`` seconds of sending per second;
        a failed probe loses one Retry-After. So the probe comes once the first has added up to
        twice the second (a ski-rental rule; twice, because a job may end before a probe pays
        back): soon after a rough measure and a short Retry-After, rarely after a precise one
        and a long Retry-After.
        """
        return max(MIN_QUIET_SECONDS, 2.0 * self.cost / self.uncertainty)

    def throttled(
        self, now: float, pause: float, *, new_episode: bool, lane: str = "write"
    ) -> None:
        """A 429 to a request of ``lane`` came at ``now`` with a pause of ``pause`` seconds."""
        if not new_episode:
            return
        self.cost = max(pause, 0.1)
        refused_pace = self.rate
        measured = self._estimate(now)
        stuck = False
        if (
            self._steady and now > self._resumed_at
        ):  # a cycle we sent in (not another run's 429 during our pause)
            share = self._cycle_lanes.get(lane, 0.0) / self._cycle if self._cycle else 1.0
            if self._cycles_mix is not None and self._cycles_mix[0] != lane:
                self._stuck = 0  # another lane refused: not the same bucket refusing again
            if self._learn_burst(now - self._resumed_at, self._cycle, (lane, share)):
                measured = self._estimate(now)
                self._stuck = 0
            elif measured is None or measured[0] >= 0.9 * refused_pace:
                # Refused at the pace the last measure set, measuring about the same again:
                # the server's burst is larger than assumed, or the limit moved. The second
                # time in a row, cut the pace: a cycle of another length tells the burst.
                self._stuck += 1
                stuck = self._stuck >= 2
        else:
            self._stuck = 0
        self.window.refused(now + pause, self._cycle)
        self._cycle = 0.0
        self._cycle_lanes = {}
        probing = self._probe_since is not None and self._base is not None
        if measured is not None and measured[0] < MARGIN * refused_pace and not stuck:
            estimate, seconds = measured
            # One request more or less in the measured stretch moves the measure this much
            # (our own requests stand for ``weight`` of the token's each).
            self.uncertainty = min(MAX_PROBE, max(MIN_GAP, self.weight / (estimate * seconds)))
            pace = MARGIN * estimate
            if self.cost >= EXPENSIVE_SECONDS:
                pace *= 1 - self.uncertainty / 2
        elif probing and self._base is not None:
            pace = self._base  # a probe failed, measuring nothing: back to what held before it
            self.uncertainty = MIN_GAP
        else:
            pace = DECREASE * refused_pace
            self.uncertainty = 1 / DECREASE - 1
        if not self.discovering and self.good is not None and self.good >= refused_pace:
            self.good = None  # a pace that held before was refused: the limit dropped
        self.discovering = False
        self.refused = refused_pace
        self.last_refusal_at = now
        self._probe_since = None
        self._base = None
        self._probe_step = self.uncertainty
        quota = self.window.quota_rate()
        if quota is not None:
            pace = quota
        self.rate = self._bounded(min(pace, refused_pace))
        self._steady = True
        self._emptied_at = now
        self._resumed_at = now + pause
        self._history.clear()

    def _learn_burst(self, seconds: float, successes: float, mix: tuple[str, float]) -> bool:
        """Learn the server's burst from this cycle and the last ones (see
        :func:`~bulkpatch.limiter.measure.burst_from_cycles`); True when it was learned.

        ``mix``: the lane refused and its share of the cycle's successes. A cycle counts every
        lane's successes, and where a server limits one lane apart, they fall on a line only
        while that share holds; so the cycles fit together are those refused on the same lane
        at about the same share. (Fit across shares, reads limited at 100/s and writes at 30
        gave a burst of 44 for 10, and a run reading each meeting went at 0.65 of its limit.)

        With other runs on the token, only a burst larger than assumed: cycles that say smaller
        are then mostly their answers counted as ours, later than ours (a near run leading a far
        one at 300/s fell to 0.46 of the limit), and a smaller burst raises every measure.
        """
        kept = self._cycles_mix
        if kept is not None and (kept[0] != mix[0] or abs(kept[1] - mix[1]) > MIX_TOLERANCE):
            self._steady_cycles.clear()
        self._cycles_mix = mix
        self._steady_cycles.append((seconds, successes))
        at_least = ASSUMED_BURST if self.weight > 1 else 1.0
        burst = burst_from_cycles(self._steady_cycles, at_least)
        if burst is None:
            return False
        self.burst = burst
        return True

    def _estimate(self, now: float) -> tuple[float, float] | None:
        """The limit measured now, and over how many seconds (see :func:`.measure.estimate`)."""
        return estimate(
            self._history,
            now,
            resumed_at=self._resumed_at,
            emptied_at=self._emptied_at,
            burst=self.burst,
        )
