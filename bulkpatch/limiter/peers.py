"""The runs sharing a token, as the state file lists them: which one leads, at what pace.

Each run reckons the token's traffic as its own successes times the runs sharing it, which is
right only while every run paces the same total. So one run leads: it alone raises the pace
(starting, probing) and writes each change at once; the others pace with it. The leader is the
first to join among the runs sending their share (a run that cannot, with slow answers or in
the tail of its job, would hold every run under the limit), or the first to join when none is.

An entry of the file's ``participants``, as :meth:`Pacing._beat_into` writes it::

    {"heartbeat": 1764070011.9, "joined": 1764069950.2, "episode": 7, "pace": 48.6,
     "keepsUp": true, "sending": 24.3, "lanes": {"write": 48.6}}

``pace`` is the token's pace the run sends at now (starting or probing too); ``keepsUp``
whether most of its workers waited for their slot since its last beat (it sends its share of
the pace), ``sending`` the requests a second it sent over the last seconds; ``lanes`` holds
only rates measured (what a run joining may take as learned). An entry of an earlier version,
with no ``joined``, counts as the newest run, and one with no ``episode`` as current.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def leader(participants: Mapping[str, Any], fresh: Iterable[str], me: str) -> str:
    """The key of the run that leads among ``fresh`` and ``me``: the first to join of those
    that keep up with their share, or the first to join when none does."""
    candidates = sorted({*fresh, me}, key=lambda key: _seniority(participants.get(key), key))
    keeping_up = [key for key in candidates if _keeps_up(participants.get(key))]
    return (keeping_up or candidates)[0]


def leader_pace(entry: Mapping[str, Any], episode_seen: int) -> float | None:
    """The pace a leader's entry gives, if it was written since the latest 429 this run saw
    (a pace from before it would undo what that 429 measured)."""
    episode = entry.get("episode")
    if isinstance(episode, int) and episode < episode_seen:
        return None
    pace = entry.get("pace")
    return float(pace) if isinstance(pace, int | float) and pace > 0 else None


def others_sending(entry: Mapping[str, Any]) -> float | None:
    """What another run sends: None when it keeps up with its share of the pace, else the
    requests a second it wrote it sent."""
    sending = entry.get("sending")
    if _keeps_up(entry) or not isinstance(sending, int | float) or sending < 0:
        return None
    return float(sending)


def fraction(rate: float, runs: int, kept_up: bool, others: list[float | None]) -> float:
    """A run's part of the token's pace ``rate`` among ``runs``: those that keep up split what
    the ``others`` that do not (their sending, per :func:`others_sending`) leave of it; one
    that does not keep up gets an equal part (it sends less anyway)."""
    if runs == 1 or not kept_up:
        return 1.0 / runs
    slow = [sending for sending in others if sending is not None]
    keeping_up = 1 + len(others) - len(slow)
    part = (rate - sum(slow)) / keeping_up / rate
    return min(1.0, max(1.0 / runs, part))


def weight(rate: float, runs: int, mine: float, kept_up: bool, others: list[float | None]) -> float:
    """How many of the token's successes one of a run's stands for: the token's traffic
    against the run's own (``mine``, requests a second). While some run keeps up, the token's
    traffic is its pace ``rate``; otherwise it is what the runs send."""
    if kept_up or any(sending is None for sending in others):
        traffic = rate
    else:
        traffic = mine + sum(sending or 0.0 for sending in others)
    return traffic / mine if mine > 0 else float(runs)


def _seniority(entry: Mapping[str, Any] | None, key: str) -> tuple[float, str]:
    joined = None if entry is None else entry.get("joined")
    return (float(joined) if isinstance(joined, int | float) else float("inf"), key)


def _keeps_up(entry: Mapping[str, Any] | None) -> bool:
    return entry is not None and entry.get("keepsUp") is not False
