"""bulkpatch's errors: one class per kind of failure, so callers catch exactly what they handle.

::

    BulkpatchError
    ├── JobFileError        the job file as a whole cannot be read (path, line, field, rule)
    ├── ConfigError         a config file, an environment variable or a flag is wrong
    ├── OutputError         an output file cannot be written where asked
    ├── JournalError        the journal cannot be used: another job or target, not a journal, damaged
    │   ├── JournalBusy     another run holds the journal
    │   └── JournalFailed   reading or writing the journal failed while in use (disk full, read-only)
    └── RemoteError         talking to the API failed (a token refresh refused)
        ├── TransportError  no HTTP answer at all: connection refused or dropped, TLS, timeout
        └── ForeignURLError the server pointed outside the base URL (a next page elsewhere)

Problems with single rows are not exceptions: the job reader and the rules report them as
:class:`bulkpatch.model.Finding` values and go on with the next row. HTTP statuses are not
exceptions either: the client returns them as :class:`bulkpatch.client.Reply` values, and
:mod:`bulkpatch.policy` decides what each means.
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


class OutputError(BulkpatchError):
    """An output cannot be written where asked (onto the job or the journal, or a failed write)."""


class JournalError(BulkpatchError):
    """The journal cannot be used for this run."""


class JournalBusy(JournalError):
    """Another run holds the journal's lock right now."""


class JournalFailed(JournalError):
    """Reading or writing the journal failed: disk full, read-only, damaged pages."""


class RemoteError(BulkpatchError):
    """Talking to the API failed."""


class TransportError(RemoteError):
    """No HTTP answer at all: connection refused or dropped, TLS refused, or a timeout."""


class ForeignURLError(RemoteError):
    """The server pointed outside the base URL (a next page elsewhere): never followed."""
