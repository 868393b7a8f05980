"""The SQLite journal: what a run did to which rows, on which target, for which job file.

``store`` holds the :class:`Journal`, ``reports`` what it tells, ``statements`` how every
statement runs; ``files`` its lock and owner-only file handling; ``schema`` its tables,
version and migrations; ``values`` the statuses and records it returns.
No ``sqlite3`` error leaves this package: every one becomes :class:`JournalError` (the journal
cannot be used: exit 2) or :class:`JournalFailed` (it failed while in use: exit 3).
"""

from bulkpatch.journal.pairing import FOLLOWER_MOVED
from bulkpatch.journal.schema import SCHEMA_VERSION
from bulkpatch.journal.store import (
    Journal,
    default_journal_path,
    file_hash,
    row_digest,
    stored_body,
)
from bulkpatch.journal.values import (
    DONE,
    NOT_DONE,
    RARE,
    STATUSES,
    JobBinding,
    Outcome,
    RowRecord,
    RowState,
    RowStatus,
    RunRecord,
    Snapshot,
    UndoRow,
)

__all__ = [
    "DONE",
    "FOLLOWER_MOVED",
    "NOT_DONE",
    "RARE",
    "SCHEMA_VERSION",
    "STATUSES",
    "JobBinding",
    "Journal",
    "Outcome",
    "RowRecord",
    "RowState",
    "RowStatus",
    "RunRecord",
    "Snapshot",
    "UndoRow",
    "default_journal_path",
    "file_hash",
    "row_digest",
    "stored_body",
]
