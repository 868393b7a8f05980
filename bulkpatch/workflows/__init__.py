"""The library's entry points, one per step of the workflow; the CLI only parses and renders.

``run_job`` sends a validated job (run.py); ``session`` holds what every workflow that talks
to the API shares: the target, the client and the one request pipeline.
"""

from bulkpatch.workflows.run import (
    PreparedJob,
    RunOptions,
    RunReport,
    journal_path_for,
    prepare_job,
    run_job,
)
from bulkpatch.workflows.session import Session, Target, open_session

__all__ = [
    "PreparedJob",
    "RunOptions",
    "RunReport",
    "Session",
    "Target",
    "journal_path_for",
    "open_session",
    "prepare_job",
    "run_job",
]
