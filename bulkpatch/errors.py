"""bulkpatch's errors: one class per kind of failure, so callers catch exactly what they handle.

::

    BulkpatchError
    ├── JobFileError        the job file as a whole cannot be read (path, line, field, rule)
    ├── ConfigError         a config file, an environment variable or a flag is wrong
    ├── JournalError        the journal cannot be opened or belongs to another job file
    │   └── JournalBusy     another run holds the journal
    └── RemoteError         talking to the API failed
        ├── TransportError  no answer: connection refused or dropped, timeout (retryable)
        └── StatusError     an HTTP status that is not 2xx
            ├── RetryableStatus   429, 423, 5xx: try again (after ``retry_after`` when given)
            └── RejectedStatus    400, 404, 409, ...: the API said no; never retried

Problems with single rows are not exceptions: the job reader and the rules report them as
:class:`bulkpatch.model.Finding` values and go on with the next row.
"""

from __future__ import annotations


class BulkpatchError(Exception):
    """Base of every error bulkpatch raises on purpose."""


class JobFileError(BulkpatchError):
    """The job file cannot be used at all: missing, unreadable, wrong kind, or a bad header."""

    def __init__(
        self, path: str, message: str, *, line: int = 0, field: str = "", rule: str = "file"
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.rule = rule
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


class ConfigError(BulkpatchError):
    """A setting is wrong: unknown key, bad value, or a file that cannot be read."""


class JournalError(BulkpatchError):
    """The journal cannot be used for this run."""


class JournalBusy(JournalError):
    """Another run holds the journal's lock right now."""


class RemoteError(BulkpatchError):
    """Talking to the API failed."""


class TransportError(RemoteError):
    """No HTTP answer at all: connection refused or dropped, or a timeout. Always retryable."""


class StatusError(RemoteError):
    """The API answered with a status that is not 2xx."""

    def __init__(self, status: int, message: str, *, tracking_id: str | None = None) -> None:
        self.status = status
        self.tracking_id = tracking_id
        super().__init__(f"HTTP {status}: {message}")


class RetryableStatus(StatusError):
    """A status worth retrying (429, 423, 500, 502, 503, 504), after ``retry_after`` seconds if given."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        tracking_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(status, message, tracking_id=tracking_id)


class RejectedStatus(StatusError):
    """A status that will not change on retry (400, 404, 405, 409, 410, 415): the row fails."""
