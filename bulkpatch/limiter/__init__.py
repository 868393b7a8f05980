"""The limiter: finds the rate limit nobody publishes, obeys every Retry-After, shares both.

* :class:`AdaptiveLimiter`: one lane's pace (what the engine calls: ``acquire``,
  ``on_success``, ``on_throttle``, ``hold``, ``paused_for``, ``rate``, ``throttled``,
  ``episodes``), decided by a :class:`RateFinder` (``finder.py``: start, measure, probe by
  cost; ``window.py``: fixed-window quotas) and spaced by ``pacer.py``.
* :class:`Pacing`: the lanes of a run (``pacing.lane("read")``, ``pacing.lane("write")``), each
  its portion of one rate found for the token, all held by one Retry-After; :func:`open_pacing`
  builds it with the rate learned by earlier runs and joins the other runs on the same target
  and token through the state file (``state.py``; ``sharing.py``, ``peers.py``: which run
  leads).
"""

from bulkpatch.clock import Clock, SystemClock
from bulkpatch.limiter.finder import RateFinder
from bulkpatch.limiter.lane import AdaptiveLimiter, Hold
from bulkpatch.limiter.pacing import Pacing, open_pacing
from bulkpatch.limiter.state import STATE_DIR_ENV, default_state_dir, state_path, token_identity

__all__ = [
    "STATE_DIR_ENV",
    "AdaptiveLimiter",
    "Clock",
    "Hold",
    "Pacing",
    "RateFinder",
    "SystemClock",
    "default_state_dir",
    "open_pacing",
    "state_path",
    "token_identity",
]
