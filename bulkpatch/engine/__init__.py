"""The engine: rows in, PATCHes out, every outcome into the journal.

``plan_rows`` (plan.py) skips what the journal says is done; ``run_rows`` (run.py) sends the
rest through a pool of workers in an anyio task group, one shared :class:`AdaptiveLimiter`,
retries by :mod:`bulkpatch.policy`, and a group committer that makes each outcome durable before
its worker takes the next row (coordination.py). Rows of the same meeting go in file order, one
at a time. Everything it touches is passed in: sender, journal, limiter, clock, logger, so tests
drive it without a network or sleeping.
"""

from bulkpatch.engine.plan import plan_rows
from bulkpatch.engine.run import run_rows, scrub_secrets
from bulkpatch.engine.values import (
    Planned,
    Refresher,
    RunCounts,
    RunSettings,
    Sender,
    Stopper,
    StopReason,
)

__all__ = [
    "Planned",
    "Refresher",
    "RunCounts",
    "RunSettings",
    "Sender",
    "StopReason",
    "Stopper",
    "plan_rows",
    "run_rows",
    "scrub_secrets",
]
