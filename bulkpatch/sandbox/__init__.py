"""The sandbox: a local Webex Meetings emulator that answers as the real API does.

It serves ``GET``/``PATCH /v1/meetings/{meetingId}`` and ``GET /v1/meetings`` on loopback only,
applies the API reference's rules (the same :mod:`bulkpatch.model` the tool uses, plus the
rules only a server knows), limits each token's rate, injects faults on demand, and counts
everything at ``GET /_sandbox/stats``. Only :mod:`bulkpatch.cli` and the tests import it.
"""

from bulkpatch.sandbox.app import (
    RunningSandbox,
    SandboxError,
    SandboxState,
    build_app,
    check_loopback,
    new_state,
    running_sandbox,
)
from bulkpatch.sandbox.store import MeetingStore, generate, occurrence_id, seed_from_ids
from bulkpatch.sandbox.traffic import Faults, RateLimits, Stats, parse_latency

__all__ = [
    "Faults",
    "MeetingStore",
    "RateLimits",
    "RunningSandbox",
    "SandboxError",
    "SandboxState",
    "Stats",
    "build_app",
    "check_loopback",
    "generate",
    "new_state",
    "occurrence_id",
    "parse_latency",
    "running_sandbox",
    "seed_from_ids",
]
