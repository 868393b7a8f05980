"""What a journal belongs to: one version of one job file, one target, one organisation, and
the latest Retry-After any run of it was given (the ``meta`` table)."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

from bulkpatch.errors import JournalError
from bulkpatch.journal.statements import Statements
from bulkpatch.journal.values import JobBinding


class Binding(Statements):
    """The journal's ``meta``: what it is bound to (the :class:`~bulkpatch.journal.Journal` is one)."""

    #: The changed job's hash and separator, written with its rows by ``sync_rows``.
    _rebind: dict[str, str]

    @property
    def meta(self) -> dict[str, str]:
        """What the journal belongs to: job path, hash, format, target, row count, schema."""
        return dict(self._read("SELECT key, value FROM meta"))

    def bind(self, job: JobBinding, *, force: bool) -> bool:
        """Tie the journal to this job file and target; return True when resuming.

        A journal of another target is refused: a row succeeded on one site says nothing of
        another, and so is another job file (its path and bytes both other): one journal, one
        job. A changed version of the job file needs ``force``.
        """
        meta = self.meta
        known_target = meta.get("target")
        if known_target is not None and known_target != job.target:
            raise JournalError(
                f"the journal {self.path} records a run against {_shown(known_target)}, not "
                f"{_shown(job.target)}; its outcomes hold only there. Use another --journal "
                "for this target (a --sandbox run has its own by default)"
            )
        changed = self.job_changed(job)
        known_path = meta.get("job_path")
        if changed and known_path is not None and _another_file(known_path, job.path):
            # Not a new version of the job but another job: --force would sync its rows over
            # this one's, and undo would then mix the two.
            raise JournalError(
                f"the journal {self.path} holds the outcomes of another job file, "
                f"{known_path}, not {job.path}: one journal, one job. Give this "
                "job a new --journal"
            )
        if changed and not force:
            known = meta.get("job_delimiter", ",")
            what = (
                f"was read with cells separated by {known!r}, not {job.delimiter!r} (the same "
                "bytes give other rows)"
                if meta["job_hash"] == job.sha256
                else "has changed since"
            )
            raise JournalError(
                f"the journal {self.path} belongs to a different version of the job file "
                f"(it was made for {meta.get('job_path')}); the file {what}. "
                "Pass --force to continue with the changed file (rows whose meeting or "
                "changes differ are sent again), or use a new --journal"
            )
        version = {"job_hash": job.sha256, "job_delimiter": job.delimiter}
        if changed and self._read("SELECT 1 FROM rows LIMIT 1"):
            # The rows are the old file's until sync_rows has matched them: a run killed before
            # then must find the job changed again, not take old rows for the new file's.
            self._rebind, version = version, {}
        self._set_meta(
            job_path=job.path,
            job_format=job.format,
            target=job.target,
            job_rows=str(job.rows),
            row_key=meta.get("row_key") or secrets.token_hex(16),
            **version,
        )
        return "job_hash" in meta

    def job_changed(self, job: JobBinding) -> bool:
        """Whether the journal was made for other rows: other bytes, or read another way."""
        meta = self.meta
        if "job_hash" not in meta:
            return False
        read_as = meta.get("job_delimiter", ",")
        return meta["job_hash"] != job.sha256 or read_as != job.delimiter

    def bind_org(self, org_id: str) -> None:
        """Tie the journal to the token's organisation: one base URL serves every one of them.

        A row that succeeded in one organisation's site says nothing of another's.
        """
        known = self.meta.get("org_id")
        if known is not None and known != org_id:
            raise JournalError(
                f"the journal {self.path} records runs for the organisation {known}, and this "
                f"token belongs to {org_id}; its outcomes hold only there. Use the token of "
                "that organisation, or another --journal for this one"
            )
        if known is None:
            self._set_meta(org_id=org_id)

    def require_no_org(self, why: str) -> None:
        """Refuse to go on when the journal is bound to an organisation the token cannot show."""
        known = self.meta.get("org_id")
        if known is not None:
            raise JournalError(
                f"the journal {self.path} records runs for the organisation {known}, and "
                f"{why}: its outcomes may not hold for this token. Use a token that may read "
                "its own person (GET /v1/people/me), or another --journal"
            )

    @property
    def paused_until(self) -> datetime | None:
        """The latest Retry-After moment any run was given: a resumed run waits for it too."""
        value = self.meta.get("paused_until")
        return datetime.fromisoformat(value) if value else None

    def note_pause(self, until: datetime) -> None:
        """Remember a Retry-After moment (kept only if later than the one known)."""
        known = self.paused_until
        if known is None or until > known:
            self._set_meta(paused_until=until.isoformat())

    def _set_meta(self, **values: str) -> None:
        self._write_many("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))


def _shown(target: str) -> str:
    return "the sandbox (bulkpatch's emulator)" if target == "sandbox" else target


def _another_file(known: str, given: str) -> bool:
    """Whether the job file a journal was made for is still there, and another file than the
    one given now. A job moved, renamed, replaced (a ConfigMap's new folder) or reached by
    another name (a hard link, another letter case) is the same job: ``--force`` goes on."""
    try:
        return not Path(known).samefile(given)
    except OSError:
        return False  # the journal's job file is gone: this may be it, moved
