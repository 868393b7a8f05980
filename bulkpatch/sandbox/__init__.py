"""The sandbox: a local Webex Meetings emulator that answers as the real API does.

It serves ``GET``/``PATCH /v1/meetings/{meetingId}``, ``GET /v1/meetings`` (List Meetings) and
``GET /v1/people`` (List People), ``GET /v1/people/me`` (Get My Own Details) on loopback only,
applies the API reference's rules (the same :mod:`bulkpatch.model` the tool uses, plus the
rules only a server knows), limits each token's rate, injects faults on demand, and counts
everything at ``GET /_sandbox/stats``. Only :mod:`bulkpatch.cli` and the tests import it.
"""

from bulkpatch.sandbox.accounts import ADMIN, Identity, parse_user_token
from bulkpatch.sandbox.app import RunningSandbox, build_app, check_loopback, running_sandbox
from bulkpatch.sandbox.seeding import (
    every_kind_from,
    generate,
    generate_meetings,
    occurrence_id,
    seed_from_ids,
)
from bulkpatch.sandbox.snapshot import SnapshotError, is_snapshot, read_snapshot, seed_from_snapshot
from bulkpatch.sandbox.state import SandboxError, SandboxState, new_state
from bulkpatch.sandbox.store import MeetingStore
from bulkpatch.sandbox.traffic import Faults, RateLimits, Stats, parse_latency

__all__ = [
    "ADMIN",
    "Faults",
    "Identity",
    "MeetingStore",
    "RateLimits",
    "RunningSandbox",
    "SandboxError",
    "SandboxState",
    "SnapshotError",
    "Stats",
    "build_app",
    "check_loopback",
    "every_kind_from",
    "generate",
    "generate_meetings",
    "is_snapshot",
    "new_state",
    "occurrence_id",
    "parse_latency",
    "parse_user_token",
    "read_snapshot",
    "running_sandbox",
    "seed_from_ids",
    "seed_from_snapshot",
]
