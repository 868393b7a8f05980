"""The emulator started in-process for `run --sandbox`: the only place a workflow meets it.

Imported lazily by the commands that need it, so no other command pays for loading the
emulator, and the library itself never imports :mod:`bulkpatch.sandbox`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bulkpatch.errors import ConfigError
from bulkpatch.sandbox import SandboxError, new_state, running_sandbox, seed_from_ids
from bulkpatch.workflows import PreparedJob, Target


@asynccontextmanager
async def running_for_job(job: PreparedJob, token: str) -> AsyncIterator[Target]:
    """A sandbox on a free loopback port holding every meeting the job names."""
    ids = (row.meeting_id for row in job.store.kept_rows())
    state = new_state(seed_from_ids(ids, job.now), token=token)
    try:
        running = running_sandbox(state)
        sandbox = await running.__aenter__()
    except SandboxError as exc:
        raise ConfigError(str(exc)) from None
    try:
        yield Target.sandbox(sandbox.api_url)
    finally:
        await running.__aexit__(None, None, None)
