"""The emulator started in-process for `run --sandbox`: the only place a workflow meets it.

Imported lazily by the commands that need it, so no other command pays for loading the
emulator, and the library itself never imports :mod:`bulkpatch.sandbox`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bulkpatch.errors import ConfigError
from bulkpatch.sandbox import (
    MeetingStore,
    SandboxError,
    SnapshotError,
    new_state,
    read_snapshot,
    running_sandbox,
    seed_from_ids,
)
from bulkpatch.workflows import PreparedJob, Target


def snapshot_beside(job: Path) -> Path:
    """Where `pull` put the snapshot of a job's meetings."""
    return job.with_name(f"{job.name}.snapshot.jsonl")


def store_for(job: PreparedJob) -> MeetingStore:
    """The meetings a trial of ``job`` meets: the pulled snapshot beside it, when there is one
    (the site's real states, types and series), else every meeting the job names, patchable."""
    snapshot = snapshot_beside(job.path)
    if snapshot.is_file():
        try:
            return read_snapshot(snapshot)
        except SnapshotError as exc:
            raise ConfigError(f"cannot seed the sandbox: {exc}") from None
    return seed_from_ids((row.meeting_id for row in job.store.kept_rows()), job.now)


@asynccontextmanager
async def running_for_job(job: PreparedJob, token: str) -> AsyncIterator[Target]:
    """A sandbox on a free loopback port holding the job's meetings (see :func:`store_for`)."""
    state = new_state(store_for(job), token=token)
    try:
        running = running_sandbox(state)
        sandbox = await running.__aenter__()
    except SandboxError as exc:
        raise ConfigError(str(exc)) from None
    try:
        yield Target.sandbox(sandbox.api_url)
    finally:
        await running.__aexit__(None, None, None)
