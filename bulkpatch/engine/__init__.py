"""The engine: rows in, requests out, every outcome into the journal.

``Pipeline`` (attempts.py) is the one attempt loop every request goes through: pacing,
retries, token refresh and the run's stop rules, judged by :mod:`bulkpatch.policy`.
``plan_rows`` (plan.py) picks the rows the journal says are still to do; ``run_rows`` (run.py)
sends them through a pool of workers in an anyio task group, with a group committer that makes
each outcome durable before its worker takes the next row (coordination.py). Rows of the same
meeting go in file order, one at a time. Everything it touches is passed in: sender, journal,
pacers, clock, logger, so tests drive it without a network or sleeping.
"""

from bulkpatch.engine.attempts import Final, Pipeline
from bulkpatch.engine.plan import plan_rows
from bulkpatch.engine.run import run_rows, scrub_secrets
from bulkpatch.engine.values import (
    Clock,
    Pacer,
    Planned,
    Refresher,
    RunCounts,
    RunSettings,
    Sender,
    Stopper,
    StopReason,
)

__all__ = [
    "Clock",
    "Final",
    "Pacer",
    "Pipeline",
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
