"""The runs sharing a token, as the state file lists them: which one leads, at what pace.

Each run reckons the token's traffic as its own successes times the runs sharing it, which is
right only while every run paces the same total. So one run leads: it alone raises the pace
(starting, probing) and writes each change at once; the others pace with it. The leader is the
first to join among the runs sending their share (a run that cannot, with slow answers or in
the tail of its job, would hold every run under the limit), or the first to join when none is.

An entry of the file's ``participants``, as :meth:`Pacing._beat_into` writes it::

    {"heartbeat": 1764070011.9, "joined": 1764069950.2, "episode": 7, "pace": 48.6,
     "keepsUp": true, "lanes": {"write": 48.6}, "pidNamespace": "8f2c…/4026531836"}

``pace`` is the token's pace the run sends at now (starting or probing too); ``keepsUp``
whether most of its workers waited for their slot (it sends its share of the pace, so it may
lead); ``lanes`` only rates the leader measured (what a run joining may take as learned);
``pidNamespace`` where its key's PID means something (see :func:`.state.still_running`). An
entry of an earlier version, with no ``joined``, counts as the newest run, and one with no
``episode`` as current.
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


def _seniority(entry: Mapping[str, Any] | None, key: str) -> tuple[float, str]:
    joined = None if entry is None else entry.get("joined")
    return (float(joined) if isinstance(joined, int | float) else float("inf"), key)


def _keeps_up(entry: Mapping[str, Any] | None) -> bool:
    return entry is not None and entry.get("keepsUp") is not False
